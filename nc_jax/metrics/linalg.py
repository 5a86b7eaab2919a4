"""LAPACK-backed decompositions that stay safe under vmap on a CPU with few cores.

Why this module exists: under ``vmap``, jnp.linalg decompositions become one batched LAPACK
custom call, which jaxlib's CPU kernels split over XLA's intra-op thread pool and then wait for
(``jax::ParallelBatchMap``). When several such calls run concurrently in one program (for example
the eigen-decompositions of negativity next to the QR of balancedness) and the pool has as few
threads as this project's 2-core machines, every pool thread can end up waiting for sub-tasks
that no free thread will run: the program deadlocks (seen with jax/jaxlib 0.10.2; native stacks
showed three thunks parked in ParallelBatchMap's BlockingCounter::Wait).

That is a CPU matter, and every choice below that serves the CPU is made per platform when the
program is lowered (``lax.platform_dependent``). On a GPU or TPU the batched library kernels are
kept, the eigenvalues come from the platform's eigensolver rather than the bisection, and an SVD
first reduces its matrix by QR to min(m, n) x min(m, n) (``_svd_after_qr``). Measured on an H100
(jax 0.11.2), the metrics of 1024 small networks (6 layers, N = 200, d = 64): nc1_pinv 3051 ->
3.9 ms and nc2_kappa 2884 -> 2.7 ms per log, since cuSOLVER's batched SVD takes only matrices
up to 32 x 32 and a 10 x 64 class-mean matrix went one matrix at a time.

Each function here is numerically identical to its jnp.linalg counterpart, but on a CPU its
batching rule maps over the batch with ``lax.map``, so every LAPACK call sees a single matrix and
never waits on the pool. The decompositions in nc_jax.metrics are on K x K or small matrices,
so the loop costs little.

``custom_vmap`` has no reverse-mode rule, so ``eigvalsh`` and ``svdvals`` carry their own
first-order derivatives (``custom_jvp``: d lambda_i = v_i^T dA v_i for a symmetric matrix,
d s_i = u_i^T dA v_i for singular values; exact for simple eigen/singular values), which makes
every spectral metric differentiable (``nc-jax falsify`` ascends through them).

On a CPU, eigenvalues without eigenvectors (``eigvalsh``, ``top_eigenvalue`` for every spectral
norm of the metrics, ``extreme_eigenvalues`` for the balancedness) are computed as LAPACK's
tridiagonal reduction (sytrd, one matrix at a time as above) followed by bisection on
Sturm counts of the tridiagonal matrix (``_sturm_eigenvalues``, plain JAX, vectorised over the
batch and over the eigenvalues asked for): accurate to rounding relative to ||A|| like LAPACK's
syevd (tests/test_metrics_linalg.py), and about 2.6x faster than jnp.linalg.eigvalsh, which
computes the eigenvectors and drops them (384 matrices 64 x 64: 34-40 ms against 104 ms on one
core; the in-loop metrics' largest cost). The bisection is our own rather than
jax.scipy.linalg.eigh_tridiagonal: as fast (34-39 ms against 42 ms above), but 2-3x cheaper to
compile (0.35-0.5 s against 1.0-1.2 s per call site), and a metrics program has dozens of call
sites.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


def _sequential_batching(fn):
    """Wrap ``fn`` (one matrix in, a pytree out) so that vmap loops over the batch on a CPU.

    On every other platform (GPU, TPU) vmap keeps the library's batched kernel: the deadlock
    above is a CPU thread-pool matter, and a loop of single-matrix calls would idle an
    accelerator. The choice is made when the program is lowered (``lax.platform_dependent``).
    """
    wrapped = custom_vmap(fn)

    @wrapped.def_vmap
    def _rule(axis_size, in_batched, a):
        del axis_size
        (batched,) = in_batched
        if not batched:
            out = wrapped(a)
            return out, jax.tree_util.tree_map(lambda _: False, out)
        out = jax.lax.platform_dependent(
            a, cpu=lambda a: jax.lax.map(wrapped, a), default=jax.vmap(fn)
        )
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return wrapped


@_sequential_batching
def _tridiagonal(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Diagonal (n,) and off-diagonal (n - 1,) of a tridiagonal matrix similar to the symmetric
    a (n, n) (LAPACK sytrd on the lower triangle)."""
    symmetric = (a + a.T) / 2
    _, diagonal, off_diagonal, _ = jax.lax.linalg.tridiagonal(symmetric, lower=True)
    return diagonal, off_diagonal


