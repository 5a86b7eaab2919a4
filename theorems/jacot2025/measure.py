"""Measure, in float64, every quantity the Jacot et al. (ICLR 2025) checks read.

Each function takes ONE network (a model with a deep linear head, e.g. nc_jax.models.MLP) and
its parameters; callers enable float64 (``jax.enable_x64(True)``) and pass float64 arrays, so a
reported violation is never a rounding artefact (DESIGN.md, "Precision"). Formulas and notation:
docs/theory/jacot2025.md (sections cited per function); features are rows (N, n_l).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax import metrics
from nc_jax.metrics import linalg
from nc_jax.models.base import Model, Params
from nc_jax.train.engine import RunState, TrainConfig, TrainData, make_step
from nc_jax.train.losses import get_loss


def _op(a: jax.Array) -> float:
    return float(metrics.spectral_norm(a))


def _kappa_rank_k(a: jax.Array, num_classes: int) -> float:
    """s_1 / s_K of a matrix with K rows (inf when s_K = 0): kappa of docs/theory/jacot2025.md
    for K-row matrices of rank K."""
    s = metrics.singular_values(a)
    return float(s[0] / s[num_classes - 1]) if s[num_classes - 1] > 0 else float("inf")


def num_nonlinear(model: Model, params: Params) -> int:
    """L1: the number of layers before the linear head."""
    return len(params) - model.num_linear


def head_balancedness(weights: Sequence[jax.Array], first: int) -> list[float]:
    """eps2 of every head pair (W_l, W_{l+1}), l = L1+1..L-1 (``first`` = L1, 0-based)."""
    return [
        float(metrics.balancedness(w, v)) for w, v in zip(weights[first:-1], weights[first + 1 :])
    ]


def network_quantities(
    model: Model, params: Params, x: jax.Array, y: jax.Array, num_classes: int
) -> dict[str, float]:
    """The Theorem 3.1 quantities of one network (docs/theory/jacot2025.md, steps 2-3).

    Args:
        model: a model whose last ``model.num_linear`` layers are linear (the head).
        params: its parameters (float64).
        x: (N, D) float64 inputs; y: (N,) int labels in [0, K).

    Returns:
        eps1, eps2 (max over head pairs), eps2_last (pair (L-1, L)), r, s_K_Y, N, K,
        n_penultimate, L1, L2, head_bias_free, class_imbalance, within_mass
        ||Z_{L-1} - Zbar_{L-1}||_F, nc1 (trace ratio of Z_{L-1}), kappa_M (kappa of the
        uncentred class means of Z_{L-1}), cos_min (min_c cos(w_c, mu_c)), kappa_WL,
        kappa_head (c3 = kappa(W_{L:L1+1})), head_s1 and head_sK (s_1 and s_K of the head
        product), r_head (max head ||W_l||_op), norm_first_linear (||W_{L1+1}||_op).
    """
    output, layers = model.apply(params, x)
    first = num_nonlinear(model, params)
    weights = layers.weights
    if first < 0 or any(w is None for w in weights[first:]):
        raise ValueError("model must end in a dense linear head of num_linear layers")
    targets = jax.nn.one_hot(y, num_classes, dtype=output.dtype)
    penultimate = layers.features[-2]
    before = layers.features[-3] if len(layers.features) >= 3 else x
    stats = metrics.class_stats(penultimate, y, num_classes)
    counts = np.bincount(np.asarray(y), minlength=num_classes)
    pairs = head_balancedness(weights, first)
    head = weights[first:]
    head_singular_values = metrics.singular_values(metrics.chain_product(head))
    return {
        "eps1": float(jnp.linalg.norm(output - targets)),
        "eps2": max(pairs),
        "eps2_last": pairs[-1],
        "r": max(_op(before), _op(penultimate), *(_op(w) for w in head)),
        "s_K_Y": float(metrics.label_singular_value(y, num_classes)),
        "N": int(x.shape[0]),
        "K": num_classes,
        "n_penultimate": int(penultimate.shape[1]),
        "L1": first,
        "L2": model.num_linear,
        "head_bias_free": float(all(b is None for b in layers.biases[first:])),
        "class_imbalance": int(counts.max() - counts.min()),
        "within_mass": float(jnp.linalg.norm(stats.residual)),
        "nc1": float(metrics.nc1_trace_ratio(stats)),
        "kappa_M": _kappa_rank_k(stats.means, num_classes),
        "cos_min": float(jnp.min(metrics.nc3_cosines(weights[-1], stats.means))),
        "kappa_WL": _kappa_rank_k(weights[-1], num_classes),
        "kappa_head": float(head_singular_values[0] / head_singular_values[num_classes - 1]),
        "head_s1": float(head_singular_values[0]),
        "head_sK": float(head_singular_values[num_classes - 1]),
        "r_head": max(_op(w) for w in head),
        "norm_first_linear": _op(head[0]),
    }


def initial_quantities(model: Model, params: Params, x: jax.Array) -> dict[str, float]:
    """What Section 4's hypotheses read at initialisation (jacot2025 docs, Section 4):
    n1 (the first width), pyramidal (1.0 when n_2 >= n_3 >= ... >= n_L, Assumption 4.1),
    lambda_F_init = s_min(Z_1(theta_0)) (the smallest singular value of the first layer's
    features, over min(N, n_1) values: 0 when n_1 < N leaves them rank-deficient), and
    theta0_norm = ||theta_0||_2.

    Args:
        params: the initial parameters of ONE run (float64); x: (N, D) float64 inputs.
    """
    _, layers = model.apply(params, x)
    widths = [w.shape[0] for w in layers.weights]
    first = layers.features[0]
    singular = metrics.singular_values(first)
    full_rank = first.shape[1] >= first.shape[0]
    leaves = jax.tree_util.tree_leaves(params)
    return {
        "n1": int(widths[0]),
        "pyramidal": float(all(a >= b for a, b in zip(widths[1:-1], widths[2:]))),
        "lambda_F_init": float(singular[-1]) if full_rank else 0.0,
        "theta0_norm": float(jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in leaves))),
    }


def data_loss_fn(model: Model, config: TrainConfig):
    """params, x, targets -> the engine's data loss (its loss and reduction)."""
    loss = get_loss(config.loss)
    return lambda params, x, targets: loss(model.apply(params, x)[0], targets, config.reduction)


