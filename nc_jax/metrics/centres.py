"""Multiple centres per class: a fixed classifier whose class i owns f_i unit directions.

The construction (docs/theory/yan2024.md, "Centres"): for K classes with f_i centres each,

    W_ij = cos(theta) v_ij + sin(theta) w_i,        j = 1..f_i,

with {w_i} the unit simplex ETF of K directions (<w_i, w_i'> = -1/(K-1)) and {v_ij} orthonormal
and orthogonal to span{w}; theta in radians. Then, to rounding,

- ||W_ij|| = 1; <W_ij, W_ij'> = sin^2 theta (j != j'); <W_ij, W_i'j'> = -sin^2 theta / (K-1);
- the mean of class i's centres cbar_i = cos(theta) vbar_i + sin(theta) w_i has
  ||cbar_i||^2 = cos^2 theta / f_i + sin^2 theta and <cbar_i, cbar_i'> = -sin^2 theta / (K-1).

Needs d >= K + sum_i f_i (one orthonormal basis holds the ETF's span and every v_ij). Rows are
centres: the centre matrix is (F, d) with F = sum_i f_i, class-major.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics.etf import centring_matrix
from nc_jax.metrics.stats import class_stats


class MultiCentres(NamedTuple):
    """Centres of K classes.

    Attributes:
        centres: (F, d) rows W_ij, class-major (class 0's f_0 rows first).
        owner: (F,) the class i of each row.
        directions: (K, d) the unit simplex ETF rows w_i.
    """

    centres: jax.Array
    owner: jax.Array
    directions: jax.Array


def multi_centres(
    key: jax.Array, counts: Sequence[int], theta: float, dim: int, dtype=jnp.float64
) -> MultiCentres:
    """W_ij = cos(theta) v_ij + sin(theta) w_i for f_i = counts[i] centres of class i, drawn
    from ``key`` (a random orthonormal basis of R^dim: its first K vectors carry the ETF, the
    next F the v_ij).

    Args:
        key: PRNG key of the basis.
        counts: (f_0, ..., f_{K-1}), each >= 1, K >= 2.
        theta: the angle between each centre and the ETF's span complement, radians.
        dim: d >= K + sum(counts).
    """
    counts = [int(f) for f in counts]
    num_classes, total = len(counts), sum(counts)
    if num_classes < 2 or min(counts) < 1:
        raise ValueError(f"counts must give K >= 2 classes with >= 1 centre each, got {counts}")
    if dim < num_classes + total:
        raise ValueError(
            f"dim must be >= K + sum(counts) = {num_classes + total} (the ETF's span and every "
            f"v_ij orthonormal), got {dim}"
        )
    basis, _ = jnp.linalg.qr(jax.random.normal(key, (dim, num_classes + total), dtype))
    etf = centring_matrix(num_classes, dtype) @ basis[:, :num_classes].T
    directions = etf * math.sqrt(num_classes / (num_classes - 1))
    owner = np.repeat(np.arange(num_classes), counts)
    centres = math.cos(theta) * basis[:, num_classes:].T + math.sin(theta) * directions[owner]
    return MultiCentres(centres, jnp.asarray(owner), directions)


def centre_means(centres: MultiCentres) -> jax.Array:
    """cbar_i, the mean of class i's centres, (K, d)."""
    return class_stats(centres.centres, centres.owner, centres.directions.shape[0]).means


def mean_norm_sq(theta: float, counts: Sequence[int]) -> np.ndarray:
    """||cbar_i||^2 = cos^2 theta / f_i + sin^2 theta, (K,), the closed form."""
    return math.cos(theta) ** 2 / np.asarray(counts, np.float64) + math.sin(theta) ** 2


def gram_residuals(centres: MultiCentres, theta: float) -> dict[str, float]:
    """Largest deviations of the centre Gram matrix and of the centre means from their closed
    forms: ``norm`` (|<W_ij, W_ij> - 1|), ``same_class`` (|<W_ij, W_ij'> - sin^2 theta|),
    ``cross_class`` (|<W_ij, W_i'j'> + sin^2 theta / (K-1)|) and ``mean_norm``
    (|(||cbar_i||^2 - closed form)| / closed form); a same-class entry is 0 when no class has
    two centres."""
    num_classes = centres.directions.shape[0]
    gram = np.asarray(centres.centres @ centres.centres.T, np.float64)
    owner = np.asarray(centres.owner)
    same = (owner[:, None] == owner[None, :]) & ~np.eye(len(owner), dtype=bool)
    cross = owner[:, None] != owner[None, :]
    s2 = math.sin(theta) ** 2
    means = np.asarray(centre_means(centres), np.float64)
    counts = np.bincount(owner, minlength=num_classes)
    predicted = mean_norm_sq(theta, counts)
    return {
        "norm": float(np.max(np.abs(np.diag(gram) - 1.0))),
        "same_class": float(np.max(np.abs(gram[same] - s2), initial=0.0)),
        "cross_class": float(np.max(np.abs(gram[cross] + s2 / (num_classes - 1)))),
        "mean_norm": float(np.max(np.abs(np.sum(means**2, axis=1) - predicted) / predicted)),
    }
