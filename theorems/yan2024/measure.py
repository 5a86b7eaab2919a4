"""Measure, in float64, every quantity the yan2024 checks read (docs/theory/yan2024.md): the
centres' Gram identities, the optima of our two stand-in MSE losses on the fixed centres, and
the per-class collapse of a trained network's features to the mean of its class's centres."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics.alignment import collapse_summary, direction_collapse
from nc_jax.metrics.centres import MultiCentres, centre_means, gram_residuals


def own_centre_optimum(centres: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_h sum_j (<W_j, h> - 1)^2 + ridge ||h||^2 over one class's centres W (f, d):
    (W'W + ridge I)^{-1} W' 1, solved numerically, (d,)."""
    gram = centres.T @ centres + ridge * np.eye(centres.shape[1])
    return np.linalg.solve(gram, centres.T @ np.ones(centres.shape[0]))


def own_centre_closed_form(mean: np.ndarray, count: int, theta: float, ridge: float) -> np.ndarray:
    """The stand-in (i) optimum in closed form: f cbar / (cos^2 theta + f sin^2 theta + ridge)
    (the own-class Gram cos^2 theta I + sin^2 theta J has the eigenvector 1)."""
    return count * mean / (math.cos(theta) ** 2 + count * math.sin(theta) ** 2 + ridge)


def all_centre_optima(centres: np.ndarray, owner: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_h sum_{all (i, j)} (<W_ij, h> - [i = k])^2 + ridge ||h||^2 for every class k:
    (K, d) rows (M'M + ridge I)^{-1} M' y_k."""
    num_classes = int(owner.max()) + 1
    gram = centres.T @ centres + ridge * np.eye(centres.shape[1])
    targets = (owner[None, :] == np.arange(num_classes)[:, None]).astype(np.float64)
    return np.linalg.solve(gram, centres.T @ targets.T).T


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def centre_quantities(centres: MultiCentres, theta: float, ridge: float) -> dict[str, float]:
    """E1-a, E1-b and E1-c on the centres: the largest Gram residual, the largest relative
    distance of the stand-in (i) optimum from its closed form, and the stand-in (ii) gap
    1 - cos(h*_k, cbar_k) (smallest and largest over classes), with the cross-class coupling
    sin^2 theta / (K - 1) that causes it."""
    matrix, owner = np.asarray(centres.centres), np.asarray(centres.owner)
    means = np.asarray(centre_means(centres))
    deviations = []
    for k, mean in enumerate(means):
        own = matrix[owner == k]
        closed = own_centre_closed_form(mean, len(own), theta, ridge)
        deviations.append(
            np.linalg.norm(own_centre_optimum(own, ridge) - closed) / np.linalg.norm(closed)
        )
    gaps = 1 - _cosines(all_centre_optima(matrix, owner, ridge), means)
    return {
        "gram_residual": max(gram_residuals(centres, theta).values()),
        "own_centre_deviation": float(max(deviations)),
        "all_centre_gap_min": float(gaps.min()),
        "all_centre_gap_max": float(gaps.max()),
        "coupling": math.sin(theta) ** 2 / (len(means) - 1),
    }


def _collapse(model: Any, params: Any, x: np.ndarray, y: np.ndarray, means: np.ndarray):
    output, _ = model.model.apply(params, jnp.asarray(x))
    return np.asarray(direction_collapse(output, jnp.asarray(y), jnp.asarray(means), len(means)))


def trained_quantities(
    model: Any, start: Any, trained: Any, r: int, x: np.ndarray, y: np.ndarray, means: np.ndarray
) -> dict[str, float]:
    """E1-d on run ``r``: NC_ave and NC_std of 1 - cos(h, cbar_y) over classes after training,
    NC_ave at initialisation, the tail class's value and the final training loss (the
    sample-weighted mean of 1 - cos(h, cbar_y))."""
    take = lambda tree: jax.tree_util.tree_map(lambda leaf: leaf[r], tree)  # noqa: E731
    per_class = _collapse(model, take(trained.state.params), x, y, means)
    nc_ave, nc_std = collapse_summary(jnp.asarray(per_class))
    return {
        "nc_ave": float(nc_ave),
        "nc_std": float(nc_std),
        "nc_ave_init": float(np.mean(_collapse(model, take(start.params), x, y, means))),
        "nc_tail": float(per_class[-1]),
        "train_loss": float(trained.trajectory["loss"][r][-1]),
    }
