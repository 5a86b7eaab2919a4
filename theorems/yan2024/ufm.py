"""Our stand-in loss (i) trained in the UFM: free features h_n, one per training sample, read by
the fixed centres of their own class only (docs/theory/yan2024.md, E1-b).

The free features are a bias-free linear layer on the identity input (``nc_jax.models.MLP``
with one layer of width d on ``ufm_inputs(N)``: output row n is h_n). ``OwnCentreHead`` turns
them into the F centre scores <W_ij, h_n> masked to the sample's own class (the identity input
selects each sample's row of the mask), so the engine's MSE (reduction "sum") against the mask
as targets plus its coupled weight decay lambda on H is

    sum_n [1/2 sum_{j <= f_{y_n}} (<W_{y_n j}, h_n> - 1)^2 + lambda/2 ||h_n||^2],

half of stand-in (i) per sample: the same minimiser, f_i cbar_i / (cos^2 theta + f_i sin^2 theta
+ lambda). Full-batch GD on it is GD on a strongly convex quadratic whose Hessian eigenvalues lie
in [lambda, max_i (cos^2 theta + f_i sin^2 theta) + lambda].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks.bucket import diverged_steps
from nc_jax.metrics.centres import MultiCentres, centre_means
from nc_jax.models import MLP
from nc_jax.models.base import Layers, Params
from nc_jax.models.ufm import ufm_inputs
from nc_jax.models.wrapper import Wrapped
from nc_jax.train import TrainConfig, init_runs, make_regression_data
from theorems.yan2024.measure import own_centre_closed_form

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext


@dataclass(frozen=True)
class OwnCentreHead(Wrapped):
    """Free features read by fixed centres, masked to each sample's own class: output
    (H M^T) * mask (N, F) on the identity input.

    Attributes:
        centres: the centre rows W_ij (F rows of d floats; tuples: models are hashable).
        mask: per sample n, 1 on its own class's centres and 0 elsewhere (N rows of F).
    """

    centres: tuple[tuple[float, ...], ...]
    mask: tuple[tuple[float, ...], ...]

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        features, layers = self.model.apply(params, x)
        scores = features @ jnp.asarray(self.centres, features.dtype).T
        return scores * (x @ jnp.asarray(self.mask, features.dtype)), layers


def contraction(centres: Sequence[int], theta: float, ridge: float, lr: float) -> float:
    """max(|1 - eta lambda|, |1 - eta L|), L = max_i (cos^2 theta + f_i sin^2 theta) + lambda:
    the factor by which one GD step shrinks the distance to the optimum."""
    top = max(math.cos(theta) ** 2 + f * math.sin(theta) ** 2 for f in centres) + ridge
    return max(abs(1 - lr * ridge), abs(1 - lr * top))


def train_own_centre_ufm(
    setting: Any, centres: MultiCentres, y: np.ndarray, seeds: np.ndarray, context: TrainContext
) -> tuple[list[float], list[int | None]]:
    """Train the stand-in (i) UFM of every seed (weight decay = the setting's ridge, learning
    rate ``ufm_learning_rate``, ``steps`` full-batch GD steps, float64); per run the relative
    Frobenius distance ||H_T - H*|| / ||H*|| to the closed form, and the diverged steps."""
    owner = np.asarray(centres.owner)
    mask = (owner[None, :] == y[:, None]).astype(np.float64)
    matrix = np.asarray(centres.centres, np.float64)
    means = np.asarray(centre_means(centres))
    counts = np.bincount(owner)
    optimum = np.stack(
        [own_centre_closed_form(means[k], counts[k], setting.theta, setting.ridge) for k in y]
    )
    model = OwnCentreHead(
        MLP((matrix.shape[1],), num_linear=1),
        tuple(map(tuple, matrix.tolist())),
        tuple(map(tuple, mask.tolist())),
    )
    config = TrainConfig(
        steps=setting.steps, log_every=setting.log_every, loss="mse", reduction="sum", metrics=False
    )
    lrs = np.full(len(seeds), setting.ufm_learning_rate)
    wds = np.full(len(seeds), setting.ridge)
    inputs = ufm_inputs(len(y), jnp.float64)
    start = init_runs(model, config, len(y), lrs, wds, seeds, jnp.float64)
    trained = context.train(model, config, make_regression_data(inputs, mask, jnp.float64), start)
    features = jax.vmap(lambda params: model.model.apply(params, inputs)[0])(trained.state.params)
    gaps = np.linalg.norm(np.asarray(features, np.float64) - optimum, axis=(1, 2))
    distances = [float(gap / np.linalg.norm(optimum)) for gap in gaps]
    return distances, diverged_steps(trained.trajectory)
