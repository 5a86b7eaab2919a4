"""NC1-NC4 against float64 NumPy references, closed-form fixtures and invariances."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixtures import (
    balanced_labels,
    noisy_features,
    orthogonal_frame,
    random_problem,
    simplex_etf,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from nc_jax import metrics as m
from nc_jax.metrics import reference as ref

RTOL = {np.float64: 1e-10, np.float32: 1e-4}


def _rel_err(a, b):
    return abs(float(a) - float(b)) / max(abs(float(b)), 1e-300)


@pytest.fixture
def problem():
    return random_problem(np.random.default_rng(0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_metric_matches_numpy_reference(problem, dtype):
    z, y, classifier = problem
    ours = m.layer_metrics(
        jnp.asarray(z, dtype), jnp.asarray(y), 5, classifier=jnp.asarray(classifier, dtype)
    )
    expected = ref.layer_metric_set(z, y, 5, classifier)
    for key, value in expected.items():
        assert ours[key].dtype == dtype, key
        assert _rel_err(ours[key], value) <= RTOL[dtype], (key, float(ours[key]), value)


@pytest.mark.parametrize("kind", m.NC1_KINDS)
def test_nc1_dispatch_matches_named_functions(problem, kind):
    z, y, _ = problem
    stats = m.class_stats(z, y, 5)
    named = {"trace_ratio": m.nc1_trace_ratio, "pinv": m.nc1_pinv, "cdnv": m.nc1_cdnv}[kind]
    assert float(m.nc1(stats, kind=kind)) == float(named(stats))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pairwise_snr_against_numpy_and_by_hand(dtype):
    z = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [12.0, 0.0]])
    y = np.array([0, 0, 1, 1])
    # means (1, 0), (11, 0); spreads (1 + 1) / (2 - 1) = 2 each: 100 / 4
    stats = m.class_stats(jnp.asarray(z, dtype), jnp.asarray(y), 2)
    assert float(m.pairwise_snr(stats)) == pytest.approx(25.0, rel=RTOL[dtype])
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(36, 3)), np.repeat(np.arange(3), [10, 12, 14])
    pairs = []
    for a, b in ((0, 1), (0, 2), (1, 2)):
        va, vb = (np.trace(np.cov(z[y == c].T)) for c in (a, b))
        pairs.append(np.sum((z[y == a].mean(0) - z[y == b].mean(0)) ** 2) / (va + vb))
    stats = m.class_stats(jnp.asarray(z, dtype), jnp.asarray(y), 3)
    assert _rel_err(m.pairwise_snr(stats), np.mean(pairs)) <= RTOL[dtype]
    # ddof = 0: every pair's ratio is 1 / (2 x) its CDNV term; with two classes, one pair
    two = m.class_stats(jnp.asarray(z[y < 2], dtype), jnp.asarray(y[y < 2]), 2)
    product = float(m.pairwise_snr(two, ddof=0)) * 2 * float(m.nc1_cdnv(two))
    assert product == pytest.approx(1.0, rel=RTOL[dtype])


def test_nc1_unknown_kind_is_rejected(problem):
    z, y, _ = problem
    with pytest.raises(ValueError, match="kind"):
        m.nc1(m.class_stats(z, y, 5), kind="papyan")


def test_trace_ratio_equals_frobenius_form_for_balanced_classes(problem):
    """jacot2025.md section 2: tr(Sigma_W)/tr(Sigma_B) = ||Z - Zbar||^2 / ||Zbar - mu_G 1^T||^2."""
    z, y, _ = problem
    means = ref.class_means(z, y, 5)
    zbar = means[y]
    expected = np.sum((z - zbar) ** 2) / np.sum((zbar - z.mean(axis=0)) ** 2)
    assert _rel_err(m.nc1_trace_ratio(m.class_stats(z, y, 5)), expected) < 1e-12


def test_imbalanced_classes_use_the_sample_global_mean():
    rng = np.random.default_rng(3)
    y = np.array([0] * 3 + [1] * 9 + [2] * 5, dtype=np.int32)
    z = rng.normal(size=(y.size, 6)) + 3 * np.eye(3, 6)[y]
    stats = m.class_stats(z, y, 3)
    np.testing.assert_allclose(stats.global_mean, z.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.counts, [3, 9, 5])
    for kind, fn in (("trace_ratio", ref.nc1_trace_ratio), ("pinv", ref.nc1_pinv)):
        assert _rel_err(m.nc1(stats, kind=kind), fn(z, y, 3)) < 1e-10


# ------------------------------------------------------------------------ closed-form fixtures


@pytest.mark.parametrize("num_classes", [2, 3, 10])
def test_simplex_etf_has_zero_deviation(num_classes):
    rows = simplex_etf(np.random.default_rng(num_classes), num_classes, 12, scale=3.0)
    assert float(m.simplex_etf_deviation(rows)) < 1e-12
    assert float(m.max_angle_deviation(rows)) < 1e-12
    assert float(m.equiangularity(rows)) < 1e-12
    assert float(m.equinorm(rows)) < 1e-12


@pytest.mark.parametrize("num_classes", [2, 4, 10])
def test_orthogonal_frame_has_kappa_one_and_zero_deviation(num_classes):
    rows = orthogonal_frame(np.random.default_rng(num_classes), num_classes, 16, scale=2.5)
    assert abs(float(m.nc2_kappa(rows)) - 1.0) < 1e-12
    assert float(m.orthogonal_frame_deviation(rows)) < 1e-12
    assert float(m.equinorm(rows)) < 1e-12


def test_orthogonal_frame_is_not_a_simplex_etf_and_vice_versa():
    rng = np.random.default_rng(1)
    assert float(m.simplex_etf_deviation(orthogonal_frame(rng, 4, 8))) > 0.1
    assert float(m.orthogonal_frame_deviation(simplex_etf(rng, 4, 8))) > 0.1


def test_perfectly_collapsed_features():
    """Features equal to their class means: NC1 = 0 in every variant, NC3 and NC4 perfect
    when the classifier is the class-mean matrix of an orthogonal frame (self-dual)."""
    rng = np.random.default_rng(2)
    means = orthogonal_frame(rng, 5, 9, scale=2.0)
    z, y = noisy_features(rng, means, 7, noise=0.0)
    stats = m.class_stats(z, y, 5)
    for kind in m.NC1_KINDS:
        assert 0.0 <= float(m.nc1(stats, kind=kind)) < 1e-25, kind  # means carry rounding
    np.testing.assert_allclose(m.nc3_cosines(means, stats.means), 1.0, rtol=1e-12)
    centred = m.centred_means(stats)
    assert float(m.self_duality_distance(centred, centred)) < 1e-24
    assert float(m.ncc_agreement(z, means=stats.means, classifier=means)) == 1.0


def test_etf_collapse_with_etf_classifier_agrees_with_bias():
    rng = np.random.default_rng(4)
    means = simplex_etf(rng, 4, 6, scale=1.5)
    z, y = noisy_features(rng, means, 10, noise=0.05)
    stats = m.class_stats(z, y, 4)
    bias = jnp.asarray(rng.normal(size=4) * 1e-3)
    agree = m.ncc_agreement(z, means=stats.means, classifier=means, bias=bias)
    assert float(agree) == 1.0
    assert _rel_err(agree, ref.ncc_agreement(z, stats.means, means, bias)) == 0.0


def test_ncc_agreement_detects_disagreement():
    """A classifier that swaps two classes disagrees with the nearest centre on those classes."""
    rng = np.random.default_rng(5)
    means = orthogonal_frame(rng, 3, 5, scale=3.0)
    z, y = noisy_features(rng, means, 10, noise=0.01)
    swapped = means[[1, 0, 2]]
    stats = m.class_stats(z, y, 3)
    assert abs(float(m.ncc_agreement(z, means=stats.means, classifier=swapped)) - 1 / 3) < 1e-12


# ---------------------------------------------------------------------- NC1 pinv never negative


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_classes=st.integers(2, 6),
    rank=st.integers(1, 6),
    log_noise=st.floats(-14, 1),
)
def test_nc1_pinv_is_never_negative(seed, num_classes, rank, log_noise):
    """Rank-deficient features (all samples in a ``rank``-dimensional subspace of R^12) and
    nearly collapsed ones: the truncated pseudo-inverse keeps NC1 >= 0."""
    rng = np.random.default_rng(seed)
    basis = orthogonal_frame(rng, min(rank, 12), 12)
    means = rng.normal(size=(num_classes, basis.shape[0])) @ basis
    z, y = noisy_features(rng, means, 6, noise=0.0)
    z = z + 10.0**log_noise * rng.normal(size=(z.shape[0], basis.shape[0])) @ basis
    for dtype in (np.float64, np.float32):
        value = float(m.nc1_pinv(m.class_stats(jnp.asarray(z, dtype), y, num_classes)))
        assert value >= 0.0
        assert np.isfinite(value) or rank < num_classes - 1


def test_untruncated_pinv_goes_negative_where_ours_does_not():
    """The trap the truncation avoids: np.linalg.pinv keeps noise eigenvalues of Sigma_B."""
    rng = np.random.default_rng(0)
    means = rng.normal(size=(10, 400))
    z, y = noisy_features(rng, means, 40, noise=1.0)
    ours = float(m.nc1_pinv(m.class_stats(z, y, 10)))
    assert ours >= 0.0
    assert _rel_err(ours, ref.nc1_pinv(z, y, 10, truncate=True)) < 1e-8


# ------------------------------------------------------------------------------- invariances

SCALE_FREE = (
    "nc1_trace_ratio",
    "nc1_pinv",
    "nc1_cdnv",
    "nc2_kappa",
    "nc2_etf",
    "nc2_orthogonal",
    "equinorm",
    "equiangularity",
    "max_angle",
    "nc3_cos_mean",
    "nc3_cos_min",
    "nc3_self_duality",
    "nc4_agreement",
)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), log_scale=st.floats(-3, 3))
def test_scale_and_rotation_leave_scale_free_metrics_unchanged(seed, log_scale):
    rng = np.random.default_rng(seed)
    z, y, classifier = random_problem(rng, num_classes=4, n_per_class=8, dim=10)
    rotation, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    scale = 10.0**log_scale
    base = m.layer_metrics(z, y, 4, classifier=classifier)
    moved = m.layer_metrics(scale * z @ rotation, y, 4, classifier=classifier @ rotation)
    for key in SCALE_FREE:
        np.testing.assert_allclose(moved[key], base[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_traces_scale_quadratically():
    z, y, _ = random_problem(np.random.default_rng(6))
    base, scaled = m.class_stats(z, y, 5), m.class_stats(3.0 * z, y, 5)
    assert _rel_err(m.within_class_trace(scaled), 9 * m.within_class_trace(base)) < 1e-12
    assert _rel_err(m.between_class_trace(scaled), 9 * m.between_class_trace(base)) < 1e-12


# ------------------------------------------------------------------------------- batching


def test_vmap_over_64_models_matches_per_model_results():
    rng = np.random.default_rng(7)
    num_models, k, n, d = 64, 4, 6, 8
    y = jnp.asarray(balanced_labels(k, n))
    zs = rng.normal(size=(num_models, k * n, d)) + 2 * rng.normal(size=(num_models, 1, d))
    zs = zs + 3 * np.eye(k, d)[np.asarray(y)]
    ws = rng.normal(size=(num_models, k, d))

    def one(z, w):
        return m.layer_metrics(z, y, k, classifier=w)

    batched = jax.jit(jax.vmap(one))(jnp.asarray(zs), jnp.asarray(ws))
    for index in (0, 17, 63):
        single = one(zs[index], ws[index])
        for key in SCALE_FREE:
            np.testing.assert_allclose(batched[key][index], single[key], rtol=1e-10, err_msg=key)
    assert batched["nc1_pinv"].shape == (num_models,)


# ------------------------------------------------------------------------------- bad input


def test_bad_inputs_name_the_argument():
    rng = np.random.default_rng(8)
    z, y, classifier = random_problem(rng, num_classes=3, n_per_class=4, dim=5)
    cases = [
        (lambda: m.class_stats(z[:-1], y, 3), "y"),
        (lambda: m.class_stats(z, y + 1, 3), "y"),
        (lambda: m.class_stats(z, np.where(y == 2, 0, y).astype(np.int32), 3), "y"),
        (lambda: m.class_stats(z, np.zeros_like(y), 1), "num_classes"),
        (lambda: m.class_stats(np.where(z > 1, np.nan, z), y, 3), "z"),
        (lambda: m.class_stats(z[:, :, None], y, 3), "z"),
        (lambda: m.class_stats(z, y.astype(np.float64), 3), "y"),
        (lambda: m.nc2_kappa(np.ones((5, 3))), "d >= 5"),
        (lambda: m.nc1_pinv(m.class_stats(z[:, :1], y, 3)), "d >= 2"),
        (lambda: m.simplex_etf_deviation(np.ones((5, 3))), "d >= 4"),
        (lambda: m.nc3_cosines(classifier[:, :4], m.class_stats(z, y, 3).means), "classifier"),
        (lambda: m.ncc_agreement(z[:, :4], means=classifier, classifier=classifier), "z"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()


def test_row_cosines_match_numpy():
    rows = np.random.default_rng(3).normal(size=(4, 6))
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    np.testing.assert_allclose(m.row_cosines(jnp.asarray(rows)), unit @ unit.T, atol=1e-12)
