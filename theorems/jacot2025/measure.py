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
from jax.sharding import Mesh

from nc_jax import metrics
from nc_jax.metrics import krylov, linalg
from nc_jax.models.activations import meets_assumption_4_2
from nc_jax.models.base import Layers, Model, Params
from nc_jax.train import (
    RunState,
    TrainConfig,
    TrainData,
    jit_run_once,
    make_step,
    regulariser,
    update_config,
)
from nc_jax.train.devices import per_device
from nc_jax.train.losses import get_loss


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


def _head_of(model: Model, params: Params, x: jax.Array):
    """(features, head weights, L1, Layers) of one network's forward pass: the features from
    Z_{L1} (or Z_{L-2} when L2 = 1) as ``head_quantities`` reads them and W_{L1+1}..W_L."""
    _, layers = model.apply(params, x)
    first = num_nonlinear(model, layers)
    weights = layers.weights
    if first < 0 or any(w is None for w in weights[first:]):
        raise ValueError("model must end in a dense linear head of num_linear layers")
    every = [x, *layers.features]  # Z_0 = X, Z_1, ..., Z_L
    features = every[min(first, len(every) - 3) :]  # from Z_{L1}, or Z_{L-2} when L2 = 1
    return features, weights[first:], first, layers


def network_values(
    model: Model, params: Params, x: jax.Array, y: jax.Array, num_classes: int
) -> dict[str, jax.Array]:
    """``head_quantities`` of one network on its own features, as JAX scalars (traceable: the
    batched measurement vmaps it over runs)."""
    features, head, _, _ = _head_of(model, params, x)
    return head_quantities(features, head, y, num_classes)