def _sturm_eigenvalues(
    diagonal: jax.Array, off_diagonal: jax.Array, indices: tuple[int, ...]
) -> jax.Array:
    """The eigenvalues number ``indices`` (0 the smallest; a static tuple) of the symmetric
    tridiagonal matrix with ``diagonal`` (n,) and ``off_diagonal`` (n - 1,), shape
    (len(indices),). The cost of a halving is n sequential pivot steps, each vectorised over
    the eigenvalues asked for: the two extreme eigenvalues alone cost about 1 ms where all 64
    of a 64 x 64 matrix cost 15 ms (384 matrices, one core).

    Bisection on Sturm counts (Golub & Van Loan, Matrix Computations, section 8.4.1): the number
    of negative pivots q_i of T - x I, q_1 = d_1 - x, q_i = d_i - x - e_{i-1}^2 / q_{i-1}, is the
    number of eigenvalues below x. Every eigenvalue starts from the Gershgorin interval and is
    halved nmant + 4 times (27 for float32, 56 for float64), which brings the interval below
    eps ||T||; pivots smaller than pivmin are replaced by -pivmin as in LAPACK's dstebz.
    Called inside the jitted _eigenvalues only, so eager calls (the float64 measurements of the
    theorem checks) compile its loops once per shape, not at every call.
    """
    dtype = diagonal.dtype
    finfo = jnp.finfo(dtype)
    squares = off_diagonal**2
    magnitude = jnp.abs(off_diagonal)
    zero = jnp.zeros(1, dtype)
    radius = jnp.concatenate([magnitude, zero]) + jnp.concatenate([zero, magnitude])
    low, high = jnp.min(diagonal - radius), jnp.max(diagonal + radius)
    pivmin = finfo.tiny * jnp.maximum(1.0, jnp.max(squares, initial=0.0))
    margin = 2 * finfo.eps * jnp.maximum(jnp.abs(low), jnp.abs(high)) + pivmin
    index = jnp.asarray(indices)
    bounds = (jnp.full(index.shape, low - margin), jnp.full(index.shape, high + margin))

    def guarded(pivot):
        return jnp.where(jnp.abs(pivot) < pivmin, -pivmin, pivot)

    def count_below(x):
        def pivot_step(carry, entries):
            pivot, count = carry
            d, e2 = entries
            pivot = guarded(d - x - e2 / pivot)
            return (pivot, count + (pivot < 0)), None

        first_pivot = guarded(diagonal[0] - x)
        start = (first_pivot, (first_pivot < 0).astype(jnp.int32))
        (_, count), _ = jax.lax.scan(pivot_step, start, (diagonal[1:], squares))
        return count

    def halve(_, bounds):
        below, above = bounds
        middle = 0.5 * (below + above)
        too_high = count_below(middle) > index
        return jnp.where(too_high, below, middle), jnp.where(too_high, middle, above)

    below, above = jax.lax.fori_loop(0, finfo.nmant + 4, halve, bounds)
    return 0.5 * (below + above)


def _eigenvalue_indices(n: int, which: str) -> tuple[int, ...]:
    """Ascending indices of the eigenvalues of an n x n matrix that ``which`` names: "all" n,
    "top" (the largest alone) or "extremes" (the smallest and the largest)."""
    return {"all": tuple(range(n)), "top": (n - 1,), "extremes": (0, n - 1)}[which]


@functools.partial(jax.jit, static_argnames="which")
def _eigenvalues(a: jax.Array, which: str = "all") -> jax.Array:
    """Eigenvalues of the symmetric a (n, n), ascending: ``which`` = "all" (n), "top" (the
    largest, shape (1,)) or "extremes" (the smallest and the largest, shape (2,); the same value
    twice for n = 1). On a CPU by sytrd + Sturm bisection (above); elsewhere by the platform's
    batched symmetric eigensolver (jnp.linalg.eigvalsh), since the bisection's n sequential pivot
    steps per halving would be n kernel launches each on an accelerator."""
    indices = _eigenvalue_indices(a.shape[-1], which)
    if a.shape[-1] == 1:
        return a[0, jnp.asarray(indices)]
    return jax.lax.platform_dependent(
        a,
        cpu=functools.partial(_eigenvalues_by_bisection, indices=indices),
        default=functools.partial(_eigenvalues_by_eigensolver, indices=indices),
    )


