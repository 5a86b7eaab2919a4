"""The largest eigenvalue of a symmetric operator known only through its matrix-vector product
(an NTK J J^T, a loss Hessian), by Lanczos iteration.

Lanczos builds an orthonormal basis Q_j of the Krylov space span{v, A v, ..., A^{j-1} v} and the
tridiagonal T_j = Q_j^T A Q_j; the largest eigenvalue of T_j (the top Ritz value) is the maximum
of the Rayleigh quotient over that space, so it never exceeds lambda_max(A) (Cauchy interlacing)
and increases with j. It reaches lambda_max to a given relative accuracy in about
sqrt(lambda_max / gap) fewer products than the power iteration, whose Rayleigh quotient is the
same maximum over a single vector (Golub and Van Loan, Matrix Computations, 4th ed., Sections
10.1-10.2). Rounding makes the plain three-term recurrence lose orthogonality as a Ritz value
converges; every new vector is re-orthogonalised against the whole basis (twice, "twice is
enough"), which costs O(n j) per step on the host and keeps T_j exact to rounding. The products
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
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be >= 1, got {max_iterations}")
    n = start.shape[0]
    basis = np.zeros((min(max_iterations, n) + 1, n))
    basis[0] = start / np.linalg.norm(start)
    alphas: list[float] = []
    betas: list[float] = []
    estimate, change = 0.0, float("inf")
    for j in range(min(max_iterations, n)):
        w = np.asarray(matvec(basis[j]), dtype=np.float64)
        alphas.append(float(basis[j] @ w))
        for _ in range(2):  # full re-orthogonalisation, twice
            w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        beta = float(np.linalg.norm(w))
        previous = estimate
        estimate = _top_ritz_value(alphas, betas)
        change = abs(estimate - previous) / abs(estimate) if estimate else float("inf")
        scale = max(abs(estimate), abs(alphas[-1]))
        if beta <= 1e-10 * scale:  # an invariant Krylov space (A start = 0 included): exact
            return estimate, 0.0
        if change < tolerance:
            break
        betas.append(beta)
        basis[j + 1] = w / beta
    return estimate, change


def _top_ritz_value(alphas: list[float], betas: list[float]) -> float:
    """The largest eigenvalue of the symmetric tridiagonal matrix with diagonal ``alphas`` (j,)
    and off-diagonal ``betas`` (j - 1,)."""
    t = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    return float(np.linalg.eigvalsh(t)[-1])
