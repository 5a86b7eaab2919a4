"""Geometry of weights and features: spectra, conditioning, balancedness, negativity.

Weights follow the papers' orientation: W_l in R^{n_l x n_{l-1}} (rows = output units), so a
layer maps row features as ``z @ W.T``. Theory notes: docs/theory/jacot2025.md-3 and 5.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from nc_jax.metrics import linalg
from nc_jax.metrics.stats import HIGHEST, gram
from nc_jax.validation import check_labels, check_matrix, check_num_classes


def singular_values(a: jax.Array) -> jax.Array:
    """Singular values of a (m, n) in descending order, shape (min(m, n),)."""
    check_matrix(a, "a")
    return linalg.svdvals(a)


def _default_rtol(shape: tuple[int, ...], dtype: jnp.dtype) -> float:
    return max(shape) * float(jnp.finfo(dtype).eps)


def condition_number(a: jax.Array, rtol: float | None = None) -> jax.Array:
    """kappa(A) = s_1(A) / s_rank(A)(A), the ratio of the largest to the smallest non-zero
    singular value (docs/theory/jacot2025.md, "Condition number").

    The numerical rank counts singular values above ``rtol * s_1``; the default rtol is
    max(m, n) * eps of the dtype (NumPy's matrix_rank rule). For a full-rank matrix this is
    s_1 / s_min. Returns inf for the zero matrix.

    Args:
        a: (m, n) matrix.
        rtol: relative threshold below which a singular value counts as zero.
    """
    s = singular_values(a)
    rtol = _default_rtol(a.shape, s.dtype) if rtol is None else rtol
    nonzero = s > rtol * s[0]
    smallest = jnp.min(jnp.where(nonzero, s, jnp.inf))
    return jnp.where(s[0] > 0, s[0] / smallest, jnp.inf)


def chain_product(weights: Sequence[jax.Array]) -> jax.Array:
    """W_{L:k} = W_L W_{L-1} ... W_k for ``weights = [W_k, ..., W_L]`` ordered input to output.

    Each W_l is (n_l, n_{l-1}); the result is (n_L, n_{k-1}).
    """
    if len(weights) == 0:
        raise ValueError("weights is empty; pass the layers [W_k, ..., W_L] from input to output")
    for i, (lower, upper) in enumerate(zip(weights[:-1], weights[1:])):
        if upper.shape[1] != lower.shape[0]:
            raise ValueError(
                f"weights[{i + 1}] has shape {upper.shape} but weights[{i}] has {lower.shape}: "
                "each W_l must be (n_l, n_{l-1}) and the list ordered from input to output"
            )
    product = weights[0]
    for w in weights[1:]:
        product = jnp.matmul(w, product, precision=HIGHEST)
    return product


def spectral_norm(a: jax.Array) -> jax.Array:
    """Operator norm ||A||_op = s_1(A) of a (m, n) matrix, a scalar.

    Computed as the square root of the top eigenvalue of the smaller Gram matrix
    (min(m, n) square), which is accurate to rounding for the top singular value.
    """
    check_matrix(a, "a")
    small = gram(a) if a.shape[0] <= a.shape[1] else gram(a.T)
    return jnp.sqrt(jnp.maximum(linalg.top_eigenvalue(small), 0.0))


def stable_rank(a: jax.Array) -> jax.Array:
    """||A||_F^2 / ||A||_op^2, between 1 and rank(A); a scalar."""
    return jnp.sum(a**2) / spectral_norm(a) ** 2


def balancedness(w: jax.Array, w_next: jax.Array) -> jax.Array:
    """eps_2(l) = ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op for consecutive layers (jacot2025.md
    section 2, "Balancedness"; hypothesis (H2) of Theorem 3.1).

    Args:
        w: W_l, shape (n_l, n_{l-1}).
        w_next: W_{l+1}, shape (n_{l+1}, n_l).

    The difference D is n_l x n_l. When n_{l+1} + n_{l-1} < n_l (a wide layer between narrow
    ones) it is never formed: with F = [W_{l+1}^T, W_l] = QR and S = diag(I, -I),
    D = Q (R S R^T) Q^T, so its non-zero eigenvalues are those of the small matrix R S R^T.
    """
    check_matrix(w, "w")
    check_matrix(w_next, "w_next")
    if w_next.shape[1] != w.shape[0]:
        raise ValueError(
            f"w_next has shape {w_next.shape} but w has {w.shape}: w_next = W_(l+1) must be "
            "(n_(l+1), n_l) with n_l = w.shape[0]; did you swap the two layers?"
        )
    width = w.shape[0]
    outer, inner = w_next.shape[0], w.shape[1]
    if outer + inner < width:
        r_factor = linalg.qr_r(jnp.concatenate([w_next.T, w], axis=1))
        signs = jnp.concatenate([jnp.ones(outer, w.dtype), -jnp.ones(inner, w.dtype)])
        symmetric = jnp.matmul(r_factor * signs, r_factor.T, precision=HIGHEST)
    else:
        symmetric = gram(w_next.T) - gram(w)
    return jnp.max(jnp.abs(linalg.extreme_eigenvalues(symmetric)))


def relative_balancedness(w: jax.Array, w_next: jax.Array) -> jax.Array:
    """Scale-free balancedness ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op / max(||W_{l+1}||_op^2,
    ||W_l||_op^2) (docs/theory/jacot2025.md; the notes' proposal, the paper's normalisation is
    unknown). Between 0 (balanced) and 1. Shapes as in :func:`balancedness`."""
    return scale_free(balancedness(w, w_next), spectral_norm(w), spectral_norm(w_next))


def scale_free(balance: jax.Array, norm: jax.Array, norm_next: jax.Array) -> jax.Array:
    """balance / max(||W_{l+1}||_op, ||W_l||_op)^2 from the three scalars: relative_balancedness
    when the balancedness and the two operator norms are already at hand (the layer-wise
    driver computes each weight's norm once for both pairs it belongs to)."""
    return balance / jnp.maximum(norm_next, norm) ** 2


def negativity(preactivation: jax.Array) -> jax.Array:
    """Neg = ||min(H, 0)||_op / ||H||_op of a pre-activation H (N, n) (docs/theory/jacot2025.md,
    "Negativity"; operator norm per the secondary source). 0 means a ReLU acts as the
    identity on these samples, i.e. the layer is effectively linear."""
    check_matrix(preactivation, "preactivation")
    return spectral_norm(jnp.minimum(preactivation, 0.0)) / spectral_norm(preactivation)


def label_singular_value(y: jax.Array, num_classes: int) -> jax.Array:
    """s_K(Y), the K-th singular value of the one-hot label matrix Y (K x N).

    Y Y^T = diag(n_1, ..., n_K), so s_K(Y) = sqrt(min_c n_c); sqrt(N/K) when balanced
    (docs/theory/jacot2025.md, "Facts about balanced one-hot Y").
    """
    num_classes = check_num_classes(num_classes)
    if jnp.ndim(y) != 1:
        raise ValueError(f"y must be a vector of labels (N,), got shape {jnp.shape(y)}")
    check_labels(y, y.shape[0], num_classes, require_all_classes=False)
    counts = jnp.bincount(y, length=num_classes)
    return jnp.sqrt(jnp.min(counts).astype(jnp.result_type(float)))
