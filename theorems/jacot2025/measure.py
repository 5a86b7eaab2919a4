"""Measure, in float64, every quantity the Jacot et al. (ICLR 2025) checks read.

Each function takes ONE network (a model with a deep linear head, e.g. nc_jax.models.MLP) and
its parameters; callers enable float64 (``jax.enable_x64(True)``) and pass float64 arrays, so a
reported violation is never a rounding artefact. Formulas and notation: docs/theory/jacot2025.md
(sections cited per function); features are rows (N, n_l).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from nc_jax import metrics
from nc_jax.metrics import krylov, linalg
from nc_jax.models.activations import meets_assumption_4_2
from nc_jax.models.base import Layers, Model, Params
from nc_jax.train import RunState, TrainConfig, TrainData, make_step, regulariser, update_config
from nc_jax.train.losses import get_loss


def _op(a: jax.Array) -> float:
    return float(metrics.spectral_norm(a))


def num_nonlinear(model: Model, layers: Layers) -> int:
    """L1: the entries of the Layers record before the linear head (for a backbone model, its
    recorded stages count as layers: the index layer metrics and the gram arrays use)."""
    return len(layers.features) - model.num_linear


def linear_layers(model: Model, params: Params) -> list[dict[str, jax.Array]]:
    """The parameter dicts {"w": (n_l, n_{l-1}), ...} of the linear head's layers, in order,
    of an MLP (a list of layers) or a backbone model ({"backbone": ..., "head": MLP layers});
    works on gradients of the same structure too."""
    layers = params["head"] if isinstance(params, dict) else params
    return list(layers[len(layers) - model.num_linear :])


def _kth(singular: jax.Array, num_classes: int) -> jax.Array:
    """s_K from descending singular values; 0 when there are fewer than K of them (a matrix
    narrower than K has rank < K; JAX indexing would silently clamp to the last value)."""
    if singular.shape[0] < num_classes:
        return jnp.zeros((), singular.dtype)
    return singular[num_classes - 1]


def _kappa(singular: jax.Array, num_classes: int) -> jax.Array:
    """s_1 / s_K from descending singular values (inf when s_K = 0)."""
    return singular[0] / _kth(singular, num_classes)


def head_quantities(
    features: Sequence[jax.Array], head: Sequence[jax.Array], y: jax.Array, num_classes: int
) -> dict[str, jax.Array]:
    """The Theorem 3.1 quantities that a deep linear head and its features determine, as JAX
    scalars (traceable and differentiable: ``nc-jax falsify`` ascends through them).

    Args:
        features: [Z_{L1}, Z_{L1+1}, ..., Z_L], rows (N, n_l): the head's input, then the output
            of every head layer (L2 + 1 matrices); only the last three are read (r reads
            Z_{L-2}), so for L2 = 1 the list starts at Z_{L1-1}.
        head: [W_{L1+1}, ..., W_L], (n_l, n_{l-1}).
        y: (N,) int labels in [0, K).

    Returns (the pair quantities eps2, eps2_last and last_pair_sq_norm are NaN for a head of
    one layer, L2 = 1, which has no pair):
        eps1, eps2, eps2_last, r, within_mass, total_mass (||Z_{L-1} - global mean||_F), nc1,
        kappa_M, cos_min, kappa_WL, kappa_head, head_s1, head_sK, r_head, norm_first_linear,
        penultimate_op_sq (||Z_{L-1}||_op^2), before_op (||Z_{L-2}||_op), norm_WL (||W_L||_op),
        last_pair_sq_norm (max(||W_{L-1}||, ||W_L||)^2).
    """
    output, penultimate, before = features[-1], features[-2], features[-3]
    targets = jax.nn.one_hot(y, num_classes, dtype=output.dtype)
    stats = metrics.class_stats(penultimate, y, num_classes)
    no_pair = jnp.full((1,), jnp.nan, output.dtype)  # a head of one layer has no pair (L2 = 1)
    pairs = jnp.stack([metrics.balancedness(w, v) for w, v in zip(head[:-1], head[1:])] or no_pair)
    norms = jnp.stack([metrics.spectral_norm(w) for w in head])
    head_singular = metrics.singular_values(metrics.chain_product(head))
    penultimate_op = metrics.spectral_norm(penultimate)
    return {
        "eps1": jnp.linalg.norm(output - targets),
        "eps2": jnp.max(pairs),
        "eps2_last": pairs[-1],
        "r": jnp.max(jnp.stack([metrics.spectral_norm(before), penultimate_op, *norms])),
        "within_mass": jnp.linalg.norm(stats.residual),
        "total_mass": jnp.linalg.norm(penultimate - jnp.mean(penultimate, axis=0)),
        "nc1": metrics.nc1_trace_ratio(stats),
        "kappa_M": _kappa(metrics.singular_values(stats.means), num_classes),
        "cos_min": jnp.min(metrics.nc3_cosines(head[-1], stats.means)),
        "kappa_WL": _kappa(metrics.singular_values(head[-1]), num_classes),
        "kappa_head": _kappa(head_singular, num_classes),
        "head_s1": head_singular[0],
        "head_sK": _kth(head_singular, num_classes),
        "r_head": jnp.max(norms),
        "norm_first_linear": norms[0],
        "penultimate_op_sq": penultimate_op**2,
        "before_op": metrics.spectral_norm(before),
        "norm_WL": norms[-1],
        "last_pair_sq_norm": jnp.max(norms[-2:]) ** 2 if len(head) > 1 else no_pair[0],
    }


def network_quantities(
    model: Model, params: Params, x: jax.Array, y: jax.Array, num_classes: int
) -> dict[str, float]:
    """The Theorem 3.1 quantities of one network (docs/theory/jacot2025.md, steps 2-3).

    Args:
        model: a model whose last ``model.num_linear`` layers are linear (the head).
        params: its parameters (float64).
        x: (N, D) float64 inputs; y: (N,) int labels in [0, K).

    Returns:
        Python floats: those of ``head_quantities`` (on the model's own features), s_K_Y, N,
        K, n_penultimate, L1, L2, head_bias_free and class_imbalance.
    """
    output, layers = model.apply(params, x)
    first = num_nonlinear(model, layers)
    weights = layers.weights
    if first < 0 or any(w is None for w in weights[first:]):
        raise ValueError("model must end in a dense linear head of num_linear layers")
    every = [x, *layers.features]  # Z_0 = X, Z_1, ..., Z_L
    features = every[min(first, len(every) - 3) :]  # from Z_{L1}, or Z_{L-2} when L2 = 1
    values = head_quantities(features, weights[first:], y, num_classes)
    counts = np.bincount(np.asarray(y), minlength=num_classes)
    return {k: float(v) for k, v in values.items()} | {
        "s_K_Y": float(metrics.label_singular_value(y, num_classes)),
        "N": int(x.shape[0]),
        "K": num_classes,
        "n_penultimate": int(features[-2].shape[1]),
        "L1": first,
        "L2": model.num_linear,
        "head_bias_free": float(all(b is None for b in layers.biases[first:])),
        "class_imbalance": int(counts.max() - counts.min()),
    }


INITIAL_NAMES = ("eps2", "nc1", "kappa_M", "cos_min", "kappa_WL", "kappa_head")


def initial_quantities(
    model: Model, params: Params, x: jax.Array, y: jax.Array, num_classes: int
) -> dict[str, float]:
    """What Section 4's hypotheses and the trivial references read at initialisation (jacot2025
    docs, Section 4 and "Informative or not"): n1 (the first width), pyramidal (1.0 when
    n_2 >= n_3 >= ... >= n_L, Assumption 4.1), smooth_activation (1.0 when the non-linear
    layers' activation is smooth with sigma' in [gamma, 1], Assumption 4.2: models.activations'
    smooth; 0 for relu, tanh, gelu and a convolutional backbone's ReLU), lambda_F_init =
    s_min(Z_1(theta_0)) (the smallest singular value of the first layer's features, over
    min(N, n_1) values: 0 when n_1 < N leaves them rank-deficient), theta0_norm =
    ||theta_0||_2, and ``<name>_init`` for every name of INITIAL_NAMES (the untrained
    network's value).

    Args:
        params: the initial parameters of ONE run (float64); x: (N, D) float64 inputs;
        y: (N,) labels.
    """
    untrained = network_quantities(model, params, x, y, num_classes)
    _, layers = model.apply(params, x)
    leaves = jax.tree_util.tree_leaves(params)
    values = {"theta0_norm": float(jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in leaves)))}
    values |= {f"{name}_init": untrained[name] for name in INITIAL_NAMES}
    values["smooth_activation"] = float(meets_assumption_4_2(getattr(model, "activation", "relu")))
    if layers.weights[0] is None:  # a convolutional backbone: Section 4 speaks of MLPs
        return values | {"n1": math.nan, "pyramidal": math.nan, "lambda_F_init": math.nan}
    widths = [w.shape[0] for w in layers.weights]
    first = layers.features[0]
    singular = metrics.singular_values(first)
    full_rank = first.shape[1] >= first.shape[0]
    return values | {
        "n1": int(widths[0]),
        "pyramidal": float(all(a >= b for a, b in zip(widths[1:-1], widths[2:]))),
        "lambda_F_init": float(singular[-1]) if full_rank else 0.0,
    }


def data_loss_fn(model: Model, config: TrainConfig):
    """params, x, targets -> the engine's data loss (its loss and reduction)."""
    loss = get_loss(config.loss)
    return lambda params, x, targets: loss(model.apply(params, x)[0], targets, config.reduction)


COMPETITOR_NAMES = ("competitor_c", "competitor_residual", "cost_ratio", "fit_gain")


def competitor_quantities(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decay: float,
) -> dict[str, float]:
    """Section 5.1's competitor (docs/theory/jacot2025.md, Theorem 5.2): the network of the same
    architecture whose non-linear part outputs the labels, Z_{L1} = [Y, 0], and whose head
    passes them on through identity-like layers (cost K each). Its non-linear part keeps the
    trained layers 1..L1-1 and takes the least-norm last non-linear layer W' = (Z_{L1-1}^+
    [Y, 0])^T (its bias 0), exact when Z_{L1-1} has rank N; ReLU keeps Y >= 0 unchanged.

    Returns:
        competitor_c: c = ||theta_nonlin||^2 of that non-linear part;
        competitor_residual: ||Z_{L1-1} W'^T - [Y, 0]||_F / ||Y||_F (0 when it fits exactly);
        cost_ratio: the trained network's objective (data loss + lambda/2 ||theta||^2) over the
            competitor's lambda/2 (c + L2 K) (<= 1: no worse than the competitor, the
            premise Theorem 5.2's bound needs at a global minimiser);
        fit_gain: a = (s_K(Y) - eps1) / ||Z_{L1}||_op, so that s_K(W_{L:L1+1}) >= a;
        every value NaN for a convolutional backbone, L1 = 0, or layers narrower than K.
    """
    nan = dict.fromkeys(COMPETITOR_NAMES, math.nan)
    first = model.num_nonlinear
    if isinstance(params, dict) or first < 1:
        return nan
    _, layers = model.apply(params, data.x)
    num_classes = data.targets.shape[1]
    widths = [w.shape[0] for w in layers.weights]
    if min(widths[first - 1 :]) < num_classes:
        return nan
    inputs = data.x if first == 1 else layers.features[first - 2]
    labels = jnp.pad(data.targets, ((0, 0), (0, widths[first - 1] - num_classes)))
    last = jnp.linalg.pinv(inputs) @ labels  # (n_{L1-1}, n_{L1}): W'^T
    kept = jax.tree_util.tree_leaves(params[: first - 1])
    c = sum(float(jnp.sum(leaf**2)) for leaf in kept) + float(jnp.sum(last**2))
    residual = jnp.linalg.norm(inputs @ last - labels) / jnp.linalg.norm(data.targets)
    objective = data_loss_fn(model, config)(params, data.x, data.targets)
    objective = objective + weight_decay / 2 * regulariser(model, params)
    competitor = weight_decay / 2 * (c + model.num_linear * num_classes)
    s_k = metrics.singular_values(data.targets)[num_classes - 1]
    eps1 = jnp.linalg.norm(layers.features[-1] - data.targets)
    return {
        "competitor_c": c,
        "competitor_residual": float(residual),
        "cost_ratio": float(objective / competitor),
        "fit_gain": float((s_k - eps1) / metrics.spectral_norm(layers.features[first - 1])),
    }


def gradient_quantities(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decay: float,
) -> dict[str, float]:
    """From one gradient G of the data loss (docs/theory/jacot2025.md):

    - grad_balance_bound: (||W_L|| ||grad_L|| + ||grad_{L-1}|| ||W_{L-1}||) / lambda, grad the
      gradient of the regularised objective (data loss + lambda/2 ||theta||^2): an upper bound
      on eps2_last at any point, 0 at a critical point (the identity lambda D =
      W_{l+1}^T grad_{l+1} - grad_l W_l^T follows from W_{l+1}^T G_{l+1} = G_l W_l^T); inf when
      lambda = 0; NaN for a head of one layer (L2 = 1), which has no pair;
    - head_grad_sq: g^2 = max over head layers of ||G_l||_op^2, the gradient floor of the
      Section 4 balancedness recursion;
    - relative_stationarity: ||G + lambda theta||_2 / ||lambda theta||_2 over every parameter,
      how far the point is from a critical point of the regularised objective relative to the
      weight-decay force (0 at a critical point, where G = -lambda theta; inf when lambda = 0):
      the gradient half of the regime atlas' convergence criterion.
    """
    grads = jax.grad(data_loss_fn(model, config))(params, data.x, data.targets)
    flat_grads, _ = jax.flatten_util.ravel_pytree(grads)
    flat_params, _ = jax.flatten_util.ravel_pytree(params)
    force = weight_decay * jnp.linalg.norm(flat_params)
    residual = jnp.linalg.norm(flat_grads + weight_decay * flat_params)
    stationarity = float(residual / force) if weight_decay > 0 else float("inf")
    head, head_grads = linear_layers(model, params), linear_layers(model, grads)
    last_two = [p["w"] for p in head[-2:]]
    if model.num_linear < 2:  # no pair in the head (L2 = 1)
        bound = float("nan")
    elif weight_decay > 0:
        bound = float(balance_bound(last_two, [g["w"] for g in head_grads[-2:]], weight_decay))
    else:
        bound = float("inf")
    return {
        "grad_balance_bound": bound,
        "head_grad_sq": max(_op(g["w"]) ** 2 for g in head_grads),
        "relative_stationarity": stationarity,
    }


def balance_bound(
    weights: Sequence[jax.Array], data_grads: Sequence[jax.Array], weight_decay: Any
) -> jax.Array:
    """(||W_L|| ||grad_L|| + ||grad_{L-1}|| ||W_{L-1}||) / lambda from [W_{L-1}, W_L] and the
    data-loss gradients [G_{L-1}, G_L] (grad = G + lambda W, the regularised objective's);
    traceable."""
    (w_prev, w_last), (g_prev, g_last) = weights, data_grads
    op = metrics.spectral_norm
    full_prev, full_last = g_prev + weight_decay * w_prev, g_last + weight_decay * w_last
    return (op(w_last) * op(full_last) + op(full_prev) * op(w_prev)) / weight_decay


@functools.partial(jax.jit, static_argnums=0)
def _ntk_matvec(model: Model, params: Params, x: jax.Array, v: jax.Array) -> jax.Array:
    """Theta v = J (J^T v) for an output-space v (N, K), through one VJP and one JVP (compiled
    once per model and shapes: eagerly, every product re-traced the network, 2.4x slower for a
    ResNet20 on 50 images)."""

    def output(p):
        return model.apply(p, x)[0]

    _, pullback = jax.vjp(output, params)
    return jax.jvp(output, (params,), pullback(v))[1]


def ntk_top_eigenvalue(
    model: Model,
    params: Params,
    x: jax.Array,
    num_outputs: int,
    max_iterations: int = 500,
    tolerance: float = 1e-10,
) -> tuple[float, float]:
    """lambda_max of the NTK Theta = J J^T (N K x N K), J = d vec(Z_L) / d theta, by Lanczos
    iteration (nc_jax.metrics.krylov) from a fixed random start (seed 0), until the top Ritz
    value changes by less than ``tolerance`` (relative) or after ``max_iterations`` products.
    Every estimate is <= lambda_max, and the start is independent of the first-linear-layer
    block whose eigenvalue the Section 5.2 bound uses, so the check is not met by construction.

    Returns:
        (estimate, relative change over the last iteration): a change above the check's
        convergence hypothesis makes it vacuous; (0, 0) when Theta v = 0 (a constant network).
    """
    shape = (x.shape[0], num_outputs)
    start = jax.random.normal(jax.random.key(0), shape, dtype=x.dtype)

    def matvec(v: np.ndarray) -> np.ndarray:
        image = _ntk_matvec(model, params, x, jnp.asarray(v.reshape(shape), x.dtype))
        return np.asarray(image, np.float64).ravel()

    return krylov.lanczos_top_eigenvalue(
        matvec, np.asarray(start, np.float64).ravel(), max_iterations, tolerance
    )


@functools.partial(jax.jit, static_argnums=(0, 1))
def _objective_hvp(
    model: Model,
    config: TrainConfig,  # update_config(...): one program for every cell of a sweep
    params: Params,
    data: TrainData,
    weight_decay: jax.Array,
    v: Params,
) -> Params:
    """H v, H the Hessian of the objective GD descends (the engine's data loss + weight_decay / 2
    sum_leaf scale ||leaf||^2), by forward-over-reverse differentiation."""

    def objective(p):
        data_term = data_loss_fn(model, config)(p, data.x, data.targets)
        return data_term + weight_decay / 2 * regulariser(model, p)

    return jax.jvp(jax.grad(objective), (params,), (v,))[1]


def hessian_top_eigenvalue(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decay: float,
    max_iterations: int = 500,
    tolerance: float = 1e-10,
) -> tuple[float, float]:
    """lambda_max of the Hessian of the regularised objective at ``params`` (P x P, P the
    parameter count), by Lanczos iteration on Hessian-vector products from a fixed random start
    (seed 1): the sharpness that decides GD's stability, eta lambda_max <= 2 (Section 5.2's
    edge of stability). Every estimate is <= lambda_max (the Hessian may be indefinite; Lanczos
    approaches its largest eigenvalue from below).

    Returns:
        (estimate, relative change over the last iteration), as ``ntk_top_eigenvalue``.
    """
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    decay = jnp.asarray(weight_decay, flat.dtype)
    key = update_config(config)

    def matvec(v: np.ndarray) -> np.ndarray:
        image = _objective_hvp(model, key, params, data, decay, unravel(jnp.asarray(v)))
        return np.asarray(jax.flatten_util.ravel_pytree(image)[0], np.float64)

    start = jax.random.normal(jax.random.key(1), flat.shape, dtype=flat.dtype)
    return krylov.lanczos_top_eigenvalue(
        matvec, np.asarray(start, np.float64), max_iterations, tolerance
    )


def _pair_differences(matrices: list[jax.Array]) -> list[jax.Array]:
    """A_{l+1}^T A_{l+1} - A_l A_l^T for consecutive (A_l, A_{l+1}): D_l for weights, E_l for
    gradients (docs/theory/jacot2025.md)."""
    gram = metrics.stats.gram
    return [gram(upper.T) - gram(lower) for lower, upper in zip(matrices[:-1], matrices[1:])]


def _sym_op(a: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(linalg.eigvalsh(a)))


@functools.lru_cache(maxsize=8)
def _replay_program(model: Model, config: TrainConfig, steps: int):
    """jit(scan) of ``steps`` engine steps of one run, with per step the recursion residual
    ||D(t+1) - (1-eta lambda)^2 D(t) - eta^2 E(t)||_op of every head pair and the weight scale
    max ||W||_op^2. Cached per (model, update_config(config), steps): learning rate and weight
    decay live in the state, so every run, and every cell of a sweep that differs only in what
    a step does not read (its training length, its logging), reuses one compiled program."""
    step = make_step(model, config)
    grad_fn = jax.grad(data_loss_fn(model, config))

    def body(current: RunState, data: TrainData):
        decay = 1 - current.learning_rate * current.weight_decay
        eta = current.learning_rate
        grads = grad_fn(current.params, data.x, data.targets)
        weights = [p["w"] for p in linear_layers(model, current.params)]
        d = _pair_differences(weights)
        e = _pair_differences([g["w"] for g in linear_layers(model, grads)])
        following = step(current, data)
        d_next = _pair_differences([p["w"] for p in linear_layers(model, following.params)])
        residual = jnp.stack(
            [_sym_op(n - decay**2 * a - eta**2 * b) for n, a, b in zip(d_next, d, e)]
        )
        scale = jnp.max(jnp.stack([metrics.spectral_norm(w) ** 2 for w in weights]))
        return following, (residual, scale)

    return jax.jit(
        lambda state, data: jax.lax.scan(lambda s, _: body(s, data), state, None, length=steps)
    )


def replay_balancedness(
    model: Model, config: TrainConfig, state: RunState, data: TrainData, steps: int
) -> dict[str, Any]:
    """Replay ``steps`` engine steps of one run in float64 and test the exact balancedness
    recursion of every head pair (docs/theory/jacot2025.md, Section 4):

        D(t+1) = (1 - eta lambda)^2 D(t) + eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T)

    The step is the engine's own ``make_step`` (so the check tests the engine's update); G is
    the gradient of the data loss computed here independently.

    Args:
        state: ONE run's state (no run axis), float64 leaves.

    Returns:
        recursion_residual: max_t ||residual(t)||_op / max_t max(||W_l||^2, ||W_{l+1}||^2),
            over pairs, NaN when the head has no pair (L2 = 1) (eps2 along training is the
            engine's log, not the replay's).
    """
    if model.num_linear < 2:  # a head of one layer has no pair to replay (L2 = 1)
        return {"recursion_residual": float("nan")}
    _, (residuals, scales) = _replay_program(model, update_config(config), steps)(state, data)
    return {"recursion_residual": float(jnp.max(residuals) / jnp.max(scales))}