def gradient_balance_bound(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decay: float,
) -> float:
    """(||W_L|| ||grad_L|| + ||grad_{L-1}|| ||W_{L-1}||) / lambda with grad the gradient of the
    regularised objective (data loss + lambda/2 ||theta||^2): an upper bound on eps2_last at
    any point, 0 at a critical point (docs/theory/jacot2025.md, supporting facts; the identity
    lambda D = W_{l+1}^T grad_{l+1} - grad_l W_l^T follows from W_{l+1}^T G_{l+1} = G_l W_l^T)."""
    if weight_decay <= 0:
        return float("inf")
    grads = jax.grad(data_loss_fn(model, config))(params, data.x, data.targets)
    w_prev, w_last = params[-2]["w"], params[-1]["w"]
    full_prev = grads[-2]["w"] + weight_decay * w_prev  # gradients of the regularised objective
    full_last = grads[-1]["w"] + weight_decay * w_last
    return (_op(w_last) * _op(full_last) + _op(full_prev) * _op(w_prev)) / weight_decay


@functools.partial(jax.jit, static_argnums=0)
def _ntk_matvec(model: Model, params: Params, x: jax.Array, v: jax.Array) -> jax.Array:
    """Theta v = J (J^T v) for an output-space v (N, K), through one VJP and one JVP."""

    def output(p):
        return model.apply(p, x)[0]

    _, pullback = jax.vjp(output, params)
    return jax.jvp(output, (params,), pullback(v))[1]


def ntk_top_eigenvalue(
    model: Model, params: Params, x: jax.Array, iterations: int = 30
) -> tuple[float, float]:
    """A lower estimate of lambda_max of the NTK Theta = J J^T, J = d vec(Z_L) / d theta.

    Power iteration started from the top eigenvector u b^T of the first-linear-layer block
    (Z_{L1}^T Z_{L1}) (x) (B B^T), B = W_{L:L1+2} (docs/theory/jacot2025.md): for a PSD matrix
    the Rayleigh quotients of power iterates never decrease, so every estimate is >= the
    block's lambda_max = ||Z_{L1}||^2 ||B||^2 and <= lambda_max(Theta).

    Returns:
        (estimate, relative change over the last iteration).
    """
    first = num_nonlinear(model, params)
    _, layers = model.apply(params, x)
    trunk = layers.features[first - 1] if first > 0 else x
    tail = metrics.chain_product([p["w"] for p in params[first + 1 :]])
    u = linalg.thin_svd(trunk)[0][:, 0]
    b = linalg.thin_svd(tail)[0][:, 0]
    v = jnp.outer(u, b)
    estimate, previous = 0.0, 0.0
    for _ in range(iterations):
        image = _ntk_matvec(model, params, x, v)
        previous, estimate = estimate, float(jnp.vdot(v, image))
        v = image / jnp.linalg.norm(image)
    return estimate, abs(estimate - previous) / estimate


