"""The cross-entropy UFM with imbalanced classes: its global optimum from a small convex
program, and minority collapse (docs/theory/ufm_extras.md, "Imbalanced classes"; the classical
reference is Fang et al. 2021's minority collapse; the formulas below are derived here [D] and
checked numerically in tests/test_theorems_ufm_extras.py).

Objective (the engine's UFM with ``reduction="mean"`` and coupled decay, bias-free): with n_k
samples of class k, N = sum_k n_k, W (K, d), free features h_i,

    F(W, H) = (1/N) sum_i CE(W h_i, y_i) + lambda_W/2 ||W||_F^2 + lambda_H/2 ||H||_F^2.

Convex reformulation [D]. For Z = W H (K x N) with d >= K >= rank Z,
min_{W H = Z} (lambda_W ||W||^2 + lambda_H ||H||^2) / 2 = sqrt(lambda_W lambda_H) ||Z||_*, so
min F = min_Z (1/N) sum_i CE(z_i, y_i) + sqrt(lambda_W lambda_H) ||Z||_*, a convex problem.
Averaging the columns of a class keeps the loss from increasing (CE is convex) and the nuclear
norm too (Z P with P the within-class averaging projector, ||P||_op = 1), so some optimum is
class-collapsed: Z = Zbar Y_onehot with Zbar (K, K) and, since Z Z^T = Zbar D Zbar^T with
D = diag(n_k), ||Z||_* = ||Zbar D^{1/2}||_*. In X = Zbar D^{1/2} (column k: sqrt(n_k) zbar_k):

    F* = min_X g(X) + tau ||X||_*,  g(X) = -(1/N) sum_k n_k log softmax(x_k / sqrt(n_k))_k,
    tau = sqrt(lambda_W lambda_H),

solved by accelerated proximal gradient (FISTA with function-value restart; the prox of the
nuclear norm is singular-value soft-thresholding; g's gradient is 1/(2N)-Lipschitz, so the step
is 2N). A balanced factorisation recovers the optimal Grams: with X = U S V^T,
W W^T = sqrt(lambda_H / lambda_W) U S U^T and Hbar^T Hbar = sqrt(lambda_W / lambda_H)
D^{-1/2} V S V^T D^{-1/2} (Hbar: the class means of the features, columns). For balanced
classes it gives Zhu et al.'s simplex ETF with ||w_k||^2 = rho* (docs/theory/zhu2021.md; tested).

Minority collapse: the cosines between the minority classes' rows of W tend to 1 as the
imbalance ratio R = n_majority / n_minority grows; in this regularised UFM they reach 1 (the
minority rows coincide) at a finite ratio R*, found here by a grid search of the convex program
over R (no closed form is claimed).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics import linalg

COLLAPSED = 1e-6  # the solver counts minority rows as collapsed when 1 - cos <= this
SOLVER_ITERATIONS = 5000


def imbalanced_counts(
    num_classes: int, minority_classes: int, n_minority: float, ratio: float
) -> np.ndarray:
    """n_k: K - K_B majority classes of R n_B samples, then K_B minority classes of n_B (K,)."""
    majority = num_classes - minority_classes
    return np.array([ratio * n_minority] * majority + [n_minority] * minority_classes, float)


def minority_indices(num_classes: int, minority_classes: int) -> np.ndarray:
    """The minority classes: the last K_B of the K classes."""
    return np.arange(num_classes - minority_classes, num_classes)


def gram_cosines(gram: np.ndarray, members: Sequence[int]) -> np.ndarray:
    """G_ij / sqrt(G_ii G_jj) for every pair i < j of ``members`` of a Gram matrix (K, K)."""
    members = list(members)
    return np.array(
        [
            gram[i, j] / math.sqrt(gram[i, i] * gram[j, j])
            for pos, i in enumerate(members)
            for j in members[pos + 1 :]
        ]
    )


class ConvexOptimum(NamedTuple):
    """The global optimum of the imbalanced CE UFM (module docstring).

    Attributes:
        objective: F*, the optimal value.
        logits: X* = Zbar D^{1/2} (K, K).
        classifier_gram: W W^T at the optimum (K, K).
        mean_gram: Hbar^T Hbar, the Gram of the optimal class-mean features (K, K).
        stationarity: ||X - prox(X - t grad g(X))||_F / t, 0 at an optimum (the proximal
            fixed-point residual).
    """

    objective: float
    logits: np.ndarray
    classifier_gram: np.ndarray
    mean_gram: np.ndarray
    stationarity: float


def _shrink(x: jax.Array, threshold: jax.Array) -> jax.Array:
    """The prox of threshold * ||.||_*: soft-threshold the singular values."""
    u, s, vt = linalg.thin_svd(x)
    return (u * jnp.maximum(s - threshold, 0.0)) @ vt


@functools.partial(jax.jit, static_argnames=("iterations",))
def _solve(counts: jax.Array, tau: jax.Array, iterations: int) -> tuple[jax.Array, ...]:
    """FISTA with restart on g(X) + tau ||X||_*; returns (X, F(X), stationarity)."""
    roots = jnp.sqrt(counts)
    total = jnp.sum(counts)

    def smooth(x: jax.Array) -> jax.Array:
        log_p = jax.nn.log_softmax(x / roots[None, :], axis=0)
        return -jnp.sum(counts * jnp.diag(log_p)) / total

    def full(x: jax.Array) -> jax.Array:
        return smooth(x) + tau * jnp.sum(linalg.svdvals(x))

    gradient = jax.grad(smooth)
    step = 2.0 * total

    def body(_: int, carry: tuple[jax.Array, jax.Array, jax.Array]):
        x, y, momentum = carry
        following = _shrink(y - step * gradient(y), step * tau)
        next_momentum = (1 + jnp.sqrt(1 + 4 * momentum**2)) / 2
        extrapolated = following + (momentum - 1) / next_momentum * (following - x)
        restart = full(following) > full(x)
        return (
            following,
            jnp.where(restart, following, extrapolated),
            jnp.where(restart, 1.0, next_momentum),
        )

    start = jnp.zeros((counts.shape[0], counts.shape[0]), counts.dtype)
    x, _, _ = jax.lax.fori_loop(0, iterations, body, (start, start, jnp.ones((), counts.dtype)))
    residual = jnp.linalg.norm(x - _shrink(x - step * gradient(x), step * tau)) / step
    return x, full(x), residual


def ufm_convex_optimum(
    counts: Sequence[float],
    lambda_w: float,
    lambda_h: float,
    iterations: int = SOLVER_ITERATIONS,
) -> ConvexOptimum:
    """The global optimum of the bias-free CE UFM with class counts ``counts`` (d >= K).

    Args:
        counts: n_k > 0 per class (K,); need not be integers (the program takes them as
            weights).
        lambda_w, lambda_h: the decays of W and H (> 0).
        iterations: FISTA iterations.
    """
    counts = np.asarray(counts, np.float64)
    if counts.ndim != 1 or counts.shape[0] < 2 or np.any(counts <= 0):
        raise ValueError(f"counts must be K >= 2 positive class counts, got {counts}")
    if not (lambda_w > 0 and lambda_h > 0):
        raise ValueError(f"lambda_w and lambda_h must be > 0, got {lambda_w}, {lambda_h}")
    with jax.enable_x64(True):
        tau = math.sqrt(lambda_w * lambda_h)
        x, value, residual = _solve(jnp.asarray(counts), jnp.asarray(tau), iterations)
        x = np.asarray(x)
    u, s, vt = np.linalg.svd(x)
    ratio = math.sqrt(lambda_h / lambda_w)
    inverse_root = 1.0 / np.sqrt(counts)
    mean_gram = (vt.T * s) @ vt / ratio * np.outer(inverse_root, inverse_root)
    return ConvexOptimum(float(value), x, ratio * (u * s) @ u.T, mean_gram, float(residual))


def minority_spread(gram: np.ndarray, members: Sequence[int]) -> float:
    """max over pairs of minority rows of ||w_i - w_j|| / max_k ||w_k||, from the classifier
    Gram W W^T (K, K): 0 when the minority rows coincide (minority collapse, including rows
    that vanish together), NaN when W = 0 (the trivial regime)."""
    scale = float(np.max(np.diag(gram)))
    if not scale > 0:
        return math.nan
    members = list(members)
    squares = [
        gram[i, i] + gram[j, j] - 2 * gram[i, j]
        for pos, i in enumerate(members)
        for j in members[pos + 1 :]
    ]
    return math.sqrt(max(max(squares), 0.0) / scale)


def minority_spreads(
    counts: np.ndarray, lambda_w: float, lambda_h: float, minority_classes: int
) -> np.ndarray:
    """``minority_spread`` of the optimum for every row of ``counts`` (B, K), one vmapped solve
    (the Gram's scale sqrt(lambda_H / lambda_W) cancels)."""
    counts = np.atleast_2d(np.asarray(counts, np.float64))
    tau = math.sqrt(lambda_w * lambda_h)
    with jax.enable_x64(True):
        solve = jax.vmap(functools.partial(_solve, iterations=SOLVER_ITERATIONS), (0, None))
        logits = np.asarray(solve(jnp.asarray(counts), jnp.asarray(tau))[0])
    members = minority_indices(counts.shape[1], minority_classes)
    spreads = []
    for x in logits:
        u, s, _ = np.linalg.svd(x)
        spreads.append(minority_spread((u * s) @ u.T, members))
    return np.array(spreads)


@functools.lru_cache(maxsize=64)
def collapse_threshold(
    num_classes: int,
    minority_classes: int,
    n_minority: float,
    lambda_w: float,
    lambda_h: float,
    largest: float = 100.0,
    rounds: int = 3,
    points: int = 16,
) -> float:
    """R*: the smallest imbalance ratio at which the optimal minority classifier rows coincide
    (``minority_spread`` <= COLLAPSED), by a grid search of ``points`` ratios log-spaced over
    [1, largest], refined ``rounds`` times between the last grid point not collapsed and the
    first collapsed one (relative precision largest^(1 / (points - 1)^rounds) - 1, 0.14% with
    the defaults); inf when not collapsed at ``largest``; NaN when the optimum is trivial
    (W = 0) at a grid point before collapse."""
    low, high = 0.0, math.log(largest)
    for _ in range(rounds):
        grid = np.linspace(low, high, points)
        counts = np.stack(
            [
                imbalanced_counts(num_classes, minority_classes, n_minority, math.exp(g))
                for g in grid
            ]
        )
        spreads = minority_spreads(counts, lambda_w, lambda_h, minority_classes)
        collapsed = spreads <= COLLAPSED
        if not collapsed.any():
            return math.nan if np.isnan(spreads).any() else math.inf
        first = int(np.argmax(collapsed))
        if np.isnan(spreads[: first + 1]).any():
            return math.nan
        if first == 0:
            return math.exp(grid[0])
        low, high = float(grid[first - 1]), float(grid[first])
    return math.exp(high)
