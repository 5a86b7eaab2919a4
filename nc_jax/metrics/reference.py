"""Straightforward float64 NumPy implementations of the metrics, written from the formulas.

They follow the papers literally (samples as columns, d x d covariances, explicit projectors and
pseudo-inverses), share no code with the JAX metrics, and serve two purposes: the independent
reference the tests compare against, and the "what most NC code does" baseline of the metrics
benchmark. They are slow and memory-hungry for large d on purpose; do not use them in training.
"""

from __future__ import annotations

import numpy as np


def _columns(z: np.ndarray, y: np.ndarray, num_classes: int):
    """Z (d, N), class-mean matrix M (d, K), global mean (d,), counts (K,)."""
    features = np.asarray(z, dtype=np.float64).T
    labels = np.asarray(y)
    counts = np.array([np.sum(labels == c) for c in range(num_classes)], dtype=np.float64)
    means = np.stack([features[:, labels == c].mean(axis=1) for c in range(num_classes)], axis=1)
    return features, labels, means, features.mean(axis=1), counts


def scatter_matrices(z: np.ndarray, y: np.ndarray, num_classes: int):
    """Sigma_W = (1/N) sum_i (z_i - mu_{y_i})(...)^T and Sigma_B = (1/K) sum_c (mu_c - mu_G)(...)^T,
    both d x d."""
    features, labels, means, global_mean, _ = _columns(z, y, num_classes)
    centred_within = features - means[:, labels]
    sigma_w = centred_within @ centred_within.T / features.shape[1]
    centred_between = means - global_mean[:, None]
    sigma_b = centred_between @ centred_between.T / num_classes
    return sigma_w, sigma_b


def nc1_trace_ratio(z, y, num_classes):
    sigma_w, sigma_b = scatter_matrices(z, y, num_classes)
    return np.trace(sigma_w) / np.trace(sigma_b)


def truncated_pinv(sym: np.ndarray, rank: int) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix keeping its top ``rank`` eigenvalues."""
    eigenvalues, eigenvectors = np.linalg.eigh(sym)
    top_values, top_vectors = eigenvalues[-rank:], eigenvectors[:, -rank:]
    return (top_vectors / top_values) @ top_vectors.T


def between_pinv(sigma_b: np.ndarray, num_classes: int, truncate: bool) -> np.ndarray:
    """Sigma_B^+ truncated to rank K - 1, or np.linalg.pinv's default cut-off."""
    return truncated_pinv(sigma_b, num_classes - 1) if truncate else np.linalg.pinv(sigma_b)


def nc1_pinv(z, y, num_classes, truncate: bool = True):
    """(1/K) tr(Sigma_W Sigma_B^+); ``truncate=False`` is np.linalg.pinv's default cut-off,
    which keeps noise eigenvalues of Sigma_B and can return nonsense (even negative values)."""
    sigma_w, sigma_b = scatter_matrices(z, y, num_classes)
    inverse = between_pinv(sigma_b, num_classes, truncate)
    return np.trace(sigma_w @ inverse) / num_classes


def nc1_cdnv(z, y, num_classes):
    features, labels, means, _, _ = _columns(z, y, num_classes)
    variances = [
        np.mean(np.sum((features[:, labels == c] - means[:, [c]]) ** 2, axis=0))
        for c in range(num_classes)
    ]
    values = [
        (variances[a] + variances[b]) / (2 * np.sum((means[:, a] - means[:, b]) ** 2))
        for a in range(num_classes)
        for b in range(a + 1, num_classes)
    ]
    return float(np.mean(values))


def class_means(z, y, num_classes):
    """Class means as rows (K, d)."""
    return _columns(z, y, num_classes)[2].T


def centred_class_means(z, y, num_classes):
    """mu_c - mu_G as rows (K, d)."""
    _, _, means, global_mean, _ = _columns(z, y, num_classes)
    return (means - global_mean[:, None]).T


def condition_number(a):
    s = np.linalg.svd(np.asarray(a, dtype=np.float64), compute_uv=False)
    s = s[s > max(np.shape(a)) * np.finfo(np.float64).eps * s[0]]
    return s[0] / s[-1]


def simplex_etf_deviation(rows):
    k = rows.shape[0]
    g = rows @ rows.T
    target = (np.eye(k) - np.ones((k, k)) / k) / np.sqrt(k - 1)
    return np.linalg.norm(g / np.linalg.norm(g) - target)


