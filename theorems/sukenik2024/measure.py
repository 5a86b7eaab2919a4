"""Float64 measurements of trained L-DUFMs and of the explicit configurations of
theorems.sukenik2024.srg (docs/theory/sukenik2024.md).

- ``objective``: the B2 objective and its gradient norm, the engine's logged "objective"
  evaluated in float64;
- ``replay_orbit``: ``replay_steps`` further engine steps from each trained state in float64,
  the largest objective on that orbit (GD at learning rate 0.5 does not settle on one point: it
  chatters across ReLU kinks, by about 1e-3 of the objective) and the drift, the mean gradient
  (theta_start - theta_end) / (eta m), whose norm says whether GD has settled;
- ``layer_quantities``: per layer, numerical ranks of the class means before and after the ReLU,
  DNC1 (tr Sigma_W / tr Sigma_B) and DNC2 (distance of the normalised Gram of the uncentred
  class means from I_K / sqrt(K));
- ``configuration_quantities``: the DNC and SRG configurations built explicitly at the trained
  network's widths (zero-padded, units permuted by the run's seed) and their objectives, and the
  trained solution embedded in a wider DUFM.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax import metrics
from nc_jax.models.ufm import DeepUFM, dnc_loss, ufm_inputs
from nc_jax.train import RunState, TrainConfig, TrainData, cast_runs, make_step, regulariser
from nc_jax.train.losses import mse
from theorems.sukenik2024.srg import (
    class_labels,
    dnc_structure,
    embed,
    numerical_rank,
    optimal_scaling,
    srg_pre_relu_rank,
    srg_structure,
    triangular_root,
)

EMBED_EXTRA = 3  # units added to every hidden layer by the embedding check


def _float64(tree: Any) -> Any:
    """Every floating leaf as a float64 JAX array (call under x64)."""

    def cast(leaf):
        leaf = jnp.asarray(leaf)
        return leaf.astype(jnp.float64) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    return jax.tree_util.tree_map(cast, tree)


def objective_function(model: DeepUFM, labels: np.ndarray) -> Callable[[Any, Any], jax.Array]:
    """f(params, lambda_W): the B2 objective (1/(2N)) ||output - Y||_F^2 + lambda_W/2
    (feature_decay_scale ||H_1||_F^2 + sum_l ||W_l||_F^2) (H_1 not divided by N), i.e. the
    engine's "objective" (MSE, reduction "mean", coupled l2 decay). Float64 under x64."""
    x = ufm_inputs(model.num_samples, jnp.float64)
    targets = jax.nn.one_hot(jnp.asarray(labels), model.num_classes, dtype=jnp.float64)

    def f(params: Any, lambda_w: Any) -> jax.Array:
        output = model.apply(params, x)[0]
        return mse(output, targets, "mean") + 0.5 * lambda_w * regulariser(model, params)

    return f


def _tree_norm(tree: Any) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(tree)))


def objective(
    model: DeepUFM, params: Any, labels: np.ndarray, lambda_w: float
) -> tuple[float, float]:
    """(B2 objective, norm of its gradient) of one network in float64; the gradient takes
    relu'(0) = 0 (JAX's convention)."""
    with jax.enable_x64(True):
        value_and_norm = _compiled_objective(model, tuple(int(c) for c in labels))
        value, norm = value_and_norm(_float64(params), jnp.float64(lambda_w))
        return float(value), float(norm)


@functools.lru_cache(maxsize=16)
def _compiled_objective(model: DeepUFM, labels: tuple[int, ...]) -> Callable:
    """jit of (params, lambda_W) -> (objective, gradient norm), one per model and labels."""
    f = objective_function(model, np.asarray(labels))

    def value_and_norm(params: Any, lambda_w: Any) -> tuple[jax.Array, jax.Array]:
        value, grads = jax.value_and_grad(f)(params, lambda_w)
        return value, _tree_norm(grads)

    return jax.jit(value_and_norm)