def _eigenvalues_by_bisection(a: jax.Array, indices: tuple[int, ...]) -> jax.Array:
    """_eigenvalues on a CPU: sytrd, then Sturm bisection for the ``indices`` asked for."""
    diagonal, off_diagonal = _tridiagonal(a)
    return _sturm_eigenvalues(diagonal, off_diagonal, indices)


def _eigenvalues_by_eigensolver(a: jax.Array, indices: tuple[int, ...]) -> jax.Array:
    """_eigenvalues elsewhere: the platform's symmetric eigensolver (batched under vmap)."""
    values = jnp.linalg.eigvalsh(a)
    return values if indices == tuple(range(a.shape[-1])) else values[jnp.asarray(indices)]


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
    return _eigenvalues(a, "top")[0]


@top_eigenvalue.defjvp
def _top_eigenvalue_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    _, vectors = eigh(a)
    top = vectors[:, -1]
    return top_eigenvalue(a), top @ ((da + da.T) / 2) @ top


@jax.custom_jvp
def extreme_eigenvalues(a: jax.Array) -> jax.Array:
    """(lambda_min, lambda_max) of a symmetric matrix (n, n), shape (2,): eigvalsh(a)[[0, -1]],
    by bisection for those two only. The operator norm of a symmetric indefinite matrix (the
    balancedness) is max |.| of the two; after the same sytrd, their bisection costs about 1 ms
    where all 64 eigenvalues cost 15 ms (384 matrices of 64 x 64, one core)."""
    return _eigenvalues(a, "extremes")


@extreme_eigenvalues.defjvp
def _extreme_eigenvalues_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    _, vectors = eigh(a)
    ends = vectors[:, jnp.asarray([0, -1])]
    return extreme_eigenvalues(a), jnp.einsum("ji,jk,ki->i", ends, (da + da.T) / 2, ends)


def _svd_after_qr(a: jax.Array, compute_uv: bool):
    """The SVD of a (m, n) through a QR reduction to its k x k triangular factor, k = min(m, n):
    a = Q R (or a^T = Q R when m < n) and R = U S V^T, so the singular values are R's and the
    vectors are rotated back by Q (in full float32: ``precision="highest"``).

    For accelerators: their batched SVD kernels take only small square-ish matrices (cuSOLVER's
    batched Jacobi: at most 32 x 32), and a K x d class-mean matrix with d > 32 otherwise falls
    back to one matrix at a time (on an H100, 6144 SVDs of 10 x 64: about 3 s). Exact, not an
    approximation: QR and SVD are both backward stable."""
    transposed = a.shape[0] < a.shape[1]
    q, r = jnp.linalg.qr(a.T if transposed else a)
    if not compute_uv:
        return jnp.linalg.svd(r, compute_uv=False)
    u, s, vt = jnp.linalg.svd(r, full_matrices=False)
    if transposed:  # a = R^T Q^T = V S (Q U)^T
        return vt.T, s, jnp.matmul(q, u, precision="highest").T
    return jnp.matmul(q, u, precision="highest"), s, vt


@functools.partial(jax.jit, static_argnames="compute_uv")
def _platform_svd(a: jax.Array, compute_uv: bool):
    """jnp.linalg.svd (thin) of a (m, n) on a CPU, _svd_after_qr elsewhere. Jitted, like
    _eigenvalues: an eager lax.platform_dependent traces and compiles its branches at every
    call (70 ms for a 40 x 40 float64 SVD, measured), a jitted one once per shape."""

    def by_library(a):
        out = jnp.linalg.svd(a, full_matrices=False, compute_uv=compute_uv)
        return tuple(out) if compute_uv else out

    return jax.lax.platform_dependent(
        a, cpu=by_library, default=lambda a: _svd_after_qr(a, compute_uv)
    )


@_sequential_batching
def _svdvals(a: jax.Array) -> jax.Array:
    return _platform_svd(a, compute_uv=False)


@_sequential_batching
def thin_svd(a: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """U (m, k), s (k,), Vt (k, n) with k = min(m, n) (jnp.linalg.svd, full_matrices=False)."""
    return _platform_svd(a, compute_uv=True)


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