def orthogonal_frame_deviation(rows):
    k = rows.shape[0]
    g = rows @ rows.T
    return np.linalg.norm(g / np.linalg.norm(g) - np.eye(k) / np.sqrt(k))


def equinorm(rows, ddof: int = 0):
    norms = np.linalg.norm(rows, axis=1)
    return norms.std(ddof=ddof) / norms.mean()


def _pair_cosines(rows):
    k = rows.shape[0]
    return [
        rows[a] @ rows[b] / (np.linalg.norm(rows[a]) * np.linalg.norm(rows[b]))
        for a in range(k)
        for b in range(k)
        if a != b
    ]


def equiangularity(rows):
    return float(np.std(_pair_cosines(rows)))


def max_angle_deviation(rows):
    k = rows.shape[0]
    return float(np.mean(np.abs(np.array(_pair_cosines(rows)) + 1.0 / (k - 1))))


def nc3_cosines(classifier, means):
    return np.array(
        [w @ m / (np.linalg.norm(w) * np.linalg.norm(m)) for w, m in zip(classifier, means)]
    )


def self_duality_distance(classifier, means):
    return (
        np.linalg.norm(classifier / np.linalg.norm(classifier) - means / np.linalg.norm(means)) ** 2
    )


def zhu_nc3(classifier, centred_means):
    """Zhu et al.'s NC3 with samples as columns: Hbar (d, K), || W Hbar/||W Hbar||_F -
    (I - J/K)/sqrt(K-1) ||_F."""
    k = classifier.shape[0]
    hbar = np.asarray(centred_means, dtype=np.float64).T
    product = classifier @ hbar
    target = (np.eye(k) - np.ones((k, k)) / k) / np.sqrt(k - 1)
    return np.linalg.norm(product / np.linalg.norm(product) - target)


def bias_collapse(classifier, z, bias=None):
    """Zhu et al.'s NC4 ||W mu_G + b||_2, mu_G the mean of the feature rows z (N, d)."""
    global_mean = np.asarray(z, dtype=np.float64).mean(axis=0)
    return np.linalg.norm(classifier @ global_mean + (0.0 if bias is None else bias))


def ncc_agreement(z, means, classifier, bias=None):
    z = np.asarray(z, dtype=np.float64)
    logits = z @ classifier.T + (0.0 if bias is None else bias)
    distances = np.stack([np.linalg.norm(z - mean, axis=1) for mean in means], axis=1)
    return float(np.mean(np.argmax(logits, axis=1) == np.argmin(distances, axis=1)))


def spectral_norm(a):
    return np.linalg.norm(np.asarray(a, dtype=np.float64), ord=2)


def balancedness(w, w_next):
    return np.linalg.norm(w_next.T @ w_next - w @ w.T, ord=2)


def negativity(preactivation):
    return spectral_norm(np.minimum(preactivation, 0.0)) / spectral_norm(preactivation)


def layer_metric_set(z, y, num_classes, classifier, truncate: bool = True):
    """The metrics of :func:`nc_jax.metrics.layer_metrics` (no bias, no pre-activation) the
    straightforward way, as a dict with the same keys. ``truncate=False`` uses
    np.linalg.pinv for NC1 pinv, as most NC code does."""
    means = class_means(z, y, num_classes)
    centred = centred_class_means(z, y, num_classes)
    sigma_w, sigma_b = scatter_matrices(z, y, num_classes)
    cosines = nc3_cosines(classifier, means)
    inverse = between_pinv(sigma_b, num_classes, truncate)
    return {
        "nc1_trace_ratio": np.trace(sigma_w) / np.trace(sigma_b),
        "nc1_pinv": np.trace(sigma_w @ inverse) / num_classes,
        "nc1_cdnv": nc1_cdnv(z, y, num_classes),
        "within_trace": np.trace(sigma_w),
        "between_trace": np.trace(sigma_b),
        "nc2_kappa": condition_number(means),
        "nc2_etf": simplex_etf_deviation(centred),
        "nc2_orthogonal": orthogonal_frame_deviation(means),
        "equinorm": equinorm(centred),
        "equiangularity": equiangularity(centred),
        "max_angle": max_angle_deviation(centred),
        "nc3_cos_mean": cosines.mean(),
        "nc3_cos_min": cosines.min(),
        "nc3_self_duality": self_duality_distance(classifier, centred),
        "nc4_agreement": ncc_agreement(z, means, classifier),
    }
