"""The long-tailed classification setting: class counts, a disjoint train/test split, and two
model wrappers that change the training objective (docs/theory/yan2024.md, wang2025.md).

- ``long_tail_counts``: n_k = round(n_max ratio^{-k/(K-1)}), class 0 the head, class K-1 the
  tail (ratio = n_0 / n_{K-1}, the imbalance ratio; 1 is balanced);
- ``long_tail_split``: the first n_k samples of class k for training and its last ``n_test``
  for testing (disjoint, balanced test set);
- ``UnitOutput``: the wrapped model's output divided by its norm, row by row. Trained with the
  engine's MSE against unit targets t_i, 1/2 ||u_i - t_i||^2 = 1 - cos(z_i, t_i): a cosine loss
  towards fixed target directions, a fixed (non-trained) classifier living in the targets;
- ``AlignmentPenalty``: adds beta sum_k (1 - cos(w_k, mu~_k)) to the objective, w_k the rows of
  the last layer's weight and mu~_k the centred class means of the features it reads
  (``metrics.alignment.alignment_gap``). The means are held constant in the gradient
  (stop_gradient), so the term moves the classifier towards the class means, as a regulariser
  with running (EMA) class means does. The wrapper holds the training labels, so it needs the
  full batch: the engine's forward pass sees the N training samples in order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.data import Dataset
from nc_jax.metrics.alignment import alignment_gap
from nc_jax.metrics.etf import centred_class_means
from nc_jax.metrics.stats import class_stats
from nc_jax.models.base import Layers, Params
from nc_jax.models.wrapper import Wrapped


def long_tail_counts(num_classes: int, n_max: int, ratio: float) -> np.ndarray:
    """(K,) ints n_k = max(1, round(n_max ratio^{-k/(K-1)})), k = 0..K-1: n_0 = n_max and
    n_{K-1} = n_max / ratio (rounded)."""
    if num_classes < 2 or n_max < 1 or not (math.isfinite(ratio) and ratio >= 1):
        raise ValueError(
            f"need K >= 2, n_max >= 1 and a finite ratio >= 1; got {num_classes}, {n_max}, {ratio}"
        )
    exponents = np.arange(num_classes) / (num_classes - 1)
    return np.maximum(1, np.rint(n_max * float(ratio) ** -exponents)).astype(int)


def long_tail_split(ds: Dataset, counts: Sequence[int], n_test: int) -> tuple[Dataset, Dataset]:
    """(train, test): the first counts[k] samples of class k and its last ``n_test`` samples,
    each ordered by class. Raises ValueError when a class has fewer than counts[k] + n_test."""
    available = ds.class_counts()
    if len(counts) != ds.num_classes or np.any(np.asarray(counts) + n_test > available):
        raise ValueError(
            f"counts {list(counts)} plus {n_test} test samples per class exceed the class "
            f"counts {available.tolist()} of {ds.name}"
        )
    members = [np.flatnonzero(ds.y == k) for k in range(ds.num_classes)]
    train = np.concatenate([m[:count] for m, count in zip(members, counts)])
    test = np.concatenate([m[len(m) - n_test :] for m in members])
    return tuple(
        Dataset(ds.x[i], ds.y[i], ds.num_classes, ds.name, f"{ds.provenance}; {part} {note}")
        for i, part, note in (
            (train, "train", f"{list(counts)} per class"),
            (test, "test", f"last {n_test} per class"),
        )
    )


@dataclass(frozen=True)
class UnitOutput(Wrapped):
    """``model`` with its output divided by its norm, z_i / ||z_i||, row by row (the records of
    the wrapped model are unchanged). Every other attribute is the wrapped model's
    (models.wrapper.Wrapped)."""

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        output, layers = self.model.apply(params, x)
        return output / jnp.linalg.norm(output, axis=1, keepdims=True), layers


@dataclass(frozen=True)
class AlignmentPenalty(Wrapped):
    """``model`` with beta sum_k (1 - cos(w_k, mu_k - centre)) added to its objective; every
    other attribute is the wrapped model's (models.wrapper.Wrapped).

    Attributes:
        model: the wrapped model; its last layer's weight (K, d) reads the features of the
            layer before it (``Layers.features[-2]``).
        labels: the N training labels in the order the engine passes the samples (a tuple:
            models are hashable).
        beta: the strength (>= 0).
    """

    labels: tuple[int, ...]
    beta: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"beta must be finite and >= 0, got {self.beta}")

    def penalty(
        self, params: Params, x: jax.Array, layers: Layers, weight_decay: jax.Array
    ) -> jax.Array:
        """beta sum_k (1 - cos(w_k, mu_k - mean_k mu_k)), the class means of the full training
        set (the mean of the class means as centre) held constant; ``params``, ``x`` and
        ``weight_decay`` are not read."""
        features = layers.features[-2]
        if features.shape[0] != len(self.labels):
            raise ValueError(
                f"AlignmentPenalty holds {len(self.labels)} labels but the forward pass has "
                f"{features.shape[0]} samples: it needs full-batch training"
            )
        stats = class_stats(features, np.asarray(self.labels), self.model.num_outputs)
        centred = jax.lax.stop_gradient(centred_class_means(stats, "classes"))
        return self.beta * alignment_gap(layers.weights[-1], centred)
