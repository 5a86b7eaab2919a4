"""Neural-collapse metrics NC1-NC4 for one layer, each variant named explicitly.

Sources (theory notes): docs/theory/jacot2025.md (the Jacot et al. forms: NC1 trace ratio, NC2 as
kappa of the uncentred class means, NC3 as cos(w_c, mu_c)); docs/theory/zhu2021.md, "Metrics by
name" (Papyan's NC1 with a pseudo-inverse, CDNV, equinorm, equiangularity, the ETF and self-duality
distances, NC4 as nearest-class-centre agreement; Zhu et al.'s code forms of NC3, a normalised W
Hbar against the ETF, and of NC4, the bias collapse ||W mu_G + b||).

Shapes: class means and classifier rows are (K, d) (one class per row); features z are (N, d).
Every function works on one model and is jit- and vmap-able.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from nc_jax.metrics import linalg
from nc_jax.metrics.geometry import singular_values
from nc_jax.metrics.stats import (
    HIGHEST,
    ClassStats,
    between_class_trace,
    centred_means,
    gram,
    pairwise_sq_distances,
    within_class_trace,
    within_class_variances,
)
from nc_jax.validation import check_matrix

NC1Kind = Literal["trace_ratio", "pinv", "cdnv"]
NC1_KINDS: tuple[str, ...] = ("trace_ratio", "pinv", "cdnv")


def _require_dim(d: int, minimum: int, metric: str, why: str) -> None:
    if d < minimum:
        raise ValueError(
            f"{metric} needs feature dimension d >= {minimum}, got d = {d}: {why}. "
            "Measure a wider layer or use nc1(kind='trace_ratio'), which has no such limit."
        )


# ----------------------------------------------------------------------------------------- NC1


def nc1_trace_ratio(stats: ClassStats) -> jax.Array:
    """NC1 = tr(Sigma_W) / tr(Sigma_B), the form of Jacot et al. (docs/theory/jacot2025.md).

    Normalisation: Sigma_W carries 1/N and Sigma_B carries 1/K; for balanced classes this equals
    ||Z - Zbar||_F^2 / ||Zbar - mu_G 1^T||_F^2. 0 for perfectly collapsed features.
    """
    return within_class_trace(stats) / between_class_trace(stats)


def nc1_pinv(stats: ClassStats, rtol: float | None = None) -> jax.Array:
    """Papyan's NC1 = (1/K) tr(Sigma_W Sigma_B^+) (docs/theory/zhu2021.md, "Metrics by name").

    Sigma_B^+ is truncated to rank K - 1 (the rank of the centred between-class scatter) and
    also drops singular values below ``rtol * s_1`` (default max(K, d) * eps), so noise
    directions never enter and the result is a sum of squares: never negative.

    Gram form: with B = (M - mu_G)/sqrt(K) = U S V^T (K x d, thin SVD),
    tr(Sigma_W Sigma_B^+) = (1/N) sum_{j<K-1} ||R v_j||^2 / s_j^2, R = Z - Zbar. The cost is one
    K x d SVD and one N x d x K product; no d x d matrix is formed.
    """
    num_classes, dim = stats.means.shape
    _require_dim(dim, num_classes - 1, "nc1_pinv", "the between-class scatter has rank K - 1")
    between = centred_means(stats) / jnp.sqrt(num_classes)
    _, s, vt = linalg.thin_svd(between)
    rtol = max(num_classes, dim) * float(jnp.finfo(s.dtype).eps) if rtol is None else rtol
    keep = (jnp.arange(s.shape[0]) < num_classes - 1) & (s > rtol * s[0])
    inverse_sq = jnp.where(keep, 1.0 / jnp.where(keep, s, 1.0) ** 2, 0.0)
    projected = jnp.matmul(stats.residual, vt.T, precision=HIGHEST)
    trace = jnp.sum(jnp.sum(projected**2, axis=0) * inverse_sq) / stats.num_samples
    return trace / num_classes


def nc1_cdnv(stats: ClassStats) -> jax.Array:
    """Class-distance normalised variance of Galanti et al. (docs/theory/zhu2021.md, "Metrics by
    name"), averaged over pairs c < c': (sigma_c^2 + sigma_c'^2) / (2 ||mu_c - mu_c'||^2), with
    sigma_c^2 = (1/n_c) sum_{i in c} ||z_i - mu_c||^2."""
    variances = within_class_variances(stats)
    distances = pairwise_sq_distances(stats.means)
    num_classes = stats.num_classes
    upper = jnp.triu(jnp.ones((num_classes, num_classes), dtype=bool), k=1)
    safe = jnp.where(upper, distances, 1.0)
    ratios = (variances[:, None] + variances[None, :]) / (2.0 * safe)
    return jnp.sum(jnp.where(upper, ratios, 0.0)) / jnp.sum(upper)


def pairwise_snr(stats: ClassStats, ddof: int = 1) -> jax.Array:
    """Signal-to-noise ratio of class pairs, averaged over pairs c < c': ||mu_c - mu_c'||^2 /
    (s_c^2 + s_c'^2), with s_c^2 = sum_{i in c} ||z_i - mu_c||^2 / (n_c - ddof). The default
    ddof = 1 is Lanzillotta, Meier and Hofmann's code's "snr" (docs/theory/lanzillotta2025.md);
    with ddof = 0 each pair's ratio is 1 / (2 x) of its ``nc1_cdnv`` term."""
    spreads = within_class_variances(stats) * stats.counts / (stats.counts - ddof)
    distances = pairwise_sq_distances(stats.means)
    num_classes = stats.num_classes
    upper = jnp.triu(jnp.ones((num_classes, num_classes), dtype=bool), k=1)
    ratios = distances / jnp.where(upper, spreads[:, None] + spreads[None, :], 1.0)
    return jnp.sum(jnp.where(upper, ratios, 0.0)) / jnp.sum(upper)


def nc1(stats: ClassStats, kind: NC1Kind = "trace_ratio") -> jax.Array:
    """NC1 of the named ``kind``: "trace_ratio" (Jacot et al.), "pinv" (Papyan) or "cdnv"."""
    if kind == "trace_ratio":
        return nc1_trace_ratio(stats)
    if kind == "pinv":
        return nc1_pinv(stats)
    if kind == "cdnv":
        return nc1_cdnv(stats)
    raise ValueError(f"kind must be one of {NC1_KINDS}, got {kind!r}")


# ----------------------------------------------------------------------------------------- NC2


def nc2_kappa(means: jax.Array) -> jax.Array:
    """NC2 of Jacot et al.: kappa(M) = s_1(M) / s_K(M) of the *uncentred* class means (K, d)
    (docs/theory/jacot2025.md). 1 exactly for an orthogonal frame with equal norms, the NC2
    geometry of MSE with a bias-free head. Needs d >= K."""
    check_matrix(means, "means")
    num_classes, dim = means.shape
    _require_dim(dim, num_classes, "nc2_kappa", "K class means span at most d dimensions")
    s = singular_values(means)
    return s[0] / s[-1]


def _normalised_deviation(matrix: jax.Array, target: jax.Array) -> jax.Array:
    """|| A/||A||_F - T/||T||_F ||_F for two matrices of one shape."""
    return jnp.linalg.norm(matrix / jnp.linalg.norm(matrix) - target / jnp.linalg.norm(target))


def _normalised_gram_deviation(rows: jax.Array, target: jax.Array) -> jax.Array:
    return _normalised_deviation(gram(rows), target)


def simplex_etf_deviation(rows: jax.Array) -> jax.Array:
    """|| G/||G||_F - (I - J/K)/sqrt(K-1) ||_F with G = A A^T for rows A (K, d)
    (docs/theory/zhu2021.md, "Metrics by name", Zhu et al.'s NC2). 0 exactly for a simplex ETF.

    Pass centred class means for the feature NC2, or classifier rows W for Zhu's weight NC2;
    the function does not centre. Needs d >= K - 1.
    """
    check_matrix(rows, "rows")
    num_classes, dim = rows.shape
    _require_dim(dim, num_classes - 1, "simplex_etf_deviation", "a simplex ETF spans K - 1 dims")
    eye = jnp.eye(num_classes, dtype=rows.dtype)
    return _normalised_gram_deviation(rows, eye - 1.0 / num_classes)


def orthogonal_frame_deviation(rows: jax.Array) -> jax.Array:
    """|| G/||G||_F - I/sqrt(K) ||_F with G = A A^T for rows A (K, d) (docs/theory/sukenik2024.md):
    0 exactly for K orthogonal rows of equal norm. Pass *uncentred* class means (the MSE, bias-free
    NC2 target). Needs d >= K."""
    check_matrix(rows, "rows")
    num_classes, dim = rows.shape
    _require_dim(dim, num_classes, "orthogonal_frame_deviation", "K orthogonal rows need K dims")
    return _normalised_gram_deviation(rows, jnp.eye(num_classes, dtype=rows.dtype))


def equinorm(rows: jax.Array, ddof: int = 0) -> jax.Array:
    """Std_c ||a_c|| / Avg_c ||a_c|| of rows A (K, d) (Papyan's NC2 equinorm,
    docs/theory/zhu2021.md, "Metrics by name"). Convention: population std (ddof = 0) by default;
    ``ddof=1`` is the unbiased std of Papyan's form as the public code computes it (torch.std), a
    factor sqrt(K / (K - 1)) larger."""
    check_matrix(rows, "rows")
    norms = jnp.linalg.norm(rows, axis=1)
    return jnp.std(norms, ddof=ddof) / jnp.mean(norms)


def row_cosines(rows: jax.Array) -> jax.Array:
    """cos(a_c, a_c') of every pair of rows A (K, d), a (K, K) matrix with ones on the diagonal
    (e.g. the class-mean matrices of Jacot et al.'s Figure 1 from uncentred class means)."""
    check_matrix(rows, "rows")
    return gram(rows / jnp.linalg.norm(rows, axis=1, keepdims=True))


def _off_diagonal_cosines(rows: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Cosines of all pairs of rows (K, K) and the boolean mask of the off-diagonal."""
    return row_cosines(rows), ~jnp.eye(rows.shape[0], dtype=bool)


def equiangularity(rows: jax.Array) -> jax.Array:
    """Std over pairs c != c' of cos(a_c, a_c') for rows A (K, d) (Papyan's NC2
    equiangularity; population std). Pass centred class means or classifier rows."""
    check_matrix(rows, "rows")
    cosines, off = _off_diagonal_cosines(rows)
    count = jnp.sum(off)
    mean = jnp.sum(jnp.where(off, cosines, 0.0)) / count
    return jnp.sqrt(jnp.sum(jnp.where(off, (cosines - mean) ** 2, 0.0)) / count)


def max_angle_deviation(rows: jax.Array) -> jax.Array:
    """Avg over pairs c != c' of |cos(a_c, a_c') + 1/(K-1)| (Papyan's "maximal angle";
    docs/theory/zhu2021.md, "Metrics by name", with the absolute value). 0 for a simplex ETF."""
    check_matrix(rows, "rows")
    cosines, off = _off_diagonal_cosines(rows)
    num_classes = rows.shape[0]
    deviation = jnp.abs(cosines + 1.0 / (num_classes - 1))
    return jnp.sum(jnp.where(off, deviation, 0.0)) / jnp.sum(off)


# ----------------------------------------------------------------------------------------- NC3


def _check_classifier(classifier: jax.Array, means: jax.Array) -> None:
    check_matrix(classifier, "classifier")
    check_matrix(means, "means")
    if classifier.shape != means.shape:
        raise ValueError(
            f"classifier has shape {classifier.shape} but the class means have {means.shape}: "
            "the classifier must be the (K, d) last-layer weight W_L that reads these features"
        )


def nc3_cosines(classifier: jax.Array, means: jax.Array) -> jax.Array:
    """cos(w_c, mu_c) for every class, shape (K,) (docs/theory/jacot2025.md, NC3; bound (c) of
    Theorem 3.1 is on the minimum). 1 means perfect alignment.

    Args:
        classifier: W_L (K, d), row c = w_c.
        means: (K, d) class means of the features W_L reads; uncentred for Jacot et al.'s
            bias-free head, or centred (mu_c - mu_G) for the CE/bias convention.
    """
    _check_classifier(classifier, means)
    dots = jnp.sum(classifier * means, axis=1)
    return dots / (jnp.linalg.norm(classifier, axis=1) * jnp.linalg.norm(means, axis=1))


def self_duality_distance(classifier: jax.Array, means: jax.Array) -> jax.Array:
    """Papyan's NC3 || W/||W||_F - M/||M||_F ||_F^2 (docs/theory/zhu2021.md, "Metrics by name").

    Convention: the *squared* Frobenius distance. Pass centred means mu_c - mu_G for Papyan's
    form. Ranges over [0, 4].
    """
    _check_classifier(classifier, means)
    difference = classifier / jnp.linalg.norm(classifier) - means / jnp.linalg.norm(means)
    return jnp.sum(difference**2)


def zhu_nc3(classifier: jax.Array, means: jax.Array) -> jax.Array:
    """Zhu et al.'s NC3 (docs/theory/zhu2021.md, "Metrics by name", their validate_NC.py):
    || W Hbar / ||W Hbar||_F - (I - J/K)/sqrt(K-1) ||_F with Hbar = [mu_c - mu_G]_c (d x K),
    i.e. the K x K matrix W @ means^T here (rows: row c of ``means`` is mu_c - mu_G).

    0 exactly when W Hbar is a positive multiple of I - J/K, as at the global minimisers of the
    CE UFM (h = alpha w with W W^T a simplex ETF). Pass centred means; the function does not
    centre. Unlike ``self_duality_distance`` it compares the product with the ETF, not W with
    Hbar: W and Hbar may differ in scale and in any way that keeps W Hbar on the ETF. (The
    target is symmetric, so swapping the two arguments gives the same value.)

    Args:
        classifier: W (K, d).
        means: (K, d) centred class means mu_c - mu_G.
    """
    _check_classifier(classifier, means)
    num_classes = classifier.shape[0]
    product = jnp.matmul(classifier, means.T, precision=HIGHEST)
    eye = jnp.eye(num_classes, dtype=product.dtype)
    return _normalised_deviation(product, eye - 1.0 / num_classes)


# ----------------------------------------------------------------------------------------- NC4


def bias_collapse(
    classifier: jax.Array, global_mean: jax.Array, bias: jax.Array | None = None
) -> jax.Array:
    """Zhu et al.'s NC4, "collapse of bias": ||W mu_G + b||_2 (docs/theory/zhu2021.md,
    "Metrics by name", their plot.py). Not the nearest-class-centre agreement (``ncc_agreement``)
    that Papyan calls NC4. 0 at the CE UFM's global minimisers (mu_G = 0 and b = 0 when
    lambda_b > 0).

    Args:
        classifier: W (K, d).
        global_mean: mu_G (d,), the mean of the features over the samples.
        bias: b (K,), or None for a bias-free classifier (b = 0).
    """
    check_matrix(classifier, "classifier")
    if jnp.shape(global_mean) != (classifier.shape[1],):
        raise ValueError(
            f"global_mean must have shape ({classifier.shape[1]},), the features W reads, "
            f"got {jnp.shape(global_mean)}"
        )
    logits = jnp.matmul(classifier, global_mean, precision=HIGHEST)
    if bias is not None:
        if jnp.shape(bias) != (classifier.shape[0],):
            raise ValueError(f"bias must have shape ({classifier.shape[0]},), got {bias.shape}")
        logits = logits + bias
    return jnp.linalg.norm(logits)


def ncc_agreement(
    z: jax.Array, *, means: jax.Array, classifier: jax.Array, bias: jax.Array | None = None
) -> jax.Array:
    """NC4: fraction of samples on which the linear classifier argmax_c (w_c . z + b_c) and the
    nearest class centre argmin_c ||z - mu_c|| agree (docs/theory/zhu2021.md, "Metrics by name").
    1 at NC4.

    Args:
        z: (N, d) features.
        means: (K, d) class means (the centres; keyword-only so they cannot be swapped with W).
        classifier: (K, d) last-layer weight W.
        bias: optional (K,) bias b; None measures the decision without bias.
    """
    check_matrix(z, "z")
    _check_classifier(classifier, means)
    if z.shape[1] != means.shape[1]:
        raise ValueError(
            f"z has {z.shape[1]} features but means/classifier have {means.shape[1]}: "
            "pass the features that the classifier reads"
        )
    logits = jnp.matmul(z, classifier.T, precision=HIGHEST)
    if bias is not None:
        if jnp.shape(bias) != (classifier.shape[0],):
            raise ValueError(f"bias must have shape ({classifier.shape[0]},), got {bias.shape}")
        logits = logits + bias
    # argmin ||z - mu_c||^2 = argmin (||mu_c||^2 - 2 z . mu_c); ||z||^2 is common to all c.
    centre_scores = jnp.sum(means**2, axis=1) - 2.0 * jnp.matmul(z, means.T, precision=HIGHEST)
    agree = jnp.argmax(logits, axis=1) == jnp.argmin(centre_scores, axis=1)
    return jnp.mean(agree.astype(z.dtype))
