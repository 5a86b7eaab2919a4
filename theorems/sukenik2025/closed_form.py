"""The limit model of Sukenik, Lampert, Mondelli (2025): the normalised-feature unconstrained
features model (docs/theory/sukenik2025.md, derived numerically).

The problem (balanced classes, n samples per class, N = K n, features on a sphere of radius rho
in a subspace of dimension >= K - 1; LayerNorm: rho = sqrt(d) in the mean-zero subspace):

    J*(rho) = min_{W, b, h_i}  (1/N) sum_i loss(W h_i + b, y_i) + (lambda/2) ||W||_F^2
              s.t. ||h_i|| = rho,

with ``loss`` the softmax cross entropy or 1/2 ||. - e_y||^2 (MSE, one-hot targets), the bias
unregularised. Its global optimum is self-dual neural collapse: h_{k,i} = rho u_k, w_k = a u_k,
{u_k} a unit simplex ETF (u_j . u_k = -1/(K-1), j != k), so that with m = a rho K / (K - 1):

- CE (b = 0): a minimises log(1 + (K-1) e^{-m}) + lambda K a^2 / 2, strictly convex in a >= 0,
  at the one root of the stationarity equation rho K e^{-m} / (1 + (K-1) e^{-m}) = lambda K a
  (found here by bisection on [0, rho / (lambda K)], where the left side minus the right side
  goes from rho > 0 to a negative value).
- MSE (b = 1/K): a = rho (K-1) / (K (rho^2 + lambda (K-1))) and
  J* = (1/2)(m - 1)^2 (K-1)/K + lambda K a^2 / 2.

The value is the same for any N and n (the objective averages over samples). It is a lower
bound on the regularised objective of every network whose classifier reads LN features and whose
head weight carries the same lambda (theorems/sukenik2025/bounds.py). It is also the optimum
over the mean-zero BALL ||h_i|| <= rho (derived, docs/theory/sukenik2025.md, "Features in the
ball"): the bound holds for the transformer, whose features lie inside the sphere.
``sphere_ufm_descent`` solves the problem numerically (no ETF assumed) for the tests, on the
sphere or, with ``ball=True``, over the ball.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nc_jax.models.ln_resnet import layer_norm
from nc_jax.train.losses import get_loss

LOSSES: tuple[str, ...] = ("cross_entropy", "mse")
BISECTION_STEPS = 200


class LimitOptimum(NamedTuple):
    """The optimum of the normalised-feature UFM.

    Attributes:
        scale: a, the norm of every classifier row w_k at the optimum.
        value: J*, the optimal objective.
        fit: the data-loss part of J* (mean loss per sample).
        penalty: lambda K a^2 / 2, the head's regulariser at the optimum.
        margin: m = a rho K / (K - 1), the logit of the true class minus any other.
    """

    scale: float
    value: float
    fit: float
    penalty: float
    margin: float


def _check(num_classes: int, radius: float, weight_decay: float) -> None:
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if not radius > 0 or not math.isfinite(radius):
        raise ValueError(f"radius must be a positive number, got {radius}")
    if not weight_decay > 0 or not math.isfinite(weight_decay):
        raise ValueError(
            f"weight_decay must be > 0 (lambda = 0 has no optimum for CE), got {weight_decay}"
        )


def margin(scale: float, num_classes: int, radius: float) -> float:
    """m = a rho K / (K - 1): at the self-dual ETF the true-class logit minus any other."""
    return scale * radius * num_classes / (num_classes - 1)


def ce_fit(scale: float, num_classes: int, radius: float) -> float:
    """log(1 + (K-1) e^{-m}): the cross entropy of every sample at the self-dual ETF."""
    return math.log1p((num_classes - 1) * math.exp(-margin(scale, num_classes, radius)))


def ce_stationarity(scale: float, num_classes: int, radius: float, weight_decay: float) -> float:
    """rho K e^{-m} / (1 + (K-1) e^{-m}) - lambda K a: minus the derivative in a of the CE
    objective; decreasing in a, positive at 0 and zero at the optimum."""
    decay = math.exp(-margin(scale, num_classes, radius))
    pull = radius * num_classes * decay / (1 + (num_classes - 1) * decay)
    return pull - weight_decay * num_classes * scale


def ce_scale(num_classes: int, radius: float, weight_decay: float) -> float:
    """The optimal a of the CE limit model: the root of ``ce_stationarity`` by bisection on
    [0, rho / (lambda K)] (to float64 resolution)."""
    _check(num_classes, radius, weight_decay)
    low, high = 0.0, radius / (weight_decay * num_classes)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if ce_stationarity(mid, num_classes, radius, weight_decay) > 0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def mse_scale(num_classes: int, radius: float, weight_decay: float) -> float:
    """a = rho (K-1) / (K (rho^2 + lambda (K-1))): the optimal a of the MSE limit model with
    an unregularised bias (b = 1/K)."""
    _check(num_classes, radius, weight_decay)
    k = num_classes
    return radius * (k - 1) / (k * (radius**2 + weight_decay * (k - 1)))


def mse_fit(scale: float, num_classes: int, radius: float) -> float:
    """(1/2)(m - 1)^2 (K-1)/K: the mean of 1/2 ||W h + b - e_y||^2 at the self-dual ETF with
    b = 1/K."""
    m = margin(scale, num_classes, radius)
    return 0.5 * (m - 1) ** 2 * (num_classes - 1) / num_classes


def limit_optimum(loss: str, num_classes: int, radius: float, weight_decay: float) -> LimitOptimum:
    """J* and the optimal ETF scale of the normalised-feature UFM (module docstring).

    Args:
        loss: "cross_entropy" or "mse".
        num_classes: K >= 2.
        radius: rho > 0, the feature norm (sqrt(d) after LayerNorm).
        weight_decay: lambda > 0 on the head weight (the bias is free).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss == "cross_entropy":
        scale = ce_scale(num_classes, radius, weight_decay)
        fit = ce_fit(scale, num_classes, radius)
    else:
        scale = mse_scale(num_classes, radius, weight_decay)
        fit = mse_fit(scale, num_classes, radius)
    penalty = weight_decay * num_classes * scale**2 / 2
    return LimitOptimum(scale, fit + penalty, fit, penalty, margin(scale, num_classes, radius))