def view_params(model: Any, params: Any, x: jax.Array) -> Any:
    """One run's parameters in its DUFM view (Setting.dufm_view): a DeepUFM's own parameters,
    or for a real network (models.FeatureDecay) {"features": its penalised features of the N
    inputs ``x`` (N, d_1), "head": the head's weights}. Traceable."""
    if isinstance(model, DeepUFM):
        return params
    _, layers = model.apply(params, x)
    return {"features": model.penalised_features(layers), "head": params["head"]}


def dufm_params(model: Any, params: Any, x: Any) -> Any:
    """view_params evaluated in float64, as NumPy arrays."""
    with jax.enable_x64(True):
        viewed = view_params(model, _float64(params), jnp.asarray(x, jnp.float64))
        return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf, np.float64), viewed)


def replay_orbit(
    model: Any,
    config: TrainConfig,
    state: RunState,
    data: TrainData,
    steps: int,
    hyperparameters: tuple[np.ndarray, np.ndarray],
    view: DeepUFM | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``steps`` engine steps from every run of the batched ``state`` in float64.

    ``hyperparameters`` = (learning rates, weight decays) (R,) as the setting gives them: the
    state holds them rounded to float32 (0.004 becomes 0.004 (1 + 4.7e-8)), which would shift
    the objective by that relative amount; the replay and its objective use the exact values.
    ``view``: the DUFM whose B2 objective is read (default: ``model``, a DeepUFM); for a real
    network, the objective of its DUFM view (dufm_params), i.e. its objective without the
    backbone's weight decay, while the steps and the drift are the whole network's.

    Returns per run (R,): the objective at the start, the largest objective on the orbit
    (start included), the drift ||theta_start - theta_end|| / (eta steps) (the norm of the mean
    gradient along the orbit) and the gradient norm at the start (of that objective).
    """
    step = make_step(model, config)
    labels = np.asarray(data.y)
    with jax.enable_x64(True):
        data64 = _float64(data)
        of_view = objective_function(view or model, labels)

        def f(params: Any, lambda_w: Any) -> jax.Array:
            return of_view(view_params(model, params, data64.x), lambda_w)

        def one(run: RunState):
            start, grads = jax.value_and_grad(f)(run.params, run.weight_decay)

            def body(carry, _):
                current, worst = carry
                current = step(current, data64)
                return (current, jnp.maximum(worst, f(current.params, run.weight_decay))), None

            (end, worst), _ = jax.lax.scan(body, (run, start), None, length=steps)
            moved = jax.tree_util.tree_map(jnp.subtract, run.params, end.params)
            drift = _tree_norm(moved) / (run.learning_rate * steps)
            return start, worst, drift, _tree_norm(grads)

        exact = cast_runs(state, jnp.float64, *hyperparameters)
        values = jax.jit(jax.vmap(one))(exact)
        return tuple(np.asarray(v, np.float64) for v in values)


def layer_quantities(
    model: DeepUFM, params: Any, labels: np.ndarray
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Per-layer quantities of one network (float64) and its class-mean singular values.

    Quantities, l = 1..L (layer l = H_l, post-ReLU for l >= 2): ``rank_post_l`` and, for
    l >= 2, ``rank_pre_l`` (numerical rank of the class means, srg.RANK_RTOL), ``dnc1_l``
    (tr Sigma_W / tr Sigma_B; 0 when n = 1: one sample per class has no spread) and
    ``dnc2_l`` (metrics.orthogonal_frame_deviation of the uncentred class means; NaN when
    d_l < K). Arrays: ``sv/layer l`` the class-mean singular values divided by the largest.
    """
    k = model.num_classes
    quantities: dict[str, float] = {}
    spectra: dict[str, np.ndarray] = {}
    with jax.enable_x64(True):
        _, layers = model.apply(_float64(params), ufm_inputs(model.num_samples, jnp.float64))
        y = jnp.asarray(labels)
        for index, z in enumerate(layers.features[:-1]):
            layer = index + 1
            stats = metrics.class_stats(z, y, k)
            means = np.asarray(stats.means)
            quantities[f"rank_post_{layer}"] = float(numerical_rank(means))
            quantities[f"dnc1_{layer}"] = float(metrics.nc1_trace_ratio(stats))
            deviation = metrics.orthogonal_frame_deviation(stats.means) if z.shape[1] >= k else None
            quantities[f"dnc2_{layer}"] = math.nan if deviation is None else float(deviation)
            s = np.linalg.svd(means, compute_uv=False)
            spectra[f"sv/layer {layer}"] = s / s[0] if s[0] > 0 else s
            pre = layers.preactivations[index]
            if pre is not None:
                pre_means = np.asarray(metrics.class_stats(pre, y, k).means)
                quantities[f"rank_pre_{layer}"] = float(numerical_rank(pre_means))
    return quantities, spectra


def configuration_quantities(
    model: DeepUFM, n_per_class: int, lambda_w: float, feature_decay_ratio: float, seed: int
) -> dict[str, float]:
    """The explicit configurations of srg at the widths of ``model`` (hidden units permuted by
    ``seed``): ``dnc_config_objective`` and ``dnc_config_gradient_norm`` (NaN when some
    d_l < K), ``srg_config_objective`` and the SRG's per-layer ranks (``srg_rank_mismatch``:
    the summed distance of the ranks of layers 1..L-1, the pre-activation of layer L and H_L
    from r, srg_pre_relu_rank(r) and K; NaN when K is not C(r, 2), r >= 3, or L < 2), with
    the closed forms ``L_DNC`` and ``L_SRG``."""
    k, depth, widths = model.num_classes, model.depth, model.widths
    lambda_h = lambda_w * feature_decay_ratio
    labels = class_labels(k, n_per_class)
    rng = np.random.default_rng(seed)
    out = {"L_DNC": dnc_loss(k, n_per_class, depth, lambda_h, lambda_w).loss}
    out |= dict.fromkeys(("dnc_config_objective", "dnc_config_gradient_norm"), math.nan)
    if min(widths) >= k:
        scaled = optimal_scaling(dnc_structure(k, depth), n_per_class, lambda_h, lambda_w)
        value, norm = objective(model, embed(scaled.params, widths, rng), labels, lambda_w)
        out |= {"dnc_config_objective": value, "dnc_config_gradient_norm": norm}
    r = triangular_root(k)
    srg = dict.fromkeys(
        (
            "L_SRG",
            "srg_config_objective",
            "srg_rank_mismatch",
            "srg_rank_pre_L",
            "srg_rank_post_L",
            "r",
        ),
        math.nan,
    )
    if r is not None and r >= 3 and depth >= 2 and min(widths) >= k:
        scaled = optimal_scaling(srg_structure(r, depth), n_per_class, lambda_h, lambda_w)
        params = embed(scaled.params, widths, rng)
        value, _ = objective(model, params, labels, lambda_w)
        ranks, _ = layer_quantities(model, params, labels)
        expected = {f"rank_post_{layer}": r for layer in range(1, depth)}
        expected |= {f"rank_pre_{layer}": r for layer in range(2, depth)}
        expected |= {f"rank_pre_{depth}": srg_pre_relu_rank(r), f"rank_post_{depth}": k}
        mismatch = sum(abs(ranks[name] - want) for name, want in expected.items())
        srg = {
            "L_SRG": scaled.loss,
            "srg_config_objective": value,
            "srg_rank_mismatch": float(mismatch),
            "srg_rank_pre_L": ranks[f"rank_pre_{depth}"],
            "srg_rank_post_L": ranks[f"rank_post_{depth}"],
            "r": float(r),
        }
    return out | srg


def embedded_objective(
    model: DeepUFM, params: Any, labels: np.ndarray, lambda_w: float, seed: int
) -> float:
    """The objective of ``params`` zero-padded into a DUFM EMBED_EXTRA units wider in every
    hidden layer, units permuted by ``seed`` (srg.embed)."""
    wider = DeepUFM(
        model.num_samples,
        tuple(w + EMBED_EXTRA for w in model.widths),
        model.num_classes,
        feature_decay_scale=model.feature_decay_scale,
    )
    big = embed(params, wider.widths, np.random.default_rng(seed))
    return objective(wider, big, labels, lambda_w)[0]