def _pair_differences(matrices: list[jax.Array]) -> list[jax.Array]:
    """A_{l+1}^T A_{l+1} - A_l A_l^T for consecutive (A_l, A_{l+1}): D_l for weights, E_l for
    gradients (docs/theory/jacot2025.md)."""
    gram = metrics.stats.gram
    return [gram(upper.T) - gram(lower) for lower, upper in zip(matrices[:-1], matrices[1:])]


def _sym_op(a: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(linalg.eigvalsh(a)))


@functools.lru_cache(maxsize=8)
def _replay_program(model: Model, config: TrainConfig, first: int, steps: int):
    """jit(scan) of ``steps`` engine steps of one run, with per step and head pair: ||D(t)||_op,
    the recursion residual ||D(t+1) - (1-eta lambda)^2 D(t) - eta^2 E(t)||_op, the weight scale
    max ||W||_op^2 and the gradient scale max ||G||_op^2. Cached: learning rate and weight
    decay live in the state, so every run reuses one compiled program."""
    step = make_step(model, config)
    grad_fn = jax.grad(data_loss_fn(model, config))

    def body(current: RunState, data: TrainData):
        decay = 1 - current.learning_rate * current.weight_decay
        eta = current.learning_rate
        grads = grad_fn(current.params, data.x, data.targets)
        weights = [p["w"] for p in current.params[first:]]
        d, e = _pair_differences(weights), _pair_differences([g["w"] for g in grads[first:]])
        following = step(current, data)
        d_next = _pair_differences([p["w"] for p in following.params[first:]])
        residual = jnp.stack(
            [_sym_op(n - decay**2 * a - eta**2 * b) for n, a, b in zip(d_next, d, e)]
        )
        scale = jnp.max(jnp.stack([metrics.spectral_norm(w) ** 2 for w in weights]))
        grad_sq = jnp.max(jnp.stack([metrics.spectral_norm(g["w"]) ** 2 for g in grads[first:]]))
        return following, (jnp.stack([_sym_op(a) for a in d]), residual, scale, grad_sq)

    return jax.jit(
        lambda state, data: jax.lax.scan(lambda s, _: body(s, data), state, None, length=steps)
    )


def replay_balancedness(
    model: Model, config: TrainConfig, state: RunState, data: TrainData, steps: int
) -> dict[str, Any]:
    """Replay ``steps`` engine steps of one run in float64 and test the balancedness dynamics
    of every head pair (docs/theory/jacot2025.md):

        D(t+1) = (1 - eta lambda)^2 D(t) + eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T)      (exact)
        ||D(t)|| <= c^t ||D(0)|| + eta^2 g^2 (1 - c^t) / (1 - c),   c = (1 - eta lambda)^2

    The step is the engine's own ``make_step`` (so the check tests the engine's update); G is
    the gradient of the data loss computed here independently.

    Args:
        state: ONE run's state (no run axis), float64 leaves.

    Returns:
        recursion_residual: max_t ||residual(t)||_op / max_t max(||W_l||^2, ||W_{l+1}||^2),
            over pairs; envelope_ratio: max over t >= 1 and pairs of ||D(t)|| / envelope(t);
            norms (steps + 1, pairs) of ||D(t)||_op and envelope (steps + 1, pairs).
    """
    first = num_nonlinear(model, state.params)
    final, (norms, residuals, scales, grad_sq) = _replay_program(model, config, first, steps)(
        state, data
    )
    decay = 1 - float(state.learning_rate) * float(state.weight_decay)
    eta = float(state.learning_rate)
    last = [p["w"] for p in final.params[first:]]
    final_norms = [float(_sym_op(d)) for d in _pair_differences(last)]
    norms = np.concatenate([np.asarray(norms), [final_norms]])
    g2 = float(jnp.max(grad_sq))
    t = np.arange(steps + 1)[:, None]
    contraction = decay ** (2 * t)
    growth = eta**2 * g2 * (1 - contraction) / (1 - decay**2)
    envelope = contraction * norms[0] + growth
    return {
        "recursion_residual": float(jnp.max(residuals) / jnp.max(scales)),
        "envelope_ratio": float(np.max(norms[1:] / envelope[1:])),  # t = 0 is 1 by definition
        "norms": norms,
        "envelope": envelope,
    }