def simplex_etf(num_classes: int, dim: int) -> np.ndarray:
    """K unit vectors in R^dim (dim >= K) with pairwise inner products -1/(K-1), each with
    coordinate mean 0 when dim > K (so they lie in the LayerNorm image's subspace): the
    centred basis vectors sqrt(K/(K-1)) (e_k - 1/K) embedded in the first K coordinates, then
    rotated off the all-ones direction of R^dim. Shape (K, dim)."""
    if dim < num_classes:
        raise ValueError(f"dim must be >= K = {num_classes} for this construction, got {dim}")
    k = num_classes
    rows = np.zeros((k, dim))
    rows[:, :k] = np.sqrt(k / (k - 1)) * (np.eye(k) - 1.0 / k)
    if dim > k:  # the rows are orthogonal to e_1 + ... + e_K; make them orthogonal to 1_dim too
        ones = np.ones(dim) / np.sqrt(dim)
        rows -= np.outer(rows @ ones, ones)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def etf_point(
    loss: str, y: np.ndarray, num_classes: int, dim: int, weight_decay: float
) -> dict[str, np.ndarray]:
    """The closed-form optimum as a point of the normalised UFM with LayerNorm radius sqrt(dim):
    {"w": (K, dim), "b": (K,), "h": (N, dim)} with h_i = sqrt(dim) u_{y_i}, w_k = a u_k and
    b = 0 (CE) or 1/K (MSE). Needs dim > K (the ETF then fits in the mean-zero subspace)."""
    if dim <= num_classes:
        raise ValueError(f"dim must be > K = {num_classes} here, got {dim}")
    u = simplex_etf(num_classes, dim)
    radius = math.sqrt(dim)
    optimum = limit_optimum(loss, num_classes, radius, weight_decay)
    bias = (
        np.zeros(num_classes) if loss == "cross_entropy" else np.full(num_classes, 1 / num_classes)
    )
    return {"w": optimum.scale * u, "b": bias, "h": radius * u[np.asarray(y)]}


