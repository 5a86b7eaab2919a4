"""Instance families for ``nc-jax falsify jacot2025...`` (nc_jax.falsify).

An instance is a deep linear head on free features (the unconstrained-features view of the
network: Z_{L1} is a parameter, as the trunk's output would be), balanced one-hot labels, a
weight decay lambda and a learning rate eta. Its quantities are those a trained network's checks
read (theorems.jacot2025.measure.head_quantities), plus, for the Section 5 checks, the gradient
balance bound of the regularised objective and lambda_max of the NTK of this model (features and
head weights are its parameters), computed exactly from the Jacobian. The trivial references
(``*_init``) are NaN: a search needs no reference.

Three kinds of start (the first two as in a randomised validation of the bounds):
- ``near-balanced``: the least-squares head of random class-structured features, factorised
  into L2 balanced layers with random orthogonal frames, plus a random imbalance 10^U(-6, -1)
  (relative), features and head rescaled by 10^U(-1, 1) against each other;
- ``random``: every head layer Gaussian, features Gaussian around random class centres;
- ``unit-scale``: orthonormal class means and their balanced least-squares head, every norm
  near its natural scale (``sample_unit_scale``), where the c3 forms' hypothesis can hold.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax import metrics
from nc_jax.checks import Family
from nc_jax.metrics import linalg
from theorems.jacot2025.measure import balance_bound, head_quantities

# (K, n per class, input width d0, head width, L2): small enough that the exact NTK
# (N K x N K) is cheap, varied enough to cover both head depths and wide/narrow heads.
SHAPES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 4, 6, 6, 2),
    (4, 3, 8, 7, 3),
    (3, 3, 5, 4, 4),
)
TRIVIAL_NAMES = ("nc1_init", "kappa_M_init", "cos_min_init", "kappa_WL_init", "kappa_head_init")


def _labels(num_classes: int, per_class: int) -> np.ndarray:
    """Balanced labels (NumPy: building the families at import must not start JAX's backend,
    which a multi-host sweep initialises later)."""
    return np.repeat(np.arange(num_classes), per_class)


def _orthonormal(key: jax.Array, rows: int, cols: int) -> jax.Array:
    return linalg.thin_qr(jax.random.normal(key, (rows, cols)))[0]


def _features(key: jax.Array, y: np.ndarray, num_classes: int, width: int) -> jax.Array:
    centres, noise, spread = jax.random.split(key, 3)
    level = 10 ** jax.random.uniform(spread, minval=-2.0, maxval=0.0)
    means = 3 * jax.random.normal(centres, (num_classes, width))
    return means[y] + level * jax.random.normal(noise, (y.size, width))


def _widths(shape: tuple[int, ...]) -> list[int]:
    num_classes, _, d0, width, depth = shape
    return [d0, *([width] * (depth - 1)), num_classes]


def sample_random(key: jax.Array, shape: tuple[int, ...]) -> dict[str, Any]:
    num_classes, per_class, d0, _, _ = shape
    y = _labels(num_classes, per_class)
    keys = jax.random.split(key, 8)
    widths = _widths(shape)
    head = [
        jax.random.normal(k, (n_out, n_in)) / math.sqrt(n_in)
        for k, n_in, n_out in zip(jax.random.split(keys[0], len(widths) - 1), widths, widths[1:])
    ]
    return {
        "features": _features(keys[1], y, num_classes, d0),
        "head": head,
        "log_lambda": jax.random.uniform(keys[2], minval=-7.0, maxval=0.0),
        "log_eta": jax.random.uniform(keys[3], minval=-7.0, maxval=0.0),
    }


def _balanced_factors(keys: jax.Array, fit: jax.Array, width: int, depth: int) -> list:
    """``fit`` (K, d0) factorised into ``depth`` balanced layers through random orthonormal
    frames of ``width``, plus a random imbalance 10^U(-6,-1) relative to each layer's norm."""
    num_classes = fit.shape[0]
    u, s, vt = linalg.thin_svd(fit)
    root = jnp.diag(s ** (1 / depth))
    frames = [_orthonormal(k, width, num_classes) for k in jax.random.split(keys[0], depth - 1)]
    head = [frames[0] @ root @ vt]
    head += [frames[i] @ root @ frames[i - 1].T for i in range(1, depth - 1)]
    head.append(u @ root @ frames[-1].T)
    imbalance = 10 ** jax.random.uniform(keys[1], minval=-6.0, maxval=-1.0)
    noise = jax.random.split(keys[2], depth)
    return [
        w + imbalance * metrics.spectral_norm(w) * jax.random.normal(k, w.shape) / 3
        for w, k in zip(head, noise)
    ]


