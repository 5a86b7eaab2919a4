"""The float64 measurements of Munn, Dherin, Gonzalvo (NeurIPS 2024) on one trained network
(docs/theory/munn2024.md): geometric complexity (GC), CDNV and geometric collapse on the
training set, the Monte-Carlo terms of the Poincare stand-in (E6-a) and of the NCC bound
(E6-d), the linear equality case (E6-b), the three GC estimators (E6-c) and the transfer to
held-out classes (E6-f); ``cross_run`` gives the cell-level rank correlations (E6-e, E6-f).

Shapes: x (N, D) inputs, y (N,) labels (NumPy: the class sizes fix shapes), features (N, p),
per-sample values (N,). Standard errors are those of a mean of independent samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks.cross_run import spearman, spread_ratio
from nc_jax.metrics import ClassStats, class_stats, nc1_cdnv, within_class_variances
from nc_jax.metrics import complexity as cx
from nc_jax.metrics.stats import pairwise_sq_distances

POINCARE = ("poincare_var", "poincare_cgc", "poincare_se", "pair_cdnv", "pair_cgcol", "pair_se")
POINCARE += ("pair_trivial",)


class Split(NamedTuple):
    """Inputs (N, D) and labels (N,) of one part of the data."""

    x: np.ndarray
    y: np.ndarray


class Parts(NamedTuple):
    """A cell's data: ``train`` (source classes 0..S-1), ``test`` (the source classes, drawn
    independently of train), ``target`` (the held-out classes, relabelled 0..K-S-1)."""

    train: Split
    test: Split
    target: Split


class Options(NamedTuple):
    """What the measurement reads of the Setting: the Poincare constant C = sigma^2 of the
    Gaussian classes (None: not Gaussian), the z of the Monte-Carlo margins, the estimators'
    draws, batch and mask probability, and the few-shot shots and episodes."""

    constant: float | None
    z: float
    draws: int
    batch: int
    keep: float
    shots: int
    episodes: int


def _mean_and_se(values: jax.Array, y: np.ndarray, k: int) -> tuple[jax.Array, jax.Array]:
    """Per class, the mean of per-sample ``values`` and its standard error: (K,) each."""
    counts = jnp.asarray(np.bincount(y, minlength=k), values.dtype)
    mean = cx.class_means_of(values, jnp.asarray(y), k)
    spread = cx.class_means_of((values - mean[y]) ** 2, jnp.asarray(y), k) * counts / (counts - 1)
    return mean, jnp.sqrt(spread / counts)


def _inverse_distances(means: jax.Array) -> jax.Array:
    """1 / ||mu_i - mu_j||^2 off the diagonal, 0 on it: (K, K)."""
    eye = jnp.eye(means.shape[0], dtype=bool)
    return jnp.where(eye, 0.0, 1.0 / jnp.where(eye, 1.0, pairwise_sq_distances(means)))


def poincare_terms(features, sq_norms, y: np.ndarray, k: int, constant: float, z: float):
    """E6-a: the worst class's Var_c, C GC_c and the standard error of Var_c - C GC_c (worst:
    largest Var_c / (C GC_c + z se_c)); Avg_{i != j} V_ij, C Avg GCol_ij and the standard error
    of their difference (per-sample weight sum_{j != c} 1 / (K (K-1) ||mu_c - mu_j||^2))."""
    stats = class_stats(features, jnp.asarray(y), k)
    means = stats.means
    residual = jnp.sum(stats.residual**2, axis=1)
    var = within_class_variances(stats)
    cgc = constant * cx.class_means_of(sq_norms, jnp.asarray(y), k)
    _, gap_se = _mean_and_se(residual - constant * sq_norms, y, k)
    worst = jnp.argmax(var / (cgc + z * gap_se))
    weight = jnp.sum(_inverse_distances(means), axis=1) / (k * (k - 1))
    _, pair_se = _mean_and_se(weight[y] * (residual - constant * sq_norms), y, k)
    return {
        "poincare_var": var[worst],
        "poincare_cgc": cgc[worst],
        "poincare_se": gap_se[worst],
        "pair_cdnv": nc1_cdnv(stats),
        "pair_cgcol": cx.geometric_collapse(cgc, means),
        "pair_se": jnp.sqrt(jnp.sum(pair_se**2)),
        "pair_trivial": features.shape[1] * cx.pair_average(_inverse_distances(means)),
    }


def ncc_terms(train_means: jax.Array, features: jax.Array, y: np.ndarray, k: int):
    """E6-d on test features: the class-balanced error of the NCC with the training set's class
    means, the bound 4 (K-1) Avg_{i != j} V'_ij (Var'_c: mean ||f(x) - mu_c||^2 over the test
    samples of c, around the training means) and the standard error of error - bound."""
    residual = jnp.sum((features - train_means[y]) ** 2, axis=1)
    bound = 4.0 * residual * jnp.sum(_inverse_distances(train_means), axis=1)[y]
    wrong = (cx.ncc_predict(features, train_means) != jnp.asarray(y)).astype(features.dtype)
    error, _ = _mean_and_se(wrong, y, k)
    bound_c, _ = _mean_and_se(bound, y, k)
    _, gap_se = _mean_and_se(wrong - bound, y, k)
    return {
        "ncc_error": jnp.mean(error),
        "ncc_bound": jnp.mean(bound_c),
        "ncc_se": jnp.sqrt(jnp.sum(gap_se**2)) / k,
    }


def linear_terms(a: jax.Array, x: jax.Array, sigma2: float) -> dict[str, jax.Array]:
    """E6-b for f(x) = A x (A (p, D)) and x ~ N(m, Sigma = sigma^2 I): Var = tr(A Sigma A^T)
    in closed form, C = lambda_max(Sigma) and C GC(f, x) with GC from the Jacobians of f."""
    sigma = sigma2 * jnp.eye(a.shape[1], dtype=a.dtype)
    constant = jnp.linalg.eigvalsh(sigma)[-1]
    return {
        "linear_var": jnp.trace(a @ sigma @ a.T),
        "linear_cgc": constant * cx.geometric_complexity(lambda v: a @ v, x),
        "linear_norm": jnp.sum(a**2),
    }


def estimator_terms(embed: cx.Embedding, x: jax.Array, key: jax.Array, options: Options):
    """E6-c: the mean and standard error of ``options.draws`` draws of each estimator of
    GC(f, x) (batches of ``options.batch`` rows; mask probability ``options.keep``)."""
    draws = {
        "batch": lambda k: cx.gc_batch_estimate(embed, x, k, options.batch),
        "mask": lambda k: cx.gc_mask_estimate(embed, x, k, options.batch, options.keep),
        "output": lambda k: cx.gc_output_estimate(embed, x, k, options.batch),
    }
    keys = jax.random.split(key, options.draws)
    out = {}
    for name, estimator in draws.items():
        values = jax.lax.map(estimator, keys, batch_size=min(options.draws, 50))
        out[f"est_{name}_mean"] = jnp.mean(values)
        out[f"est_{name}_se"] = jnp.std(values, ddof=1) / math.sqrt(options.draws)
    return out


def training_terms(output: jax.Array, stats: ClassStats, sq_norms: jax.Array):
    """Training accuracy, GC, CDNV and geometric collapse of the embedding on the training set,
    and the embedding's width p, from the head's output (N, S), the class statistics of the
    embedding's features and their per-sample ||J_f(x)||_F^2 (N,)."""
    gcs = cx.class_means_of(sq_norms, stats.labels, stats.num_classes)
    return {
        "train_accuracy": jnp.mean(jnp.argmax(output, axis=1) == stats.labels),
        "gc_train": jnp.mean(sq_norms),
        "cdnv_train": nc1_cdnv(stats),
        "gcol_train": cx.geometric_collapse(gcs, stats.means),
        "embed_dim": jnp.asarray(stats.means.shape[1], jnp.float64),
    }


