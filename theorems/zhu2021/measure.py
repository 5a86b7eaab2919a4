"""Measure, in float64, every quantity the Zhu et al. (NeurIPS 2021) checks read, on ONE trained
cross-entropy UFM (docs/theory/zhu2021.md).

Callers enable float64 (``jax.enable_x64(True)``) and pass float64 parameters
{"features": H (N, d), "head": [{"w": W (K, d)[, "b": b (K,)]}]} with class-major labels.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from nc_jax import metrics
from nc_jax.metrics import linalg
from nc_jax.models.ufm import UFM, zhu_ufm_optimum
from nc_jax.train.losses import cross_entropy
from theorems.zhu2021 import closed_form

Params = Any
MAX_HESSIAN_PARAMETERS = 4000  # the Hessian is formed densely up to this many parameters


class Lambdas(NamedTuple):
    """The regularisation strengths of one run: lambda_W, lambda_H, lambda_b (D1)."""

    w: float
    h: float
    b: float


def engine_lambdas(model: UFM, weight_decay: float) -> Lambdas:
    """The strengths the engine applies to a run whose per-run weight decay is ``weight_decay``
    (nc_jax.train ``make_step``: group decay = weight_decay * the model's decay scale).
    The run function stores the per-run decay in float64 (``init_runs`` keeps float32), so
    these are the nominal scale * lambda values to float64 rounding."""
    decay = float(weight_decay)
    return Lambdas(
        decay * model.weight_decay_scale,
        decay * model.feature_decay_scale,
        decay * model.bias_decay_scale,
    )


def objective(params: Params, targets: jax.Array, lambdas: Lambdas) -> jax.Array:
    """f(W, H, b) of D1: mean cross entropy of Z = H W^T + b plus lambda_W/2 ||W||_F^2 +
    lambda_H/2 ||H||_F^2 + lambda_b/2 ||b||^2 (regularisers not divided by N)."""
    head = params["head"][0]
    logits = jnp.matmul(params["features"], head["w"].T)
    penalty = lambdas.w * jnp.sum(head["w"] ** 2) + lambdas.h * jnp.sum(params["features"] ** 2)
    if "b" in head:
        logits = logits + head["b"]
        penalty = penalty + lambdas.b * jnp.sum(head["b"] ** 2)
    return cross_entropy(logits, targets, "mean") + 0.5 * penalty


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b||_F / ||b||_F (NaN when b = 0)."""
    scale = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else float("nan")


def minimiser_distances(
    params: Params, y: np.ndarray, num_classes: int, n_per_class: int, lambdas: Lambdas
) -> dict[str, float]:
    """How far a run is from the closed form (D1), in float64:

    - gram_distance: ||W W^T - rho* K/(K-1)(I - J/K)||_F / ||rho* K/(K-1)(I - J/K)||_F;
    - feature_distance: ||H - alpha W[y]||_F / ||alpha W[y]||_F (h_{k,i} = alpha w_k);
    - bias_norm: ||b||_2 (NaN without a bias);
    plus rho*, alpha and the threshold K sqrt(n lambda_W lambda_H) they use."""
    w = np.asarray(params["head"][0]["w"], np.float64)
    h = np.asarray(params["features"], np.float64)
    rho = zhu_ufm_optimum(num_classes, n_per_class, lambdas.w, lambdas.h)
    scale = closed_form.alpha(n_per_class, lambdas.w, lambdas.h)
    bias = params["head"][0].get("b")
    return {
        "rho_star": rho,
        "alpha": scale,
        "threshold": closed_form.threshold(num_classes, n_per_class, lambdas.w, lambdas.h),
        "gram_distance": _relative(w @ w.T, closed_form.etf_gram(num_classes, rho)),
        "feature_distance": _relative(h, scale * w[np.asarray(y)]),
        "bias_norm": float("nan") if bias is None else float(np.linalg.norm(bias)),
        "row_norm_sq_mean": float(np.mean(np.sum(w**2, axis=1))),
    }


def collapse_metrics(params: Params, y: jax.Array, num_classes: int) -> dict[str, jax.Array]:
    """The NC metrics of D2 by name, on the features H and the classifier (W, b) (traceable):

    Zhu et al.'s code: zhu_nc1 = (1/K) tr(Sigma_W Sigma_B^+) (Sigma_W with 1/N, Sigma_B with
    1/K), zhu_nc2 = ||W W^T/||.||_F - (I - J/K)/sqrt(K-1)||_F, zhu_nc3 = the same for W Hbar,
    zhu_nc4 = ||W mu_G + b||_2. Papyan et al.'s: equinorm of the centred means and of the rows
    of W (unbiased std / mean), equiangularity (std of the off-diagonal cosines of the centred
    means), max-angle (mean |cos + 1/(K-1)|), self-duality ||W/||W||_F - M/||M||_F||_F^2
    (M the centred means), NCC mismatch 1 - agreement of argmax(W h + b) with the nearest class
    mean. NaN when the features or W are exactly zero: the trivial minimiser has no geometry."""
    head = params["head"][0]
    w, h, bias = head["w"], params["features"], head.get("b")
    stats = metrics.class_stats(h, y, num_classes)
    centred = metrics.centred_means(stats)
    values = {
        "zhu_nc1": metrics.nc1_pinv(stats),
        "zhu_nc2": metrics.simplex_etf_deviation(w),
        "zhu_nc3": metrics.zhu_nc3(w, centred),
        "zhu_nc4": metrics.bias_collapse(w, stats.global_mean, bias),
        "papyan_equinorm_means": metrics.equinorm(centred, ddof=1),
        "papyan_equinorm_classifier": metrics.equinorm(w, ddof=1),
        "papyan_equiangularity": metrics.equiangularity(centred),
        "papyan_max_angle": metrics.max_angle_deviation(centred),
        "papyan_self_duality": metrics.self_duality_distance(w, centred),
        "papyan_ncc_mismatch": 1.0
        - metrics.ncc_agreement(h, means=stats.means, classifier=w, bias=bias),
    }
    geometry = jnp.any(w != 0) & jnp.any(h != 0)
    return {key: jnp.where(geometry, value, jnp.nan) for key, value in values.items()}


def traced_quantities(
    params: Params, y: jax.Array, strengths: jax.Array, num_classes: int, dense: bool
) -> dict[str, jax.Array]:
    """The quantities of one run that need JAX (traceable, vmapped over runs by
    ``measure_runs``): the objective f, ||grad f|| over every parameter, the smallest
    eigenvalue of the dense Hessian of f (``dense``; else NaN), i.e. the approximate
    second-order stationarity Theorem 3.2 is about, and the NC metrics.

    Args:
        params: one run's float64 parameters.
        y: (N,) labels.
        strengths: (3,) lambda_W, lambda_H, lambda_b.
        num_classes: K.
        dense: form the Hessian (its size is the number of parameters squared).
    """
    targets = jax.nn.one_hot(y, num_classes, dtype=jnp.float64)
    flat, unravel = ravel_pytree(params)

    def f(vector: jax.Array) -> jax.Array:
        return objective(unravel(vector), targets, Lambdas(*strengths))

    out = {"objective": f(flat), "grad_norm": jnp.linalg.norm(jax.grad(f)(flat))}
    out["hessian_min"] = linalg.eigvalsh(jax.hessian(f)(flat))[0] if dense else jnp.nan
    return out | collapse_metrics(params, y, num_classes)


@functools.lru_cache(maxsize=16)
def _compiled_quantities(num_classes: int, dense: bool) -> Any:
    """jit(vmap(traced_quantities)) over runs (params and strengths batched)."""
    one = functools.partial(traced_quantities, num_classes=num_classes, dense=dense)
    return jax.jit(jax.vmap(one, in_axes=(0, None, 0)))


NC_METRICS: tuple[str, ...] = (
    "zhu_nc1",
    "zhu_nc2",
    "zhu_nc3",
    "zhu_nc4",
    "papyan_equinorm_means",
    "papyan_equinorm_classifier",
    "papyan_equiangularity",
    "papyan_max_angle",
    "papyan_self_duality",
    "papyan_ncc_mismatch",
)


def weight_feature_norm(params: Params) -> float:
    """sqrt(||W||_F^2 + ||H||_F^2): 0 exactly at the trivial minimiser W = H = 0."""
    w, h = np.asarray(params["head"][0]["w"]), np.asarray(params["features"])
    return float(np.sqrt(np.sum(w**2) + np.sum(h**2)))


def measure_runs(
    params: Params,
    initial: Params,
    y: np.ndarray,
    num_classes: int,
    n_per_class: int,
    lambdas: Sequence[Lambdas],
) -> list[dict[str, float]]:
    """Every quantity of R trained runs (float64 parameters with a leading run axis; call under
    x64), one dict per run: the objective and f*, the loss gap (f - f*)/f*, the distances to
    the closed form, the landscape quantities, the NC metrics, the shrinkage towards
    W = H = 0 (param_ratio: sqrt(||W||^2 + ||H||^2) over its value at the start ``initial``,
    NaN for a zero start) and the hypotheses' sizes (K, n, d, class imbalance, bias, lambdas,
    the start's norm init_norm)."""
    num_parameters = sum(leaf[0].size for leaf in jax.tree_util.tree_leaves(params))
    compiled = _compiled_quantities(num_classes, num_parameters <= MAX_HESSIAN_PARAMETERS)
    strengths = jnp.asarray(np.array(lambdas, np.float64))
    traced = {k: np.asarray(v) for k, v in compiled(params, jnp.asarray(y), strengths).items()}
    counts = np.bincount(np.asarray(y), minlength=num_classes)
    out = []
    for index, run_lambdas in enumerate(lambdas):
        run, start = _take(params, index), weight_feature_norm(_take(initial, index))
        best = closed_form.optimal_objective(num_classes, n_per_class, run_lambdas.w, run_lambdas.h)
        quantities = {key: float(value[index]) for key, value in traced.items()}
        quantities |= {
            "f_star": best,
            "loss_gap": (quantities["objective"] - best) / best,
            "init_norm": start,
            "param_ratio": weight_feature_norm(run) / start if start > 0 else float("nan"),
            "K": num_classes,
            "n": n_per_class,
            "d": int(run["features"].shape[1]),
            "class_imbalance": int(counts.max() - counts.min()),
            "has_bias": float("b" in run["head"][0]),
            "lambda_w": run_lambdas.w,
            "lambda_h": run_lambdas.h,
            "lambda_b": run_lambdas.b,
        }
        quantities |= minimiser_distances(run, np.asarray(y), num_classes, n_per_class, run_lambdas)
        out.append(quantities)
    return out


def _take(params: Params, index: int) -> Params:
    """Run ``index`` of batched parameters, as float64 NumPy arrays."""
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[index], np.float64), params)