def _hyperparameters(keys: jax.Array) -> dict[str, jax.Array]:
    return {
        "log_lambda": jax.random.uniform(keys[0], minval=-7.0, maxval=0.0),
        "log_eta": jax.random.uniform(keys[1], minval=-7.0, maxval=0.0),
    }


def sample_near_balanced(key: jax.Array, shape: tuple[int, ...]) -> dict[str, Any]:
    num_classes, per_class, d0, width, depth = shape
    y = _labels(num_classes, per_class)
    keys = jax.random.split(key, 8)
    features = _features(keys[0], y, num_classes, d0)
    left, values, right = linalg.thin_svd(features)  # least squares: pinv(F) = V S^-1 U^T
    fit = (right.T @ ((left.T @ jax.nn.one_hot(y, num_classes)) / values[:, None])).T  # (K, d0)
    head = _balanced_factors(keys[1:4], fit, width, depth)
    scale = 10 ** jax.random.uniform(keys[4], minval=-1.0, maxval=1.0)
    head[0] = head[0] / scale
    return {"features": features * scale, "head": head} | _hyperparameters(keys[5:7])


def sample_unit_scale(key: jax.Array, shape: tuple[int, ...]) -> dict[str, Any]:
    """Orthonormal class means (K <= d0) plus noise 10^U(-3,-1), and the balanced
    factorisation of their exact least-squares head (the means themselves): every head layer
    has singular values near 1 and every representation norms near s_K(Y) = sqrt(n), so r is
    close to s_K(Y) and ((s_K(Y) - eps1)/r)^(2 L2) > 2e can hold: the regime of the c3 forms
    and of the composite head bound, which the other two kinds almost never reach."""
    num_classes, per_class, d0, width, depth = shape
    y = _labels(num_classes, per_class)
    keys = jax.random.split(key, 8)
    means = _orthonormal(keys[0], d0, num_classes).T  # (K, d0), orthonormal rows
    level = 10 ** jax.random.uniform(keys[1], minval=-3.0, maxval=-1.0)
    features = means[y] + level * jax.random.normal(keys[2], (y.size, d0))
    head = _balanced_factors(keys[3:6], means, width, depth)
    return {"features": features, "head": head} | _hyperparameters(keys[6:8])


def _forward(features: jax.Array, head: list[jax.Array]) -> list[jax.Array]:
    out = [features]
    for w in head:
        out.append(out[-1] @ w.T)
    return out


def instance_quantities(params: dict[str, Any], y: np.ndarray, num_classes: int) -> dict:
    """Every array quantity the consequence checks read, for one instance (traceable)."""
    head, features = params["head"], params["features"]
    targets = jax.nn.one_hot(y, num_classes, dtype=features.dtype)
    q = head_quantities(_forward(features, head), head, y, num_classes)
    lam, eta = jnp.exp(params["log_lambda"]), jnp.exp(params["log_eta"])

    def data_loss(weights):
        return 0.5 * jnp.sum((_forward(features, weights)[-1] - targets) ** 2)

    grads = jax.grad(data_loss)(head)
    jacobian = jax.jacfwd(lambda p: _forward(p[0], p[1])[-1].ravel())((features, head))
    blocks = [j.reshape(j.shape[0], -1) for j in jax.tree_util.tree_leaves(jacobian)]
    flat = jnp.concatenate(blocks, axis=1)  # (N K, parameters)
    ntk_max = linalg.eigvalsh(flat @ flat.T)[-1]
    nan = jnp.asarray(jnp.nan, features.dtype)
    return (
        q
        | {
            "weight_decay": lam,
            "grad_balance_bound": balance_bound(head[-2:], grads[-2:], lam),
            "ntk_lambda_max": ntk_max,
            "ntk_relative_change": jnp.zeros_like(lam),
            "step_scale": eta,
            "stability_product": eta * ntk_max,
        }
        | {name: nan for name in TRIVIAL_NAMES}
    )


def _family(kind: str, shape: tuple[int, ...]) -> Family:
    num_classes, per_class, _, width, depth = shape
    y = _labels(num_classes, per_class)
    sample = SAMPLERS[kind]
    return Family(
        name=f"{kind} K={num_classes} n={per_class} width={width} L2={depth}",
        sample=lambda key: sample(key, shape),
        quantities=lambda params: instance_quantities(params, y, num_classes),
        static={
            "s_K_Y": math.sqrt(per_class),
            "N": num_classes * per_class,
            "K": num_classes,
            "n_penultimate": width,
            "L2": depth,
            "head_bias_free": 1.0,
            "class_imbalance": 0,
        },
    )


SAMPLERS = {
    "near-balanced": sample_near_balanced,
    "random": sample_random,
    "unit-scale": sample_unit_scale,
}
FAMILIES: tuple[Family, ...] = tuple(_family(kind, shape) for kind in SAMPLERS for shape in SHAPES)
