"""nc_jax.metrics.alignment against float64 NumPy references and closed-form fixtures."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.metrics import class_stats, self_duality_distance
from nc_jax.metrics.alignment import (
    alignment_gap,
    class_alignment,
    collapse_summary,
    direction_collapse,
    nc3_distance,
    per_class_accuracy,
    slerp,
)

RNG = np.random.default_rng(0)
K, D = 4, 6
Y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3])  # imbalanced
H = RNG.normal(size=(len(Y), D))
W = RNG.normal(size=(K, D))


def _cos(a, b):
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _means(h, y):
    return np.stack([h[y == k].mean(0) for k in range(K)])


@pytest.mark.parametrize("centre", ["classes", "samples"])
def test_class_alignment_matches_numpy_under_both_centres(centre):
    means = _means(H, Y)
    mu = means.mean(0) if centre == "classes" else H.mean(0)
    expected = _cos(W, means - mu)
    got = class_alignment(jnp.asarray(W), class_stats(jnp.asarray(H), jnp.asarray(Y), K), centre)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)


def test_the_two_centres_differ_under_imbalance_and_agree_when_balanced():
    stats = class_stats(jnp.asarray(H), jnp.asarray(Y), K)
    assert not np.allclose(
        class_alignment(W, stats, "classes"), class_alignment(W, stats, "samples")
    )
    y = np.repeat(np.arange(K), 3)
    balanced = class_stats(jnp.asarray(RNG.normal(size=(12, D))), jnp.asarray(y), K)
    np.testing.assert_allclose(
        class_alignment(W, balanced, "classes"), class_alignment(W, balanced, "samples"), rtol=1e-12
    )


def test_alignment_gap_and_nc3_distance_match_numpy_and_vanish_on_aligned_rows():
    centred = _means(H, Y) - _means(H, Y).mean(0)
    assert float(alignment_gap(W, centred)) == pytest.approx(
        np.sum(1 - _cos(W, centred)), rel=1e-12
    )
    expected = np.linalg.norm(W / np.linalg.norm(W) - centred / np.linalg.norm(centred))
    assert float(nc3_distance(W, centred)) == pytest.approx(expected, rel=1e-12)
    assert float(nc3_distance(W, centred)) ** 2 == pytest.approx(
        float(self_duality_distance(W, centred))
    )
    assert float(alignment_gap(3.0 * centred, centred)) == pytest.approx(0.0, abs=1e-14)
    assert float(nc3_distance(3.0 * centred, centred)) == pytest.approx(0.0, abs=1e-7)


def test_direction_collapse_matches_numpy_and_its_summary():
    targets = RNG.normal(size=(K, D))
    expected = np.array([np.mean(1 - _cos(H[np.equal(Y, k)], targets[k])) for k in range(K)])
    got = np.asarray(direction_collapse(jnp.asarray(H), jnp.asarray(Y), jnp.asarray(targets), K))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    ave, std = collapse_summary(jnp.asarray(got))
    assert (float(ave), float(std)) == pytest.approx((expected.mean(), expected.std()), rel=1e-12)


def test_direction_collapse_closed_forms():
    """Features along their targets (any positive scale) give 0; antiparallel ones give 2."""
    targets = RNG.normal(size=(K, D))
    scales = RNG.uniform(0.5, 2.0, size=(len(Y), 1))
    aligned = direction_collapse(jnp.asarray(scales * targets[Y]), jnp.asarray(Y), targets, K)
    np.testing.assert_allclose(np.asarray(aligned), 0.0, atol=1e-14)
    opposite = direction_collapse(jnp.asarray(-targets[Y]), jnp.asarray(Y), targets, K)
    np.testing.assert_allclose(np.asarray(opposite), 2.0, rtol=1e-14)


@pytest.mark.parametrize("t", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_slerp_identities_unit_norm_and_geodesic_angle(t):
    a, b = RNG.normal(size=8), RNG.normal(size=8)
    a_unit, b_unit = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(a_unit @ b_unit)
    s = np.asarray(slerp(jnp.asarray(a), jnp.asarray(b), t))
    expected = (np.sin((1 - t) * omega) * a_unit + np.sin(t * omega) * b_unit) / np.sin(omega)
    np.testing.assert_allclose(s, expected, atol=1e-14)
    assert np.linalg.norm(s) == pytest.approx(1.0, abs=1e-14)
    assert np.arccos(np.clip(s @ a_unit, -1, 1)) == pytest.approx(t * omega, abs=1e-7)
    assert np.arccos(np.clip(s @ b_unit, -1, 1)) == pytest.approx((1 - t) * omega, abs=1e-7)


def test_slerp_of_orthogonal_vectors_is_the_rotation():
    s = slerp(jnp.array([1.0, 0.0]), jnp.array([0.0, 2.0]), 1 / 3)
    np.testing.assert_allclose(np.asarray(s), [np.cos(np.pi / 6), np.sin(np.pi / 6)], atol=1e-15)


def test_per_class_accuracy_matches_numpy():
    scores = RNG.normal(size=(len(Y), K))
    hits = scores.argmax(1) == Y
    expected = [hits[np.equal(Y, k)].mean() for k in range(K)]
    got = per_class_accuracy(jnp.asarray(scores), jnp.asarray(Y), K)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)
