"""LAPACK-backed decompositions that stay safe under vmap on a CPU with few cores.

Why this module exists: under ``vmap``, jnp.linalg decompositions become one batched LAPACK
custom call, which jaxlib's CPU kernels split over XLA's intra-op thread pool and then wait for
(``jax::ParallelBatchMap``). When several such calls run concurrently in one program (for example
the eigen-decompositions of negativity next to the QR of balancedness) and the pool has as few
threads as this project's 2-core machines, every pool thread can end up waiting for sub-tasks
that no free thread will run: the program deadlocks (seen with jax/jaxlib 0.10.2; native stacks
showed three thunks parked in ParallelBatchMap's BlockingCounter::Wait).

Each function here is numerically identical to its jnp.linalg counterpart, but its batching rule
maps over the batch with ``lax.map``, so every LAPACK call sees a single matrix and never waits on
the pool. The decompositions in nc_jax.metrics are on K x K or small matrices, so the loop costs
little.

``custom_vmap`` has no reverse-mode rule, so ``eigvalsh`` and ``svdvals`` carry their own
first-order derivatives (``custom_jvp``: d lambda_i = v_i^T dA v_i for a symmetric matrix,
d s_i = u_i^T dA v_i for singular values; exact for simple eigen/singular values), which makes
every spectral metric differentiable (``nc-jax falsify`` ascends through them).

Eigenvalues without eigenvectors (``eigvalsh``, every spectral norm of the metrics) are computed as
LAPACK's tridiagonal reduction (sytrd, one matrix at a time as above) followed by bisection on the
tridiagonal matrix (jax.scipy.linalg.eigh_tridiagonal, plain JAX, vectorised over the batch):
accurate to rounding relative to ||A|| like LAPACK's syevd (tests/test_metrics_linalg.py), and
about 2.6x faster than jnp.linalg.eigvalsh, which computes the eigenvectors and drops them
(384 matrices 64 x 64: 40 ms against 104 ms on one core; the in-loop metrics' largest cost).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap
from jax.scipy.linalg import eigh_tridiagonal


def _sequential_batching(fn):
    """Wrap ``fn`` (one matrix in, a pytree out) so that vmap loops over the batch."""
    wrapped = custom_vmap(fn)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, a):
        del axis_size
        (batched,) = in_batched
        if not batched:
            out = wrapped(a)
            return out, jax.tree_util.tree_map(lambda _: False, out)
        out = jax.lax.map(wrapped, a)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return wrapped


@_sequential_batching
def _tridiagonal(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Diagonal (n,) and off-diagonal (n - 1,) of a tridiagonal matrix similar to the symmetric
    a (n, n) (LAPACK sytrd on the lower triangle)."""
    symmetric = (a + a.T) / 2
    _, diagonal, off_diagonal, _ = jax.lax.linalg.tridiagonal(symmetric, lower=True)
    return diagonal, off_diagonal


def _eigenvalues(a: jax.Array, top_only: bool = False) -> jax.Array:
    """Ascending eigenvalues of the symmetric a (n, n) by sytrd + bisection: all n, or with
    ``top_only`` the largest alone, shape (1,)."""
    n = a.shape[-1]
    if n == 1:
        return a[0]
    diagonal, off_diagonal = _tridiagonal(a)
    if not top_only:
        return eigh_tridiagonal(diagonal, off_diagonal, eigvals_only=True)
    return eigh_tridiagonal(
        diagonal, off_diagonal, eigvals_only=True, select="i", select_range=(n - 1, n - 1)
    )


@_sequential_batching
def eigh(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Ascending eigenvalues and eigenvectors (columns) of a symmetric matrix (jnp.linalg.eigh)."""
    return tuple(jnp.linalg.eigh(a))


@jax.custom_jvp
def eigvalsh(a: jax.Array) -> jax.Array:
    """Eigenvalues of a symmetric matrix (n, n), ascending (jnp.linalg.eigvalsh, which reads the
    symmetric part (A + A^T) / 2)."""
    return _eigenvalues(a)


@eigvalsh.defjvp
def _eigvalsh_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    values, vectors = eigh(a)
    symmetric = (da + da.T) / 2
    return values, jnp.einsum("ji,jk,ki->i", vectors, symmetric, vectors)


@jax.custom_jvp
def top_eigenvalue(a: jax.Array) -> jax.Array:
    """The largest eigenvalue of a symmetric matrix (n, n), a scalar: eigvalsh(a)[-1] by
    bisection for that one eigenvalue only (about 25% cheaper than all of them)."""
    return _eigenvalues(a, top_only=True)[0]


@top_eigenvalue.defjvp
def _top_eigenvalue_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    _, vectors = eigh(a)
    top = vectors[:, -1]
    return top_eigenvalue(a), top @ ((da + da.T) / 2) @ top


@_sequential_batching
def _svdvals(a: jax.Array) -> jax.Array:
    return jnp.linalg.svd(a, compute_uv=False)


@_sequential_batching
def thin_svd(a: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """U (m, k), s (k,), Vt (k, n) with k = min(m, n) (jnp.linalg.svd, full_matrices=False)."""
    return tuple(jnp.linalg.svd(a, full_matrices=False))


@jax.custom_jvp
def svdvals(a: jax.Array) -> jax.Array:
    """Singular values of a (m, n), descending (jnp.linalg.svd with compute_uv=False)."""
    return _svdvals(a)


@svdvals.defjvp
def _svdvals_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    u, values, vt = thin_svd(a)
    return values, jnp.einsum("ji,jk,ik->i", u, da, vt)


@_sequential_batching
def qr_r(a: jax.Array) -> jax.Array:
    """The R factor (k, n) of a thin QR decomposition of a (m, n), k = min(m, n)."""
    return jnp.linalg.qr(a, mode="r")


@_sequential_batching
def thin_qr(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Q (m, k) and R (k, n) of a thin QR decomposition (jnp.linalg.qr, mode="reduced")."""
    return tuple(jnp.linalg.qr(a))