def normalised_features(params: dict[str, jax.Array]) -> jax.Array:
    """h_i = LN(v_i) (N, d), on the sphere of radius sqrt(d) in the mean-zero subspace, times
    clip(s_i, -1, 1) when ``params`` has radius factors "s" (N,): then anywhere in the closed
    mean-zero ball of that radius (a feature set of the transformer's kind; the clip lets
    descent reach the sphere exactly, where a sigmoid would only approach it)."""
    features = layer_norm(params["v"])
    if "s" in params:
        features = features * jnp.clip(params["s"], -1.0, 1.0)[:, None]
    return features


def sphere_ufm_objective(
    params: dict[str, jax.Array], y: jax.Array, loss: str, weight_decay: float
) -> jax.Array:
    """(1/N) sum loss(W h_i + b, y_i) + lambda/2 ||W||_F^2 with h = ``normalised_features``
    of free v (N, d) (and s): the normalised UFM with the LayerNorm radius sqrt(d),
    parametrised through LN itself so that unconstrained descent on (W, b, v) stays on the LN
    image (or in its ball). ``params``: {"w": (K, d), "b": (K,), "v": (N, d)[, "s": (N,)]};
    the engine's loss with reduction "mean"."""
    features = normalised_features(params)
    output = features @ params["w"].T + params["b"]
    targets = jax.nn.one_hot(y, params["w"].shape[0], dtype=output.dtype)
    data = get_loss(loss)(output, targets, "mean")
    return data + 0.5 * weight_decay * jnp.sum(params["w"] ** 2)


@functools.partial(
    jax.jit, static_argnames=("loss", "num_classes", "dim", "starts", "iterations", "ball")
)
def sphere_ufm_descent(
    y: jax.Array,
    key: jax.Array,
    *,
    loss: str,
    num_classes: int,
    dim: int,
    weight_decay: float,
    starts: int = 8,
    iterations: int = 20000,
    ball: bool = False,
) -> jax.Array:
    """The final objective of Adam (step size 0.05 cosine-decayed to 5e-6) on
    ``sphere_ufm_objective`` from ``starts`` random points (v, W ~ N(0, 1), b = 0; with
    ``ball`` the radius factors s = 1/2, features at half the radius), vmapped over the starts.
    No ETF is assumed: the smallest value is a numerical optimum of the normalised UFM on the
    sphere, or over the ball (call under float64; on the sphere's test instances every start
    reaches the closed form to ~1e-15 relative).

    Args:
        y: (N,) labels in [0, K); key: PRNG key of the starts.

    Returns:
        (starts,) final objective values.
    """

    def solve(start_key):
        k_v, k_w = jax.random.split(start_key)
        params = {
            "w": jax.random.normal(k_w, (num_classes, dim)),
            "b": jnp.zeros((num_classes,)),
            "v": jax.random.normal(k_v, (y.shape[0], dim)),
        }
        if ball:
            params["s"] = jnp.full((y.shape[0],), 0.5)

        def value(p):
            return sphere_ufm_objective(p, y, loss, weight_decay)

        solver = optax.adam(optax.cosine_decay_schedule(0.05, iterations, 1e-4))

        def step(carry, _):
            p, state = carry
            updates, state = solver.update(jax.grad(value)(p), state, p)
            return (optax.apply_updates(p, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, solver.init(params)), None, iterations)
        return value(params)

    return jax.vmap(solve)(jax.random.split(key, starts))