def transfer_terms(features: jax.Array, y: np.ndarray, key: jax.Array, options: Options):
    """E6-f on the target classes' features: their CDNV and the mean n-shot NCC accuracy."""
    k = int(y.max()) + 1
    accuracies = cx.few_shot_accuracies(features, y, k, key, options.shots, options.episodes)
    return {
        "target_cdnv": nc1_cdnv(class_stats(features, jnp.asarray(y), k)),
        "few_shot_accuracy": jnp.mean(accuracies),
    }


def make_measure(model: Any, parts: Parts, num_source: int, options: Options):
    """The jitted float64 measurement of one run: (params, key) -> named scalars."""
    train_x, test_x, target_x = (jnp.asarray(p.x, jnp.float64) for p in parts)
    both_y = np.concatenate([parts.test.y, parts.target.y + num_source])
    sigma2 = 1.0 if options.constant is None else options.constant

    def measure(params: Any, key: jax.Array) -> dict[str, jax.Array]:
        embed = cx.embedding_of(model, params)
        output, layers = model.apply(params, train_x)
        train = class_stats(layers.features[-2], jnp.asarray(parts.train.y), num_source)
        test_f = model.apply(params, test_x)[1].features[-2]
        target_f = model.apply(params, target_x)[1].features[-2]
        out = training_terms(output, train, cx.jacobian_sq_norms(embed, train_x))
        out |= ncc_terms(train.means, test_f, parts.test.y, num_source)
        out |= transfer_terms(target_f, parts.target.y, key, options)
        a = cx.jacobians(embed, test_x[:1])[0]  # the linear map: J_f at a test point
        out |= linear_terms(a, test_x[:16], sigma2)
        out |= estimator_terms(embed, train_x, jax.random.fold_in(key, 1), options)
        if options.constant is None:  # no Poincare constant: E6-a is vacuous
            return out | {name: jnp.nan for name in POINCARE}
        norms = cx.jacobian_sq_norms(embed, jnp.concatenate([test_x, target_x]))
        both_f = jnp.concatenate([test_f, target_f])
        k = int(both_y.max()) + 1
        return out | poincare_terms(both_f, norms, both_y, k, options.constant, options.z)

    return jax.jit(measure)


def cross_run(runs: Sequence[Mapping[str, float]], groups: Sequence[Any]) -> dict[str, float]:
    """The cell-level quantities over its trained runs (``groups``: each run's setting without
    the seed): the run count, the smallest training accuracy, the spread ratios of log GC and of
    log CDNV (nc_jax.checks.cross_run.spread_ratio: their variance over settings against seeds),
    Spearman's rho of train GC against train CDNV, target CDNV and 5-shot accuracy, and of train
    CDNV against 5-shot accuracy."""
    gc, cdnv = [r["gc_train"] for r in runs], [r["cdnv_train"] for r in runs]
    return {
        "cell_runs": float(len(runs)),
        "min_train_accuracy": float(min(r["train_accuracy"] for r in runs)),
        "gc_spread": spread_ratio(np.log(gc), groups),
        "cdnv_spread": spread_ratio(np.log(cdnv), groups),
        "rho_gc_cdnv": spearman(gc, cdnv),
        "rho_cdnv_few_shot": spearman(cdnv, [r["few_shot_accuracy"] for r in runs]),
        "rho_gc_target_cdnv": spearman(gc, [r["target_cdnv"] for r in runs]),
        "rho_gc_few_shot": spearman(gc, [r["few_shot_accuracy"] for r in runs]),
    }
