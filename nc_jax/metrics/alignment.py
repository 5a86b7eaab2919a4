"""Alignment of a classifier with its class means, collapse to target directions, and SLERP.

Long-tailed training separates the space of the features (the class means) from the decision
space (the classifier rows); docs/theory/wang2025.md measures the gap class by class, and
docs/theory/yan2024.md measures how close the features of each class come to a fixed target
direction. Rows are classes: a classifier W is (K, d), class means are (K, d).

- ``class_alignment``: align_k = cos(w_k, mu_k - mu_G) (K,), the per-class NC3 cosine of
  ``collapse.nc3_cosines`` on means centred by ``etf.class_centre`` (under imbalance the two
  centres, the mean over samples and the mean of the class means, differ: the caller names one);
- ``nc3_distance``: || W/||W||_F - Hbar/||Hbar||_F ||_F, the square root of
  ``collapse.self_duality_distance`` (Papyan's NC3, which is the *squared* distance);
- ``alignment_gap``: sum_k (1 - align_k), the alignment regulariser's value without its beta;
- ``direction_collapse`` and ``collapse_summary``: the per-class mean of 1 - cos(h_i, c_{y_i})
  and its mean and standard deviation over classes (NC_ave and NC_std);
- ``slerp``: the spherical interpolation of two directions;
- ``per_class_accuracy``: the accuracy of an argmax rule within each class.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nc_jax.metrics.collapse import nc3_cosines, self_duality_distance
from nc_jax.metrics.etf import Centre, centred_class_means
from nc_jax.metrics.stats import ClassStats, check_features_and_labels, class_means_of
from nc_jax.validation import check_matrix


def class_alignment(
    classifier: jax.Array, stats: ClassStats, centre: Centre = "classes"
) -> jax.Array:
    """align_k = cos(w_k, mu_k - centre) for every class, (K,), in [-1, 1].

    Args:
        classifier: W (K, d), row k = w_k.
        stats: class statistics of the features W reads (``class_stats``).
        centre: "classes" (the mean of the class means) or "samples" (mu_G, the mean over
            samples, pulled towards the majority classes under imbalance).
    """
    return nc3_cosines(classifier, centred_class_means(stats, centre))


def alignment_gap(classifier: jax.Array, centred_means: jax.Array) -> jax.Array:
    """sum_k (1 - cos(w_k, mu~_k)) for W (K, d) and centred means mu~ (K, d): 0 when every row
    points along its centred class mean, at most 2K."""
    return jnp.sum(1.0 - nc3_cosines(classifier, centred_means))


def nc3_distance(classifier: jax.Array, centred_means: jax.Array) -> jax.Array:
    """|| W/||W||_F - Hbar/||Hbar||_F ||_F in [0, 2] for W (K, d) and centred means (K, d): the
    Frobenius distance itself, the square root of ``self_duality_distance``."""
    return jnp.sqrt(self_duality_distance(classifier, centred_means))


def _unit_rows(rows: jax.Array) -> jax.Array:
    return rows / jnp.linalg.norm(rows, axis=-1, keepdims=True)


def direction_collapse(
    features: jax.Array, y: jax.Array, directions: jax.Array, num_classes: int
) -> jax.Array:
    """Per class, the mean over its samples of 1 - cos(h_i, c_{y_i}), (K,), in [0, 2].

    Args:
        features: H (N, d), one sample per row (no row may be zero).
        y: (N,) labels in [0, K), every class present.
        directions: C (K, d), the target direction c_k of class k (any non-zero norm).
        num_classes: K.
    """
    num_classes = check_features_and_labels(features, y, num_classes)
    check_matrix(directions, "directions")
    cosines = jnp.sum(_unit_rows(features) * _unit_rows(directions)[y], axis=1)
    return class_means_of(1.0 - cosines, y, num_classes)


def collapse_summary(per_class: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(NC_ave, NC_std): the mean and the standard deviation (1/K, ddof 0) over classes of a
    per-class collapse metric (K,), e.g. ``direction_collapse``."""
    return jnp.mean(per_class), jnp.std(per_class)


def slerp(a: jax.Array, b: jax.Array, t: float | jax.Array) -> jax.Array:
    """s_t = [sin((1 - t) omega) a^ + sin(t omega) b^] / sin(omega), a^ = a/||a||, b^ = b/||b||,
    omega = arccos(a^ . b^) in (0, pi): the point at fraction t of the great-circle arc from a^
    to b^, (d,). It has unit norm and makes the angle t omega with a^ (t in [0, 1]). Undefined
    (NaN) when a and b are parallel or antiparallel (sin omega = 0)."""
    a_unit, b_unit = a / jnp.linalg.norm(a), b / jnp.linalg.norm(b)
    omega = jnp.arccos(jnp.clip(jnp.dot(a_unit, b_unit), -1.0, 1.0))
    return (jnp.sin((1 - t) * omega) * a_unit + jnp.sin(t * omega) * b_unit) / jnp.sin(omega)


def per_class_accuracy(scores: jax.Array, y: jax.Array, num_classes: int) -> jax.Array:
    """Within each class, the fraction of its samples whose argmax score is their label, (K,).

    Args:
        scores: (N, K) class scores (logits, cosines).
        y: (N,) labels in [0, K), every class present.
        num_classes: K.
    """
    num_classes = check_features_and_labels(scores, y, num_classes)
    correct = (jnp.argmax(scores, axis=1) == y).astype(scores.dtype)
    return class_means_of(correct, y, num_classes)