def network_constants(
    model: Model, params: Params, x: jax.Array, y: jax.Array, num_classes: int
) -> dict[str, float]:
    """What the shapes and labels alone fix (equal for every run of a batch; ``params`` of ONE
    run, only their shapes are read): s_K_Y, N, K, n_penultimate, L1, L2, head_bias_free and
    class_imbalance."""
    found: dict[str, float] = {}

    def structure(p: Params) -> jax.Array:  # traced on shapes only (jax.eval_shape)
        features, _, first, layers = _head_of(model, p, x)
        found["n_penultimate"] = int(features[-2].shape[1])
        found["L1"] = first
        found["head_bias_free"] = float(all(b is None for b in layers.biases[first:]))
        return jnp.zeros(())

    jax.eval_shape(structure, params)
    counts = np.bincount(np.asarray(y), minlength=num_classes)
    return found | {
        "s_K_Y": float(metrics.label_singular_value(y, num_classes)),
        "N": int(x.shape[0]),
        "K": num_classes,
        "L2": model.num_linear,
        "class_imbalance": int(counts.max() - counts.min()),
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
        Python floats: those of ``head_quantities`` (on the model's own features) and of
        ``network_constants``.
    """
    values = network_values(model, params, x, y, num_classes)
    return python_floats(values) | network_constants(model, params, x, y, num_classes)


INITIAL_NAMES = ("eps2", "nc1", "kappa_M", "cos_min", "kappa_WL", "kappa_head")


def initial_values(
    model: Model, params: Params, x: jax.Array, y: jax.Array, num_classes: int
) -> dict[str, jax.Array]:
    """The traced part of ``initial_quantities`` (JAX scalars): theta0_norm, lambda_F_init
    (convolutional backbones aside) and ``<name>_init`` for every name of INITIAL_NAMES."""
    features, head, _, layers = _head_of(model, params, x)
    untrained = head_quantities(features, head, y, num_classes)
    leaves = jax.tree_util.tree_leaves(params)
    values = {"theta0_norm": jnp.sqrt(sum(jnp.sum(leaf**2) for leaf in leaves))}
    values |= {f"{name}_init": untrained[name] for name in INITIAL_NAMES}
    if layers.weights[0] is not None:
        first = layers.features[0]
        full_rank = first.shape[1] >= first.shape[0]
        smallest = metrics.singular_values(first)[-1]
        values["lambda_F_init"] = smallest if full_rank else jnp.zeros((), first.dtype)
    return values


def initial_constants(model: Model, params: Params, x: jax.Array) -> dict[str, float]:
    """The architecture's part of ``initial_quantities`` (``params`` of ONE run, only their
    shapes are read): smooth_activation, n1 and pyramidal (NaN, with lambda_F_init, for a
    convolutional backbone)."""
    found: dict[str, float] = {}

    def structure(p: Params) -> jax.Array:  # traced on shapes only (jax.eval_shape)
        _, layers = model.apply(p, x)
        if layers.weights[0] is None:  # a convolutional backbone: Section 4 speaks of MLPs
            found.update(n1=math.nan, pyramidal=math.nan, lambda_F_init=math.nan)
        else:
            widths = [w.shape[0] for w in layers.weights]
            found["n1"] = int(widths[0])
            found["pyramidal"] = float(all(a >= b for a, b in zip(widths[1:-1], widths[2:])))
        return jnp.zeros(())

    jax.eval_shape(structure, params)
    activation = getattr(model, "activation", "relu")
    return found | {"smooth_activation": float(meets_assumption_4_2(activation))}


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
    values = python_floats(initial_values(model, params, x, y, num_classes))
    return values | initial_constants(model, params, x)


def data_loss_fn(model: Model, config: TrainConfig):
    """params, x, targets -> the engine's data loss (its loss and reduction)."""
    loss = get_loss(config.loss)
    return lambda params, x, targets: loss(model.apply(params, x)[0], targets, config.reduction)


COMPETITOR_NAMES = ("competitor_c", "competitor_residual", "cost_ratio", "fit_gain")


def competitor_values(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decay: Any,
) -> dict[str, jax.Array]:
    """Section 5.1's competitor (docs/theory/jacot2025.md, Theorem 5.2): the network of the same
    architecture whose non-linear part outputs the labels, Z_{L1} = [Y, 0], and whose head
    passes them on through identity-like layers (cost K each). Its non-linear part keeps the
    trained layers 1..L1-1 and takes the least-norm last non-linear layer W' = (Z_{L1-1}^+
    [Y, 0])^T (its bias 0), exact when Z_{L1-1} has rank N; ReLU keeps Y >= 0 unchanged.
    Traceable (``weight_decay`` may be a traced scalar).

    Returns JAX scalars:
        competitor_c: c = ||theta_nonlin||^2 of that non-linear part;
        competitor_residual: ||Z_{L1-1} W'^T - [Y, 0]||_F / ||Y||_F (0 when it fits exactly);
        cost_ratio: the trained network's objective (data loss + lambda/2 ||theta||^2) over the
            competitor's lambda/2 (c + L2 K) (<= 1: no worse than the competitor, the
            premise Theorem 5.2's bound needs at a global minimiser);
        fit_gain: a = (s_K(Y) - eps1) / ||Z_{L1}||_op, so that s_K(W_{L:L1+1}) >= a;
        every value NaN for a convolutional backbone, L1 = 0, or layers narrower than K.
    """
    nan = jnp.full((), jnp.nan, data.x.dtype)
    first = model.num_nonlinear
    if isinstance(params, dict) or first < 1:
        return dict.fromkeys(COMPETITOR_NAMES, nan)
    _, layers = model.apply(params, data.x)
    num_classes = data.targets.shape[1]
    widths = [w.shape[0] for w in layers.weights]
    if min(widths[first - 1 :]) < num_classes:
        return dict.fromkeys(COMPETITOR_NAMES, nan)
    inputs = data.x if first == 1 else layers.features[first - 2]
    labels = jnp.pad(data.targets, ((0, 0), (0, widths[first - 1] - num_classes)))
    last = jnp.linalg.pinv(inputs) @ labels  # (n_{L1-1}, n_{L1}): W'^T
    kept = jax.tree_util.tree_leaves(params[: first - 1])
    c = sum(jnp.sum(leaf**2) for leaf in kept) + jnp.sum(last**2)
    residual = jnp.linalg.norm(inputs @ last - labels) / jnp.linalg.norm(data.targets)
    objective = data_loss_fn(model, config)(params, data.x, data.targets)
    objective = objective + weight_decay / 2 * regulariser(model, params)
    competitor = weight_decay / 2 * (c + model.num_linear * num_classes)
    s_k = metrics.singular_values(data.targets)[num_classes - 1]
    eps1 = jnp.linalg.norm(layers.features[-1] - data.targets)
    return {
        "competitor_c": c,
        "competitor_residual": residual,
        "cost_ratio": objective / competitor,
        "fit_gain": (s_k - eps1) / metrics.spectral_norm(layers.features[first - 1]),
    }


def gradient_values(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decay: Any,
) -> dict[str, jax.Array]:
    """From one gradient G of the data loss (docs/theory/jacot2025.md), as JAX scalars
    (traceable; ``weight_decay`` may be a traced scalar):

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
    decayed = weight_decay > 0
    force = weight_decay * jnp.linalg.norm(flat_params)
    residual = jnp.linalg.norm(flat_grads + weight_decay * flat_params)
    inf = jnp.full((), jnp.inf, flat_params.dtype)
    head, head_grads = linear_layers(model, params), linear_layers(model, grads)
    if model.num_linear < 2:  # no pair in the head (L2 = 1)
        bound = jnp.full((), jnp.nan, flat_params.dtype)
    else:
        last_two = [p["w"] for p in head[-2:]]
        safe_decay = jnp.where(decayed, weight_decay, 1.0)
        pair_bound = balance_bound(last_two, [g["w"] for g in head_grads[-2:]], safe_decay)
        bound = jnp.where(decayed, pair_bound, inf)
    return {
        "grad_balance_bound": bound,
        "head_grad_sq": jnp.max(jnp.stack([metrics.spectral_norm(g["w"]) for g in head_grads]))
        ** 2,
        "relative_stationarity": jnp.where(decayed, residual / jnp.where(decayed, force, 1.0), inf),
    }


def python_floats(values: dict[str, jax.Array]) -> dict[str, float]:
    """The JAX scalars of one network's ``*_values`` as Python floats."""
    return {key: float(value) for key, value in values.items()}


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


def _ntk_matvec(model: Model, params: Params, x: jax.Array, v: jax.Array) -> jax.Array:
    """Theta v = J (J^T v) for an output-space v (N, K) of one network, through one VJP and
    one JVP."""

    def output(p):
        return model.apply(p, x)[0]

    _, pullback = jax.vjp(output, params)
    return jax.jvp(output, (params,), pullback(v))[1]


@functools.lru_cache(maxsize=16)
def _ntk_products(model: Model, num_outputs: int, mesh: Mesh | None):
    """jit(vmap(Theta v)) over runs: (params (R, ...), v (R, N K)), x -> (R, N K); per device
    over ``mesh`` (compiled once per model and shapes: eagerly, every product re-traced the
    network, 2.4x slower for a ResNet20 on 50 images)."""

    def one(params: Params, v: jax.Array, x: jax.Array) -> jax.Array:
        shape = (x.shape[0], num_outputs)
        return _ntk_matvec(model, params, x, v.reshape(shape)).ravel()

    batched = jax.vmap(one, in_axes=(0, 0, None))
    return jax.jit(per_device(lambda runs, x: batched(*runs, x), mesh))


def ntk_top_eigenvalues(
    model: Model,
    params: Params,
    x: jax.Array,
    num_outputs: int,
    max_iterations: int = 500,
    tolerance: float = 1e-10,
    mesh: Mesh | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """lambda_max of the NTK Theta = J J^T (N K x N K), J = d vec(Z_L) / d theta, of every run
    of a batch (``params`` with a leading run axis R, float64), by Lanczos iteration
    (nc_jax.metrics.krylov) from a fixed random start (``_lanczos_over_runs`` with seed 0, the
    same for every run), until the top Ritz value changes by less than ``tolerance``
    (relative) or after ``max_iterations`` products. Every estimate is <= lambda_max, and the
    start is independent of the first-linear-layer block whose eigenvalue the Section 5.2
    bound uses, so the check is not met by construction. The products of all runs are one
    compiled program per step, sharded over ``mesh`` (its size must divide R).

    Returns:
        (estimates, relative changes over the last iteration), each (R,): a change above the
        check's convergence hypothesis makes it vacuous; (0, 0) where Theta v = 0 (a constant
        network).
    """
    products = _ntk_products(model, num_outputs, mesh)
    return _lanczos_over_runs(
        lambda v: products((params, np.asarray(v, x.dtype)), x),
        _num_runs(params),
        x.shape[0] * num_outputs,
        0,
        max_iterations,
        tolerance,
    )


def ntk_top_eigenvalue(
    model: Model,
    params: Params,
    x: jax.Array,
    num_outputs: int,
    max_iterations: int = 500,
    tolerance: float = 1e-10,
) -> tuple[float, float]:
    """``ntk_top_eigenvalues`` of ONE network (``params`` without a run axis)."""
    estimates, changes = ntk_top_eigenvalues(
        model, _one_run(params), x, num_outputs, max_iterations, tolerance
    )
    return float(estimates[0]), float(changes[0])


def _objective_hvp(
    model: Model, config: TrainConfig, params: Params, data: TrainData, weight_decay, v: Params
) -> Params:
    """H v, H the Hessian of the objective GD descends (the engine's data loss + weight_decay / 2
    sum_leaf scale ||leaf||^2), by forward-over-reverse differentiation."""

    def objective(p):
        data_term = data_loss_fn(model, config)(p, data.x, data.targets)
        return data_term + weight_decay / 2 * regulariser(model, p)

    return jax.jvp(jax.grad(objective), (params,), (v,))[1]


@functools.lru_cache(maxsize=16)
def _hessian_products(model: Model, config: TrainConfig, mesh: Mesh | None):
    """jit(vmap(H v)) over runs: (params, weight_decay (R,), v (R, P)), data -> (R, P), flat
    vectors in ``ravel_pytree`` order; ``config`` is ``update_config(...)``, so one program
    serves every cell of a sweep."""

    def one(params: Params, weight_decay: jax.Array, v: jax.Array, data: TrainData):
        _, unravel = jax.flatten_util.ravel_pytree(params)
        image = _objective_hvp(model, config, params, data, weight_decay, unravel(v))
        return jax.flatten_util.ravel_pytree(image)[0]

    batched = jax.vmap(one, in_axes=(0, 0, 0, None))
    return jax.jit(per_device(lambda runs, data: batched(*runs, data), mesh))


def hessian_top_eigenvalues(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decays: Any,
    max_iterations: int = 500,
    tolerance: float = 1e-10,
    mesh: Mesh | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """lambda_max of the Hessian of the regularised objective (P x P, P the parameter count)
    of every run of a batch (``params`` with a leading run axis R, float64; ``weight_decays``
    (R,) their lambda), by Lanczos iteration on Hessian-vector products from a fixed random
    start (``_lanczos_over_runs`` with seed 1, the same for every run): the sharpness that decides
    GD's stability, eta lambda_max <= 2 (Section 5.2's edge of stability). Every estimate is
    <= lambda_max (the Hessian may be indefinite; Lanczos approaches its largest eigenvalue
    from below).

    Returns:
        (estimates, relative changes over the last iteration), each (R,), as
        ``ntk_top_eigenvalues``.
    """
    leaves = jax.tree_util.tree_leaves(params)
    num_runs, dtype = _num_runs(params), leaves[0].dtype
    size = sum(leaf.size // num_runs for leaf in leaves)  # P, the flattened parameters
    decays = np.broadcast_to(np.asarray(weight_decays, dtype), (num_runs,))
    products = _hessian_products(model, update_config(config), mesh)
    return _lanczos_over_runs(
        lambda v: products((params, decays, np.asarray(v, dtype)), data),
        num_runs,
        size,
        1,
        max_iterations,
        tolerance,
    )


def hessian_top_eigenvalue(
    model: Model,
    config: TrainConfig,
    params: Params,
    data: TrainData,
    weight_decay: float,
    max_iterations: int = 500,
    tolerance: float = 1e-10,
) -> tuple[float, float]:
    """``hessian_top_eigenvalues`` of ONE network (``params`` without a run axis)."""
    estimates, changes = hessian_top_eigenvalues(
        model, config, _one_run(params), data, weight_decay, max_iterations, tolerance
    )
    return float(estimates[0]), float(changes[0])


def _lanczos_over_runs(
    product: Any, num_runs: int, size: int, seed: int, max_iterations: int, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """krylov.lanczos_top_eigenvalues of R operators of dimension ``size``, ``product`` mapping
    (R, size) vectors to their images (one compiled call for every run), every run from the
    same fixed random start: standard normal, float64, drawn on the host (NumPy's PCG64 with
    ``seed``)."""
    start = np.random.default_rng(seed).standard_normal(size)
    return krylov.lanczos_top_eigenvalues(
        lambda v: np.asarray(product(v), np.float64),
        np.broadcast_to(start, (num_runs, size)),
        max_iterations,
        tolerance,
    )


def _num_runs(params: Params) -> int:
    """R, the leading run axis of a batch of parameters."""
    return int(jax.tree_util.tree_leaves(params)[0].shape[0])


def _one_run(tree: Any) -> Any:
    """``tree`` with a leading run axis of length one."""
    return jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf)[None], tree)


def _pair_differences(matrices: list[jax.Array]) -> list[jax.Array]:
    """A_{l+1}^T A_{l+1} - A_l A_l^T for consecutive (A_l, A_{l+1}): D_l for weights, E_l for
    gradients (docs/theory/jacot2025.md)."""
    gram = metrics.stats.gram
    return [gram(upper.T) - gram(lower) for lower, upper in zip(matrices[:-1], matrices[1:])]


def _sym_op(a: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(linalg.eigvalsh(a)))


def replay_residual(
    model: Model, config: TrainConfig, state: RunState, data: TrainData, steps: int
) -> jax.Array:
    """The Section 4 recursion residual of ``steps`` engine steps of ONE run from ``state``
    (traceable; float64 leaves): max_t ||D(t+1) - (1-eta lambda)^2 D(t) - eta^2 E(t)||_op over
    every head pair, over max_t of the weight scale max ||W||_op^2 (see
    ``replay_balancedness``); NaN when the head has no pair (L2 = 1)."""
    if model.num_linear < 2:  # a head of one layer has no pair to replay (L2 = 1)
        return jnp.full((), jnp.nan, state.learning_rate.dtype)
    step = make_step(model, config)
    grad_fn = jax.grad(data_loss_fn(model, config))

    def body(current: RunState, _):
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

    _, (residuals, scales) = jax.lax.scan(body, state, None, length=steps)
    return jnp.max(residuals) / jnp.max(scales)


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
    residual = jax.jit(replay_residual, static_argnums=(0, 1, 4))(
        model, update_config(config), state, data, steps
    )
    return {"recursion_residual": float(residual)}


@functools.lru_cache(maxsize=16)
def _quantities_program(
    model: Model, config: TrainConfig, replay_steps: int, num_classes: int, mesh: Mesh | None
):
    """jit(vmap) over runs of every traced quantity of ``measure_runs`` but the Lanczos
    estimates: (final states, initial params), data -> {name: (R,)}; per device over ``mesh``;
    cached per (model, update_config(config), replay_steps, K, mesh), so a sweep compiles it
    once per shape, and compiled for a short compilation (nc_jax.train.jit_run_once: it runs
    once per bucket)."""

    def one(run: RunState, start: Params, data: TrainData) -> dict[str, jax.Array]:
        decay = run.weight_decay
        values = network_values(model, run.params, data.x, data.y, num_classes)
        values |= initial_values(model, start, data.x, data.y, num_classes)
        values |= gradient_values(model, config, run.params, data, decay)
        values |= competitor_values(model, config, run.params, data, decay)
        values["recursion_residual"] = replay_residual(model, config, run, data, replay_steps)
        return values

    batched = jax.vmap(one, in_axes=(0, 0, None))
    return jit_run_once(per_device(lambda runs, data: batched(*runs, data), mesh))


def measure_runs(
    model: Model,
    config: TrainConfig,
    state: RunState,
    initial: Params,
    data: TrainData,
    replay_steps: int,
    ntk_iterations: int,
    mesh: Mesh | None = None,
) -> dict[str, np.ndarray]:
    """Every quantity of ``network_quantities``, ``initial_quantities``, ``gradient_values``,
    ``competitor_values`` and ``replay_balancedness``, with the NTK and Hessian Lanczos
    estimates, for a batch of R runs at once: one compiled program
    (vmapped over the runs, sharded over ``mesh``, whose size must divide R) and three batched
    Lanczos iterations, in place of R measurements one after another. Equal to the per-run
    functions to float64 rounding (tests/test_theorems_jacot2025.py).

    Args:
        state: the runs' states (leading run axis R, float64 leaves: call under x64); their
            ``weight_decay`` is the lambda of the gradient, competitor and Hessian quantities
            and of the replay.
        initial: their initial parameters (run axis R, float64).
        data: the float64 training set (TrainData).
        replay_steps: engine steps of the Section 4 replay; ntk_iterations: the most Lanczos
            products of each estimate.

    Returns:
        {name: (R,) array}, float64 but for the integers the shapes fix (N, K, L1, ...): the
        quantities above plus ntk_lambda_max,
        ntk_relative_change, hessian_lambda_max, hessian_relative_change and
        hessian_lambda_max_init (the sharpness at the initial parameters; an extra, not
        gating: Lanczos estimates are lower bounds, so an unconverged one can only understate
        it).
    """
    num_classes = int(data.targets.shape[1])
    key = update_config(config)
    program = _quantities_program(model, key, replay_steps, num_classes, mesh)
    traced = program((state, initial), data)
    values = {name: np.asarray(value, np.float64) for name, value in traced.items()}
    one_run = jax.tree_util.tree_map(  # shapes only: the constants read nothing else
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype), state.params
    )
    num_runs = _num_runs(state.params)
    constants = network_constants(model, one_run, data.x, data.y, num_classes)
    constants |= initial_constants(model, one_run, data.x)
    values |= {name: np.full(num_runs, value) for name, value in constants.items()}
    ntk = ntk_top_eigenvalues(model, state.params, data.x, num_classes, ntk_iterations, mesh=mesh)
    decays = state.weight_decay
    sharpness = hessian_top_eigenvalues(
        model, key, state.params, data, decays, ntk_iterations, mesh=mesh
    )
    sharpness_init = hessian_top_eigenvalues(
        model, key, initial, data, decays, ntk_iterations, mesh=mesh
    )
    values.update(
        ntk_lambda_max=ntk[0],
        ntk_relative_change=ntk[1],
        hessian_lambda_max=sharpness[0],
        hessian_relative_change=sharpness[1],
        hessian_lambda_max_init=sharpness_init[0],
    )
    return values
