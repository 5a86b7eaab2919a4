"""The largest eigenvalue of a symmetric operator known only through its matrix-vector product
(an NTK J J^T, a loss Hessian), by Lanczos iteration.

Lanczos builds an orthonormal basis Q_j of the Krylov space span{v, A v, ..., A^{j-1} v} and the
tridiagonal T_j = Q_j^T A Q_j; the largest eigenvalue of T_j (the top Ritz value) is the maximum
of the Rayleigh quotient over that space, so it never exceeds lambda_max(A) (Cauchy interlacing)
and increases with j. It reaches lambda_max to a given relative accuracy in about
sqrt(lambda_max / gap) fewer products than the power iteration, whose Rayleigh quotient is the
same maximum over a single vector (Golub and Van Loan, Matrix Computations, 4th ed., Sections
10.1-10.2). Rounding makes the plain three-term recurrence lose orthogonality as a Ritz value
converges; every new vector is re-orthogonalised against the whole basis (a second time when the
first projection cancelled most of it: "twice is enough"), which costs O(n j) per step on the
host and keeps T_j exact to rounding. The products
are the expensive part: the caller passes a compiled one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Matvec = Callable[[np.ndarray], np.ndarray]


def lanczos_top_eigenvalue(
    matvec: Matvec, start: np.ndarray, max_iterations: int, tolerance: float
) -> tuple[float, float]:
    """lambda_max of a symmetric operator A (n x n) from ``matvec(v) = A v`` (v of shape
    (n,), float64), by Lanczos from ``start`` (n,), stopping when the top Ritz value changes by
    less than ``tolerance`` (relative) over one step, when the Krylov space is invariant (then the
    value is exact), or after ``max_iterations`` products (at most n).

    Returns:
        (top Ritz value, its relative change |change| / |value| over the last step): a lower
        bound on lambda_max that approaches it from below; ``(0.0, 0.0)`` when A start = 0 (for
        example a constant network's NTK). The change is 0 when the space became invariant.
    """
    estimates, changes = lanczos_top_eigenvalues(
        lambda v: matvec(v[0])[None], start[None], max_iterations, tolerance
    )
    return float(estimates[0]), float(changes[0])


def lanczos_top_eigenvalues(
    matvec: Matvec, starts: np.ndarray, max_iterations: int, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """``lanczos_top_eigenvalue`` of R operators at once (one per run of a batch): ``matvec``
    maps (R, n) to (R, n), row r the product with operator r, so that a caller can compile one
    batched product (vmap over runs) instead of R small ones. Each row follows the single
    operator's iteration and stopping rule exactly; a row that has stopped keeps its result
    while the others go on (its products are still computed, and ignored).

    Args:
        starts: (R, n) float64 start vectors.

    Returns:
        (estimates, changes), each (R,): per row as ``lanczos_top_eigenvalue``.
    """
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be >= 1, got {max_iterations}")
    num, n = starts.shape
    steps = min(max_iterations, n)
    basis = _Basis(starts / np.linalg.norm(starts, axis=1, keepdims=True), steps + 1)
    alphas, betas = np.zeros((num, steps)), np.zeros((num, steps))
    estimates, changes = np.zeros(num), np.full(num, np.inf)
    active = np.ones(num, bool)
    for j in range(steps):
        w = np.asarray(matvec(basis.row(j)), dtype=np.float64)
        alphas[:, j] = np.einsum("rn,rn->r", basis.row(j), w)
        w, beta = _reorthogonalise(w, basis.rows(j + 1), active)
        previous = estimates.copy()
        ritz = _top_ritz_values(alphas[active, : j + 1], betas[active, :j])
        estimates[active] = ritz
        change = np.full(num, np.inf)
        nonzero = estimates != 0
        change[nonzero] = np.abs(estimates - previous)[nonzero] / np.abs(estimates[nonzero])
        changes[active] = change[active]
        scale = np.maximum(np.abs(estimates), np.abs(alphas[:, j]))
        invariant = active & (beta <= 1e-10 * scale)  # A start = 0 included: exact
        changes[invariant] = 0.0
        active &= ~invariant & ~(change < tolerance)
        if not active.any():
            break
        betas[:, j] = np.where(active, beta, 0.0)
        w /= np.where(active & (beta > 0), beta, 1.0)[:, None]
        w[~active] = 0.0
        basis.append(w)
    return estimates, changes


# a second projection when the first removed more than 1 - 1/sqrt(2) of the vector's norm
# (Daniel, Gragg, Kaufman and Stewart, Math. Comp. 30, 1976): cancellation has then left
# rounding errors along the basis that one more pass removes
REPROJECT_BELOW = 1 / np.sqrt(2)


def _reorthogonalise(
    w: np.ndarray, kept: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """w (R, n) made orthogonal to the basis vectors ``kept`` (R, j, n) of each row by
    classical Gram-Schmidt (batched BLAS products), projected a second time when the first
    projection shrank an ``active`` row's norm below REPROJECT_BELOW of what it was ("twice is
    enough"); returns (w, its row norms)."""
    before = np.linalg.norm(w, axis=1)
    for _ in range(2):
        w = w - (np.swapaxes(kept @ w[:, :, None], 1, 2) @ kept)[:, 0]
        after = np.linalg.norm(w, axis=1)
        if not np.any(active & (after < REPROJECT_BELOW * before)):
            break
        before = after
    return w, after


class _Basis:
    """The Lanczos vectors of R runs, (R, j, n), in storage that doubles when full (the
    iteration usually stops after a few tens of the up to ``capacity`` vectors)."""

    def __init__(self, first: np.ndarray, capacity: int) -> None:
        self.capacity = capacity
        self.data = np.zeros((first.shape[0], min(capacity, 16), first.shape[1]))
        self.data[:, 0] = first
        self.count = 1

    def append(self, vectors: np.ndarray) -> None:
        if self.count == self.data.shape[1]:
            runs, _, size = self.data.shape
            grown = np.zeros((runs, min(2 * self.count, self.capacity), size))
            grown[:, : self.count] = self.data
            self.data = grown
        self.data[:, self.count] = vectors
        self.count += 1

    def row(self, j: int) -> np.ndarray:
        return self.data[:, j]

    def rows(self, count: int) -> np.ndarray:
        return self.data[:, :count]


def _top_ritz_values(alphas: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """The largest eigenvalue of each symmetric tridiagonal matrix with diagonal ``alphas``
    (R, j) and off-diagonal ``betas`` (R, j - 1): (R,)."""
    t = np.zeros((*alphas.shape, alphas.shape[1]))
    index = np.arange(alphas.shape[1])
    t[:, index, index] = alphas
    t[:, index[:-1], index[1:]] = betas
    t[:, index[1:], index[:-1]] = betas
    return np.linalg.eigvalsh(t)[:, -1]
