"""A Riemannian gradient solver on the Stiefel manifold St(d, K) for the nearest simplex ETF
(docs/theory/ufm_extras.md): the independent numerical optimum the closed-form Procrustes solution
(nc_jax.metrics.etf.nearest_etf) is checked against.

It knows nothing of the closed form: it descends the objective as written,
||H_hat - P M / sqrt(K-1)||_F^2 + (delta/2) ||P - P_prox||_F^2 (``etf.etf_objective``), with
its Euclidean gradient from ``jax.grad``, projected on the tangent space of St(d, K)
(grad_R = G - P sym(P^T G)), and the QR retraction R(X) = qf(X) (the Q factor with the signs of
diag(R) made positive). Every random start (a QR-retracted Gaussian matrix) runs the same number
of steps, vmapped; the best value over the starts is the numerical optimum.

Step size: Barzilai-Borwein, |<s, s>| / |<s, y>| with s and y the changes of the frame and of
the Riemannian gradient over the last step (the choice of Wen and Yin 2013 for Stiefel
problems), clipped to [1, LONGEST_STEP] times the base step
1 / (2 ||H_hat M||_op / sqrt(K-1) + 2 / (K-1) + delta) (the inverse of a bound on the Euclidean
gradient's Lipschitz constant). The proximal term alone fixes P along the 1_K direction, with
curvature delta: plain gradient descent at the base step needs ~1/delta steps there (with
delta = 1e-3 it was still 1e-5 off after 2000 steps), the BB step takes a few. On random
instances (K = 2..8, d = K..K+2, delta 0 or 1e-3) 1000 steps reach the closed form to 1e-15
(docs/theory/ufm_extras.md, "Nearest simplex ETF").
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from nc_jax.metrics import etf, linalg

LONGEST_STEP = 1e6  # the Barzilai-Borwein step is clipped to [1, 1e6] times the base step


def qr_retraction(x: jax.Array) -> jax.Array:
    """qf(X): the Q factor of the thin QR of X (d, K), columns signed so diag(R) > 0."""
    q, r = linalg.thin_qr(x)
    return q * jnp.where(jnp.diag(r) < 0, -1.0, 1.0)


def riemannian_gradient(frame: jax.Array, euclidean: jax.Array) -> jax.Array:
    """The projection of a Euclidean gradient G on the tangent space of St(d, K) at P
    (embedded metric): G - P sym(P^T G)."""
    inner = jnp.matmul(frame.T, euclidean)
    return euclidean - jnp.matmul(frame, (inner + inner.T) / 2)


def step_size(rows: jax.Array, delta: float) -> jax.Array:
    """1 / (2 ||H_hat M||_op / sqrt(K-1) + 2/(K-1) + delta) (module docstring)."""
    num_classes = rows.shape[0]
    centred = rows - jnp.mean(rows, axis=0)
    top = linalg.svdvals(centred)[0]
    return 1.0 / (2.0 * top / math.sqrt(num_classes - 1) + 2.0 / (num_classes - 1) + delta)


@functools.partial(jax.jit, static_argnames=("starts", "steps"))
def riemannian_values(
    rows: jax.Array,
    key: jax.Array,
    prox: jax.Array,
    delta: jax.Array,
    *,
    starts: int = 64,
    steps: int = 1000,
) -> jax.Array:
    """The E2 objective reached by Riemannian gradient descent from ``starts`` random frames.

    Args:
        rows: H_hat^T (K, d), d >= K.
        key: PRNG key of the random starts.
        prox: P_prox (d, K) (pass zeros with delta = 0 for the plain problem).
        delta: the proximal weight.
        starts, steps: random starts (vmapped) and gradient steps per start.

    Returns:
        (starts,) final objective values, each >= the global minimum.
    """
    dim = rows.shape[1]
    num_classes = rows.shape[0]
    objective = functools.partial(etf.etf_objective, rows, prox=prox, delta=delta)
    gradient = jax.grad(objective)
    base = step_size(rows, delta)

    def tangent(p: jax.Array) -> jax.Array:
        return riemannian_gradient(p, gradient(p))

    def descend(start_key: jax.Array) -> jax.Array:
        start = qr_retraction(jax.random.normal(start_key, (dim, num_classes), rows.dtype))
        first = tangent(start)

        def body(_: int, carry: tuple[jax.Array, jax.Array, jax.Array]):
            previous, previous_grad, current = carry
            grad = tangent(current)
            s, y = current - previous, grad - previous_grad
            curvature = jnp.abs(jnp.sum(s * y))
            bb = jnp.sum(s * s) / jnp.where(curvature > 0, curvature, 1.0)
            eta = jnp.clip(jnp.where(curvature > 0, bb, base), base, LONGEST_STEP * base)
            return current, grad, qr_retraction(current - eta * grad)

        carry = (start, first, qr_retraction(start - base * first))
        return objective(jax.lax.fori_loop(0, steps, body, carry)[2])

    return jax.vmap(descend)(jax.random.split(key, starts))
