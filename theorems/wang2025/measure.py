"""Measure, in float64, every quantity the wang2025 checks read on one seed's two trained
networks (docs/theory/wang2025.md): per-class alignment (head and tail means), the NC3 distance,
convergence, tail-class test accuracy, the Chernoff-exponent identity of our stand-in and the
SLERP identities."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize_scalar

from nc_jax.metrics import class_stats
from nc_jax.metrics.alignment import class_alignment, nc3_distance, per_class_accuracy, slerp
from nc_jax.metrics.etf import centred_class_means

PARTS = ("plain", "aligned")
PER_PART = (
    "align_head",
    "align_tail",
    "align_head_samples",
    "align_tail_samples",
    "nc3",
    "change",
    "tail_accuracy",
)


class Split(NamedTuple):
    """A training set x (N, D) float64, y (N,) and a test set (None for the UFM)."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None


QUADRATURE_POINTS = 40001  # trapezoid nodes over the mean +- 14 standard deviations


def chernoff_1d(gap: float, variance: float) -> float:
    """-min_lambda log int p_1^lambda p_2^(1-lambda) dx for two 1-D Gaussians with means gap
    apart and a common variance, computed numerically (trapezoid rule, bounded Brent search);
    the closed form is gap^2 / (8 variance)."""
    sd = math.sqrt(variance)
    x = np.linspace(-14 * sd, gap + 14 * sd, QUADRATURE_POINTS)
    log_p1 = -0.5 * x**2 / variance
    log_p2 = -0.5 * (x - gap) ** 2 / variance
    norm = -0.5 * math.log(2 * math.pi * variance)

    def log_integral(lam: float) -> float:
        return float(np.log(np.trapezoid(np.exp(lam * log_p1 + (1 - lam) * log_p2 + norm), x)))

    best = minimize_scalar(
        log_integral, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-10}
    )
    return -float(best.fun)


def exponent_ratio(w: np.ndarray, delta: np.ndarray, sigma: np.ndarray) -> float:
    """E(w) / E_opt in closed form: (w.delta)^2 / ((w' Sigma w)(delta' Sigma^-1 delta)), the
    squared cosine of Sigma^{1/2} w and Sigma^{-1/2} delta (Cauchy-Schwarz)."""
    return float((w @ delta) ** 2 / ((w @ sigma @ w) * (delta @ np.linalg.solve(sigma, delta))))


def chernoff_error(w: np.ndarray, delta: np.ndarray, sigma: np.ndarray) -> float:
    """|E_num(w) / E_opt - closed-form ratio| with E_num the numerical Chernoff exponent of the
    projected test <w, x> and E_opt = delta' Sigma^-1 delta / 8."""
    numeric = chernoff_1d(abs(float(w @ delta)), float(w @ sigma @ w))
    optimum = float(delta @ np.linalg.solve(sigma, delta)) / 8
    return abs(numeric / optimum - exponent_ratio(w, delta, sigma))


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between unit vectors a and b, stable near 0 and pi."""
    return 2 * math.atan2(np.linalg.norm(a - b), np.linalg.norm(a + b))


def slerp_errors(rows: np.ndarray, targets: np.ndarray, t: float) -> dict[str, float]:
    """SLERP of every classifier row towards its centred class mean: the largest | ||s_t|| - 1 |
    and |angle(s_t, w^) - t omega| over classes, and the smallest sin(omega)."""
    norm_errors, angle_errors, sines = [], [], []
    for a, b in zip(rows, targets):
        a_unit, b_unit = a / np.linalg.norm(a), b / np.linalg.norm(b)
        omega = _angle(a_unit, b_unit)
        s = np.asarray(slerp(jnp.asarray(a), jnp.asarray(b), t))
        norm_errors.append(abs(np.linalg.norm(s) - 1))
        angle_errors.append(abs(_angle(s / np.linalg.norm(s), a_unit) - t * omega))
        sines.append(math.sin(omega))
    return {
        "slerp_norm_error": max(norm_errors),
        "slerp_angle_error": max(angle_errors),
        "slerp_sin_omega": min(sines),
    }


def _part(model: Any, params: Any, split: Split, num_classes: int) -> dict[str, Any]:
    """Alignment (both centres), NC3 distance and tail test accuracy of one trained network;
    also its classifier ``w`` and class statistics ``stats`` (the last layer reads the layer
    before it)."""
    _, layers = model.apply(params, jnp.asarray(split.x))
    w = layers.weights[-1]
    stats = class_stats(layers.features[-2], jnp.asarray(split.y), num_classes)
    half = num_classes // 2
    out: dict[str, Any] = {"w": w, "stats": stats}
    for centre, suffix in (("classes", ""), ("samples", "_samples")):
        align = np.asarray(class_alignment(w, stats, centre))
        out[f"align_head{suffix}"] = float(align[:half].mean())
        out[f"align_tail{suffix}"] = float(align[-half:].mean())
    out["nc3"] = float(nc3_distance(w, centred_class_means(stats, "classes")))
    out["tail_accuracy"] = math.nan
    if split.x_test is not None:
        scores, _ = model.apply(params, jnp.asarray(split.x_test))
        accuracy = per_class_accuracy(scores, jnp.asarray(split.y_test), num_classes)
        out["tail_accuracy"] = float(np.mean(np.asarray(accuracy)[-half:]))
    return out


def run_quantities(
    setting: Any, model: Any, trained: dict[str, Any], r: int, split: Split, seed: int
) -> dict[str, float]:
    """The quantities of run ``r`` from the trained results of both parts (``model`` the
    network without the regulariser: the same parameters and forward pass)."""
    k = setting.num_classes
    half = k // 2
    tail_tests = 0 if split.y_test is None else int(np.sum(split.y_test >= k - half))
    values: dict[str, float] = {
        "imbalance_ratio": float(setting.imbalance_ratio),
        "beta": float(setting.beta),
        "tail_test_samples": float(tail_tests),
    }
    for part in PARTS:
        params = jax.tree_util.tree_map(lambda leaf: leaf[r], trained[part].state.params)
        objective = np.asarray(trained[part].trajectory["objective"][r], np.float64)
        measured = _part(model, params, split, k)
        values |= {f"{name}_{part}": measured[name] for name in PER_PART if name != "change"}
        values[f"change_{part}"] = float(abs(objective[-1] - objective[-2]) / abs(objective[-1]))
        if part == "plain":
            plain = measured
            values["accuracy_plain"] = float(trained[part].trajectory["accuracy"][r][-1])
    w = np.asarray(plain["w"], np.float64)
    means = np.asarray(plain["stats"].means, np.float64)
    delta, pair = means[0] - means[-1], w[0] - w[-1]
    delta, pair = delta / np.linalg.norm(delta), pair / np.linalg.norm(pair)
    a = np.random.default_rng([seed, 7]).normal(size=(len(delta), len(delta)))
    sigma = a @ a.T / len(delta) + 0.1 * np.eye(len(delta))
    values["chernoff_error"] = max(
        chernoff_error(pair, delta, sigma), chernoff_error(pair, delta, 0.5 * np.eye(len(delta)))
    )
    values["sigma_min_eig"] = float(np.linalg.eigvalsh(sigma)[0])
    values["exponent_ratio_head_tail"] = exponent_ratio(pair, delta, np.eye(len(delta)))
    centred = np.asarray(centred_class_means(plain["stats"], "classes"), np.float64)
    return values | slerp_errors(w, centred, setting.slerp_t)
