"""Neural regression collapse NRC1-NRC3 (Andriopoulos et al., "The Prevalence of Neural Collapse
in Neural Multivariate Regression", NeurIPS 2024) and the closed-form optimum of the regression
unconstrained feature model.

Conventions (docs/theory/andriopoulos2024.md, which also gives the UFM optimum):

- Features ``h`` are (M, d), one sample per row; the last-layer weight ``w`` is (n, d) (n outputs
  x d features, the papers' orientation); targets ``y`` are (M, n).
- Features are row-normalised and NOT centred: h_hat_i = h_i / ||h_i||.
- NRC1 = (1/M) sum_i ||h_hat_i - P_PCA_n(h_hat_i)||^2, with P_PCA_n the projection onto the top-n
  right singular vectors of H_hat (uncentred PCA).
- NRC2 = (1/M) sum_i ||h_hat_i - P_row(W) h_hat_i||^2, P_row(W) = W^T (W W^T)^{-1} W.
- Sigma = (1/M) sum_i (y_i - y_bar)(y_i - y_bar)^T, the n x n target covariance centred over
  *samples* (felixsh/nc-toolbox centres along the other axis; we do not follow it).
- NRC3 = min over gamma in [0, lambda_min(Sigma)] of
  || W W^T / ||W W^T||_F - (Sigma^{1/2} - sqrt(gamma) I) / ||Sigma^{1/2} - sqrt(gamma) I||_F ||_F^2,
  a SQUARED Frobenius norm, Sigma^{1/2} the symmetric eigen-square-root. It lies in [0, 4].

The residuals of NRC1 and NRC2 are formed by projecting (never as 1 - sum_j s_j^2 / M, which
cancels near collapse), and no d x d matrix is ever built. Every function works on one model and
is jit- and vmap-able; ``n_components`` of :func:`nrc1` is static.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics import linalg
from nc_jax.metrics.stats import HIGHEST, gram
from nc_jax.validation import check_matrix, is_traced


def _check_features(h: jax.Array) -> None:
    check_matrix(h, "h")
    if not is_traced(h):
        zero_rows = np.flatnonzero(~np.any(np.asarray(h) != 0, axis=1))
        if zero_rows.size:
            raise ValueError(
                f"h has all-zero rows {zero_rows[:10].tolist()}: NRC row-normalises each feature "
                "h_i / ||h_i||, so drop those samples before measuring"
            )


def _check_weight(w: jax.Array, h: jax.Array) -> None:
    check_matrix(w, "w")
    if w.shape[1] != h.shape[1]:
        raise ValueError(
            f"w has shape {w.shape} but h has {h.shape}: w is the last-layer weight (n, d) with "
            f"d = h.shape[1] = {h.shape[1]}; pass w, not w.T"
        )
    n, d = w.shape
    if d < n:
        raise ValueError(
            f"w has shape {w.shape} with d = {d} < n = {n}: NRC2 projects onto the n-dimensional "
            "row space of w, which needs d >= n (fewer outputs than features)"
        )
    if not is_traced(w) and np.linalg.matrix_rank(np.asarray(w)) < n:
        raise ValueError(
            f"w of shape {w.shape} is rank deficient: P_row(W) = W^T (W W^T)^{{-1}} W needs "
            "w to have full row rank n"
        )


def _normalise_rows(h: jax.Array) -> jax.Array:
    return h / jnp.linalg.norm(h, axis=1, keepdims=True)


def _mean_residual(h_hat: jax.Array, basis: jax.Array) -> jax.Array:
    """(1/M) sum_i ||h_hat_i - Q Q^T h_hat_i||^2 for Q = basis (d, n) with orthonormal columns."""
    projected = jnp.matmul(jnp.matmul(h_hat, basis, precision=HIGHEST), basis.T, precision=HIGHEST)
    return jnp.sum((h_hat - projected) ** 2) / h_hat.shape[0]


def nrc1(h: jax.Array, n_components: int) -> jax.Array:
    """NRC1 = (1/M) sum_i ||h_hat_i - P_PCA_n(h_hat_i)||^2, a scalar in [0, 1]
    (Andriopoulos et al. 2024, NRC1; docs/theory/andriopoulos2024.md).

    h_hat_i = h_i / ||h_i|| (rows normalised, not centred); P_PCA_n projects onto the top
    ``n_components`` right singular vectors of H_hat (M, d). 0 when the normalised features lie
    in an n-dimensional subspace.

    Args:
        h: (M, d) features, one sample per row; no row may be zero.
        n_components: n, a static Python int with 1 <= n <= min(M, d) (the number of targets).
    """
    _check_features(h)
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise ValueError(
            f"n_components must be a Python int (the target dimension n), "
            f"got {type(n_components).__name__}; mark it static under jit"
        )
    limit = min(h.shape)
    if not 1 <= n_components <= limit:
        raise ValueError(
            f"n_components must lie in [1, min(M, d)] = [1, {limit}] for h of shape {h.shape}, "
            f"got {n_components}"
        )
    h_hat = _normalise_rows(h)
    _, _, vt = linalg.thin_svd(h_hat)
    return _mean_residual(h_hat, vt[:n_components].T)


def nrc2(h: jax.Array, w: jax.Array) -> jax.Array:
    """NRC2 = (1/M) sum_i ||h_hat_i - P_row(W) h_hat_i||^2, a scalar in [0, 1]
    (Andriopoulos et al. 2024, NRC2; docs/theory/andriopoulos2024.md).

    P_row(W) = W^T (W W^T)^{-1} W is applied through a thin QR of W^T = Q R (Q is d x n), as
    Q Q^T; no d x d matrix is formed. 0 when the normalised features lie in the row space of W.

    Args:
        h: (M, d) features, one sample per row; no row may be zero.
        w: (n, d) last-layer weight of full row rank, d >= n.
    """
    _check_features(h)
    _check_weight(w, h)
    q, _ = linalg.thin_qr(w.T)
    return _mean_residual(_normalise_rows(h), q)


def target_spectrum(y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Eigenvalues (ascending, clipped at 0) and eigenvectors of Sigma, the covariance of the
    targets y (M, n) centred over samples (docs/theory/andriopoulos2024.md)."""
    centred = y - jnp.mean(y, axis=0)
    covariance = jnp.matmul(centred.T, centred, precision=HIGHEST) / y.shape[0]
    eigenvalues, eigenvectors = linalg.eigh(covariance)
    return jnp.maximum(eigenvalues, 0.0), eigenvectors


