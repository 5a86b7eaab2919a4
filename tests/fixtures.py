"""Closed-form and random fixtures shared by the metric tests (float64 NumPy)."""

from __future__ import annotations

import numpy as np


def balanced_labels(num_classes: int, n_per_class: int) -> np.ndarray:
    return np.repeat(np.arange(num_classes), n_per_class).astype(np.int32)


def orthonormal_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """(rows, dim) with orthonormal rows, rows <= dim."""
    q, _ = np.linalg.qr(rng.normal(size=(dim, rows)))
    return q.T


def simplex_etf(rng: np.random.Generator, num_classes: int, dim: int, scale: float = 1.0):
    """K rows forming a simplex ETF embedded in R^dim by a random isometry (dim >= K)."""
    k = num_classes
    frame = (np.eye(k) - np.ones((k, k)) / k) * np.sqrt(k / (k - 1))
    return scale * frame @ orthonormal_rows(rng, k, dim)


def orthogonal_frame(rng: np.random.Generator, num_classes: int, dim: int, scale: float = 1.0):
    """K orthogonal rows of equal norm ``scale`` in R^dim (dim >= K)."""
    return scale * orthonormal_rows(rng, num_classes, dim)


def noisy_features(
    rng: np.random.Generator, means: np.ndarray, n_per_class: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Features z = mean of the class + noise * N(0, I), labels balanced."""
    y = balanced_labels(means.shape[0], n_per_class)
    z = means[y] + noise * rng.normal(size=(y.size, means.shape[1]))
    return z, y


def random_problem(rng: np.random.Generator, num_classes=5, n_per_class=12, dim=16, noise=0.7):
    """Well-conditioned random features with random Gaussian class means, and a classifier."""
    means = rng.normal(size=(num_classes, dim)) * 2.0
    z, y = noisy_features(rng, means, n_per_class, noise)
    classifier = rng.normal(size=(num_classes, dim))
    return z, y, classifier


def verdict_status(directory) -> int:
    """The exit status nc_jax.exits gives the verdicts stored in a results ``directory``: 1 if
    a check is violated, else 0. A quick run may refute a claim (a finding the script must
    report with exit 1), so the scripts' tests compare with this rather than with 0."""
    from pathlib import Path

    from nc_jax import exits, sweep

    return exits.status_of(sweep.load(Path(directory))["verdict"])
