"""Float64 measurements of Sukenik, Lampert, Mondelli (2025) on trained LayerNorm ResNets and
transformers (docs/theory/sukenik2025.md, "Measured quantities").

Per network (one depth, one seed): the regularised objective of the engine (mean loss +
lambda/2 sum_leaves scale ||leaf||^2), NC1-NC3 of the LN features h that the one-layer head
reads, and where those features lie relative to the LN sphere and ball (``feature_geometry``).
Per seed (its networks over the depths): the power law fit metric ~ c L^(-a) and Kendall's tau
of every metric against the depth.

Metric conventions (A4 [U]; named here, tested in tests/test_theorems_sukenik2025.py):

- NC1 = tr(Sigma_W) / tr(Sigma_B) (nc_jax.metrics.nc1_trace_ratio);
- NC2 = || G / ||G||_F - (I - J/K) / ||I - J/K||_F ||_F, G the Gram matrix of the centred class
  means (nc_jax.metrics.simplex_etf_deviation): the simplex ETF is the target for CE and for MSE
  with an unregularised bias (A2);
- NC3 = || W / ||W||_F - Mbar / ||Mbar||_F ||_F, Mbar the centred class means (K, d): the
  square root of nc_jax.metrics.self_duality_distance (A4 writes the distance unsquared).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax import metrics
from nc_jax.metrics.fits import log_linear_fit
from nc_jax.models.base import Model
from nc_jax.train import regulariser
from nc_jax.train.losses import get_loss

METRICS: tuple[str, ...] = ("nc1", "nc2", "nc3", "gap")
"""The per-depth quantities whose trend in the depth is fitted (gap = objective - J*)."""


def collapse_metrics(
    features: jax.Array, classifier: jax.Array, y: jax.Array, num_classes: int
) -> dict[str, float]:
    """NC1, NC2, NC3 (module docstring) of features (N, d) read by the classifier W (K, d)."""
    stats = metrics.class_stats(features, y, num_classes)
    centred = metrics.stats.centred_means(stats)
    return {
        "nc1": float(metrics.nc1_trace_ratio(stats)),
        "nc2": float(metrics.simplex_etf_deviation(centred)),
        "nc3": float(jnp.sqrt(metrics.self_duality_distance(classifier, centred))),
    }


def feature_geometry(features: jax.Array, radius: float) -> dict[str, float]:
    """Where the features h (N, d) lie relative to the LN image (docs/theory/sukenik2025.md,
    "Features in the ball"): radius_deviation = max_i | ||h_i|| / rho - 1 | (0 on the sphere of
    radius rho), radius_excess = max_i ||h_i|| / rho - 1 (<= 0 in the ball) and mean_deviation
    = max_i |mean_j h_ij| / rho (0 in the mean-zero subspace), rho = ``radius``."""
    ratios = jnp.linalg.norm(features, axis=1) / radius
    return {
        "radius_deviation": float(jnp.max(jnp.abs(ratios - 1))),
        "radius_excess": float(jnp.max(ratios) - 1),
        "mean_deviation": float(jnp.max(jnp.abs(jnp.mean(features, axis=1))) / radius),
    }


def network_quantities(
    model: Model,
    params: Any,
    x: jax.Array,
    y: jax.Array,
    loss: str,
    weight_decay: float,
) -> dict[str, float]:
    """The quantities of one trained network (float64 params and data) whose head is one
    linear layer (W, b) reading the LN features h (the one before last of its Layers record):
    the LN-ResNet, or the Setting's transformer.

    Args:
        model: the network (its ``depth`` the number of blocks in ``params``), with a
            ``radius`` sqrt(d).
        params: its parameters; x: (N, D) inputs; y: (N,) labels in [0, K).
        loss: the engine's loss name; its reduction here is "mean" (the Setting's).
        weight_decay: lambda of the coupled decay.

    Returns:
        objective (data_loss + penalty), data_loss, penalty (lambda/2 times the engine's
        regulariser, the model's decay multipliers included), head_penalty (lambda/2 ||W||^2),
        accuracy, the ``feature_geometry`` of h, nc1, nc2, nc3.
    """
    output, layers = model.apply(params, x)
    features, head = layers.features[-2], layers.weights[-1]
    targets = jax.nn.one_hot(y, model.num_outputs, dtype=output.dtype)
    data_loss = float(get_loss(loss)(output, targets, "mean"))
    penalty = 0.5 * weight_decay * float(regulariser(model, params))
    return {
        "objective": data_loss + penalty,
        "data_loss": data_loss,
        "penalty": penalty,
        "head_penalty": 0.5 * weight_decay * float(jnp.sum(head**2)),
        "accuracy": float(jnp.mean(jnp.argmax(output, axis=1) == y)),
        **feature_geometry(features, model.radius),
        **collapse_metrics(features, head, y, model.num_outputs),
    }


def power_law_fit(depths: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """Least squares of log(value) = log(c) - a log(L) over the depths: (a, standard error of
    a) (nc_jax.metrics.fits.log_linear_fit on log L); (NaN, NaN) when fewer than 3 depths or a
    value is not > 0, and a NaN error is never reported for a fit of 3+ points (RSS = 0 gives
    0).
    """
    fit = log_linear_fit(np.log(np.asarray(depths, dtype=float)), values)
    return -fit.slope, fit.stderr


def kendall_tau(depths: Sequence[float], values: Sequence[float]) -> float:
    """Kendall's tau-a of the values against the depths: (concordant - discordant pairs) /
    (n (n-1) / 2); -1 for a strictly decreasing profile, +1 for an increasing one, NaN for
    fewer than 2 depths or a NaN value."""
    depths, values = np.asarray(depths, float), np.asarray(values, float)
    count = len(depths)
    if count < 2 or not np.all(np.isfinite(values)):
        return math.nan
    upper = np.triu_indices(count, k=1)
    signs = np.sign(depths[:, None] - depths[None, :]) * np.sign(values[:, None] - values[None, :])
    return float(np.sum(signs[upper]) / (count * (count - 1) / 2))


def pooled_trend(exponents: Sequence[float], errors: Sequence[float]) -> tuple[float, float]:
    """The exponent of a cell over its seeds: the mean of the seeds' fitted exponents a_s and its
    standard error sqrt(max(var_s(a_s), mean_s(se_s^2)) / S), S the number of seeds with a
    finite fit: the seed-to-seed spread, never less than what the fits' own errors imply (two
    or three seeds estimate a variance poorly, and can agree by chance). NaN for S < 2."""
    a, e = np.asarray(exponents, float), np.asarray(errors, float)
    keep = np.isfinite(a) & np.isfinite(e)
    a, e = a[keep], e[keep]
    if a.size < 2:
        return math.nan, math.nan
    spread = max(float(np.var(a, ddof=1)), float(np.mean(e**2)))
    return float(np.mean(a)), math.sqrt(spread / a.size)


def with_pooled_trends(quantities: Sequence[dict[str, float]]) -> None:
    """Add to each of the trained seeds' ``quantities`` of one cell (in place), for every metric,
    ``<name>_exponent_seeds`` and ``<name>_exponent_seeds_se`` (``pooled_trend`` over them) and
    ``num_seeds``: what the depth-trend claims judge."""
    for name in METRICS:
        mean, error = pooled_trend(
            [q[f"{name}_exponent"] for q in quantities],
            [q[f"{name}_exponent_se"] for q in quantities],
        )
        for q in quantities:
            q[f"{name}_exponent_seeds"], q[f"{name}_exponent_seeds_se"] = mean, error
    for q in quantities:
        q["num_seeds"] = float(len(quantities))


def trend_quantities(
    depths: Sequence[int], per_depth: dict[str, Sequence[float]]
) -> dict[str, float]:
    """For every name of ``per_depth`` (values over ``depths``): ``<name>_exponent`` (a of the
    power law fit, > 0 when the metric decreases with depth), ``<name>_exponent_se`` and
    ``<name>_kendall``."""
    out = {}
    for name, values in per_depth.items():
        exponent, error = power_law_fit(depths, values)
        out[f"{name}_exponent"] = exponent
        out[f"{name}_exponent_se"] = error
        out[f"{name}_kendall"] = kendall_tau(depths, values)
    return out


def profile_quantities(
    depths: Sequence[int], networks: Sequence[dict[str, float]], limit_value: float
) -> dict[str, float]:
    """One seed's record from its networks' quantities (one dict per depth, in order) and the
    limit optimum J*: ``<name>[L=<depth>]`` for every network quantity and the gap, the
    trends of METRICS, ``objective_min`` (min over depths), the maxima over depths of the
    ``feature_geometry`` quantities and ``num_depths``."""
    record: dict[str, float] = {}
    per_depth: dict[str, list[float]] = {name: [] for name in METRICS}
    for depth, values in zip(depths, networks):
        values = {**values, "gap": values["objective"] - limit_value}
        record |= {f"{name}[L={depth}]": value for name, value in values.items()}
        for name in METRICS:
            per_depth[name].append(values[name])
    record |= trend_quantities(depths, per_depth)
    record["objective_min"] = min(v["objective"] for v in networks)
    for name in ("radius_deviation", "radius_excess", "mean_deviation"):
        record[name] = max(v[name] for v in networks)
    record["num_depths"] = len(depths)
    return record