def _check_targets(y: jax.Array) -> None:
    check_matrix(y, "y")
    if not is_traced(y) and np.all(np.asarray(y) == np.asarray(y)[:1]):
        raise ValueError(
            f"y of shape {y.shape} has the same target in every row, so its covariance Sigma is "
            "0; NRC3 and the UFM optimum need targets that vary over the samples"
        )


def nrc3(w: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """NRC3 = min_{gamma in [0, lambda_min]} ||W_hat - A(gamma) / ||A(gamma)||_F||_F^2 and the
    minimiser gamma_opt (Andriopoulos et al. 2024, NRC3; docs/theory/andriopoulos2024.md).

    W_hat = W W^T / ||W W^T||_F, A(gamma) = Sigma^{1/2} - sqrt(gamma) I_n, Sigma the target
    covariance centred over samples, lambda_min its smallest eigenvalue. The value is a squared
    Frobenius norm in [0, 4]; 0 when W W^T is proportional to Sigma^{1/2} - sqrt(gamma) I.

    Closed form instead of a grid: with s = sqrt(gamma), a = <W_hat, Sigma^{1/2}>_F,
    t = tr W_hat, b = ||Sigma^{1/2}||_F^2, c = tr Sigma^{1/2}, NRC3(s) = 2 - 2 g(s) with
    g(s) = (a - t s) / sqrt(b - 2 c s + n s^2). With D(s) = b - 2 c s + n s^2,
    g'(s) D^{3/2} = (t c - a n) s - (t b - a c) is linear in s, so g has the single stationary
    point s* = (t b - a c) / (t c - a n) (none when t c = a n: then g is monotone).
    The minimum over s in [0, sqrt(lambda_min)] is therefore attained at 0, sqrt(lambda_min) or
    clip(s*); NRC3 is evaluated directly (not as 2 - 2 g, which cancels near collapse) at these
    three candidates, in the eigenbasis of Sigma where A(gamma) is diagonal.

    Degenerate endpoint: A(sqrt(lambda_min)) = 0 exactly when Sigma is isotropic, which always
    holds for univariate targets (n = 1). A(gamma) / ||A(gamma)|| is then constant on
    [0, lambda_min), so candidates with ||A|| <= 16 n eps ||Sigma^{1/2}||_F are skipped. For n = 1
    both normalised matrices are the scalar +1, so NRC3 = 0 whenever W != 0, and every gamma in
    [0, lambda_min) is a minimiser (gamma_opt is then typically 0).

    Args:
        w: (n, d) last-layer weight, not zero.
        y: (M, n) targets, one sample per row, not all equal.

    Returns:
        (value, gamma_opt): scalars, NRC3 and the minimising gamma in [0, lambda_min].
    """
    check_matrix(w, "w")
    _check_targets(y)
    if y.shape[1] != w.shape[0]:
        raise ValueError(
            f"y has shape {y.shape} but w has {w.shape}: targets are (M, n) and the last-layer "
            f"weight is (n, d), so y.shape[1] must equal w.shape[0] = {w.shape[0]}"
        )
    if not is_traced(w) and not np.any(np.asarray(w) != 0):
        raise ValueError("w is the zero matrix: NRC3 normalises W W^T, which needs w != 0")
    n = w.shape[0]
    eigenvalues, eigenvectors = target_spectrum(y)
    roots = jnp.sqrt(eigenvalues)  # eigenvalues of Sigma^{1/2}, ascending
    ww = gram(w)
    w_hat = ww / jnp.linalg.norm(ww)
    w_eig = jnp.matmul(
        eigenvectors.T, jnp.matmul(w_hat, eigenvectors, precision=HIGHEST), precision=HIGHEST
    )
    a = jnp.sum(roots * jnp.diagonal(w_eig))
    t = jnp.trace(w_hat)
    b = jnp.sum(roots**2)
    c = jnp.sum(roots)
    numerator, denominator = t * b - a * c, t * c - a * n
    stationary = jnp.where(
        denominator == 0, 0.0, numerator / jnp.where(denominator == 0, 1.0, denominator)
    )
    s_max = roots[0]
    candidates = jnp.stack([jnp.zeros_like(s_max), s_max, jnp.clip(stationary, 0.0, s_max)])

    shifted = roots[None, :] - candidates[:, None]  # (3, n): eigenvalues of A(s)
    norms = jnp.linalg.norm(shifted, axis=1)
    valid = norms > 16 * n * jnp.finfo(norms.dtype).eps * jnp.sqrt(b)
    directions = shifted / jnp.where(valid, norms, 1.0)[:, None]
    targets = directions[:, :, None] * jnp.eye(n, dtype=directions.dtype)  # (3, n, n) diagonal
    values = jnp.sum((w_eig[None] - targets) ** 2, axis=(1, 2))
    values = jnp.where(valid, values, jnp.inf)
    best = jnp.argmin(values)
    return values[best], candidates[best] ** 2


def ufm_regression_optimum(y: jax.Array, lambda_h: float, lambda_w: float) -> jax.Array:
    """Optimal W* W*^T (n x n) of the regression unconstrained feature model
    (Andriopoulos et al. 2024; docs/theory/andriopoulos2024.md):

        W* W*^T = sqrt(lambda_H / lambda_W) U diag(max(sqrt(lambda_j) - sqrt(c), 0)) U^T,

    with c = lambda_H lambda_W and Sigma = U diag(lambda) U^T the target covariance centred over
    samples (as in :func:`nrc3`). When 0 < c < lambda_min every factor is positive and a W with
    this Gram matrix has NRC3 = 0 at gamma = c.

    Args:
        y: (M, n) targets, one sample per row, not all equal.
        lambda_h: feature regularisation lambda_H > 0.
        lambda_w: weight regularisation lambda_W > 0.
    """
    _check_targets(y)
    for name, value in (("lambda_h", lambda_h), ("lambda_w", lambda_w)):
        if not is_traced(value) and not float(value) > 0:
            raise ValueError(f"{name} must be a positive regularisation strength, got {value}")
    eigenvalues, eigenvectors = target_spectrum(y)
    shrunk = jnp.maximum(jnp.sqrt(eigenvalues) - jnp.sqrt(lambda_h * lambda_w), 0.0)
    scaled = eigenvectors * (jnp.sqrt(lambda_h / lambda_w) * shrunk)
    return jnp.matmul(scaled, eigenvectors.T, precision=HIGHEST)
