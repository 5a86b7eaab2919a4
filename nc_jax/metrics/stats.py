"""Class statistics of one layer's features, computed without any d x d matrix.

Conventions (theory notes docs/theory/jacot2025.md, "Class statistics at layer l"):

- Features ``z`` are stored (N, d), one sample per row (the papers use columns, Z in R^{d x N}).
- ``means`` (K, d): row c is the class mean mu_c (the papers' M in R^{d x K}, transposed).
- ``global_mean`` (d,): mu_G = (1/N) sum_i z_i, the mean over *samples*; for balanced classes
  it equals the mean of the class means, for imbalanced ones it does not (Papyan et al. 2020).
- ``residual`` (N, d): z_i - mu_{y_i}, i.e. Z - Zbar.
- Sigma_W = (1/N) (Z - Zbar)(Z - Zbar)^T and Sigma_B = (1/K) sum_c (mu_c - mu_G)(mu_c - mu_G)^T.
  Only their traces and K x K / N x K products are ever formed.

The residual is formed explicitly (O(N d)) instead of ||Z||^2 - sum_c n_c ||mu_c||^2, because that
difference cancels catastrophically exactly where neural collapse happens.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from nc_jax.validation import check_labels, check_matrix, check_num_classes

HIGHEST = jax.lax.Precision.HIGHEST


class ClassStats(NamedTuple):
    """Class statistics of one feature matrix; a pytree, so it passes through jit and vmap.

    Attributes:
        labels: (N,) int class of each row.
        counts: (K,) number of samples per class n_c, in the feature dtype.
        means: (K, d) class means mu_c.
        global_mean: (d,) mean over samples mu_G.
        residual: (N, d) z_i - mu_{y_i}.
    """

    labels: jax.Array
    counts: jax.Array
    means: jax.Array
    global_mean: jax.Array
    residual: jax.Array

    @property
    def num_classes(self) -> int:
        return self.means.shape[-2]

    @property
    def num_samples(self) -> int:
        return self.residual.shape[-2]


def one_hot(y: jax.Array, num_classes: int, dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """One-hot label matrix (N, K), the transpose of the papers' Y in R^{K x N}."""
    return jax.nn.one_hot(y, num_classes, dtype=dtype)


def check_features_and_labels(z: jax.Array, y: jax.Array, num_classes: int) -> int:
    """Validate features (N, d), labels (N,) and K; return K as an int."""
    num_classes = check_num_classes(num_classes)
    check_matrix(z, "z")
    check_labels(y, z.shape[0], num_classes)
    return num_classes


def class_stats(z: jax.Array, y: jax.Array, num_classes: int) -> ClassStats:
    """Class means, global mean, counts and residuals of features ``z`` with labels ``y``.

    Args:
        z: (N, d) features, one sample per row.
        y: (N,) integer labels in [0, K); every class must occur.
        num_classes: K >= 2 (a Python int, static under jit).

    Returns:
        ClassStats with counts (K,), means (K, d), global_mean (d,), residual (N, d).

    Raises:
        ValueError: on mismatched shapes, labels out of range, an empty class, K < 2 or
            non-finite features (value checks are skipped under jit/vmap).
    """
    num_classes = check_features_and_labels(z, y, num_classes)
    return _class_stats(jnp.asarray(z), jnp.asarray(y), num_classes)


def _class_stats(z: jax.Array, y: jax.Array, num_classes: int) -> ClassStats:
    counts = jax.ops.segment_sum(jnp.ones_like(z[:, 0]), y, num_segments=num_classes)
    sums = jax.ops.segment_sum(z, y, num_segments=num_classes)
    means = sums / counts[:, None]
    return ClassStats(
        labels=y,
        counts=counts,
        means=means,
        global_mean=jnp.mean(z, axis=0),
        residual=z - means[y],
    )


def class_means_of(values: jax.Array, y: jax.Array, num_classes: int) -> jax.Array:
    """Per-class mean of per-sample ``values`` (N, ...) with labels y (N,): (K, ...), NaN for a
    class without samples (e.g. a per-sample accuracy or squared Jacobian norm per class)."""
    sums = jax.ops.segment_sum(values, y, num_segments=num_classes)
    counts = jax.ops.segment_sum(jnp.ones(values.shape[:1], values.dtype), y, num_classes)
    return sums / counts.reshape(-1, *(1,) * (values.ndim - 1))


def centred_means(stats: ClassStats) -> jax.Array:
    """Centred class means mu_c - mu_G, shape (K, d) (the papers' Hbar / Mdot, transposed)."""
    return stats.means - stats.global_mean


def within_class_trace(stats: ClassStats) -> jax.Array:
    """tr(Sigma_W) = (1/N) ||Z - Zbar||_F^2, a scalar."""
    return jnp.sum(stats.residual**2) / stats.num_samples


def between_class_trace(stats: ClassStats) -> jax.Array:
    """tr(Sigma_B) = (1/K) sum_c ||mu_c - mu_G||^2, a scalar."""
    return jnp.sum(centred_means(stats) ** 2) / stats.num_classes


def within_class_variances(stats: ClassStats) -> jax.Array:
    """Per-class variance sigma_c^2 = (1/n_c) sum_{i in c} ||z_i - mu_c||^2, shape (K,)."""
    sq_norms = jnp.sum(stats.residual**2, axis=1)
    return jax.ops.segment_sum(sq_norms, stats.labels, stats.num_classes) / stats.counts


def gram(a: jax.Array) -> jax.Array:
    """a a^T at full precision; for a (K, d) this is the K x K Gram matrix of the rows."""
    return jnp.matmul(a, a.T, precision=HIGHEST)


def pairwise_sq_distances(a: jax.Array) -> jax.Array:
    """||a_i - a_j||^2 for the rows of a (K, d), shape (K, K).

    Uses the difference of each pair (K x K x d work, small since K is the number of classes)
    instead of |a_i|^2 + |a_j|^2 - 2 a_i.a_j, which cancels for nearby rows.
    """
    diffs = a[:, None, :] - a[None, :, :]
    return jnp.sum(diffs**2, axis=-1)
