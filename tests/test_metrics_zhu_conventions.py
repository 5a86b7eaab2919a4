"""The NC-metric variants added for Zhu et al. (docs/theory/zhu2021.md, "Metrics by name"): Zhu's
NC3 (normalised
W Hbar against the ETF), Zhu's NC4 (bias collapse ||W mu_G + b||) and Papyan's equinorm with the
unbiased std; each against a closed-form fixture (an exact ETF configuration gives 0), hand
values and the float64 NumPy reference (nc_jax.metrics.reference), under jit and vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixtures import balanced_labels, random_problem, simplex_etf

from nc_jax import metrics as m
from nc_jax.metrics import reference as ref


def _etf_configuration(rng, k=4, d=7, n=3, scale=1.7, alpha=0.4):
    """W a simplex ETF (K, d) of row norm ``scale``, features h = alpha w_k (collapsed), so
    the centred class means are alpha W (the rows of an ETF sum to 0)."""
    w = simplex_etf(rng, k, d, scale)
    y = balanced_labels(k, n)
    return w, alpha * w[y], y


def test_zhu_nc3_is_zero_on_the_etf_configuration():
    w, h, y = _etf_configuration(np.random.default_rng(0))
    stats = m.class_stats(jnp.asarray(h), jnp.asarray(y), 4)
    assert float(m.zhu_nc3(jnp.asarray(w), m.centred_means(stats))) < 1e-14
    assert ref.zhu_nc3(w, ref.centred_class_means(h, y, 4)) < 1e-14


def test_zhu_nc3_hand_value_and_symmetry():
    """K = 2, d = 1: W = (1, 0)^T, centred means (1, -1)^T: W Hbar = [[1, -1], [0, 0]],
    normalised [[1, -1], [0, 0]]/sqrt(2); target [[1, -1], [-1, 1]]/2; the difference
    [[a, -a], [1/2, -1/2]] with a = 1/sqrt(2) - 1/2 has norm sqrt(2 a^2 + 1/2)."""
    w = jnp.array([[1.0], [0.0]])
    means = jnp.array([[1.0], [-1.0]])
    a = 1 / np.sqrt(2) - 0.5
    expected = np.sqrt(2 * a**2 + 0.5)
    assert float(m.zhu_nc3(w, means)) == pytest.approx(expected, rel=1e-14)
    assert ref.zhu_nc3(np.asarray(w), np.asarray(means)) == pytest.approx(expected, rel=1e-14)
    # the target is symmetric, so swapping W and the means (transposing W Hbar) changes nothing
    assert float(m.zhu_nc3(means, w)) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("seed", range(4))
def test_zhu_nc3_and_bias_collapse_match_the_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    z, y, w = random_problem(rng)
    b = rng.normal(size=w.shape[0])
    stats = m.class_stats(jnp.asarray(z), jnp.asarray(y), w.shape[0])
    centred = m.centred_means(stats)
    got = float(m.zhu_nc3(jnp.asarray(w), centred))
    assert got == pytest.approx(
        ref.zhu_nc3(w, ref.centred_class_means(z, y, w.shape[0])), rel=1e-12
    )
    for bias in (None, b):
        jax_bias = None if bias is None else jnp.asarray(bias)
        got = float(m.bias_collapse(jnp.asarray(w), stats.global_mean, jax_bias))
        assert got == pytest.approx(ref.bias_collapse(w, z, bias), rel=1e-12)


def test_bias_collapse_hand_value_and_zero_at_the_minimiser():
    """W mu_G + b = (1*2 + 0*3 + 1, 0*2 + 1*3 - 7) = (3, -4): norm 5. At the ETF
    configuration mu_G = 0, so with b = 0 it is 0."""
    w = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    assert float(m.bias_collapse(w, jnp.array([2.0, 3.0]), jnp.array([1.0, -7.0]))) == 5.0
    assert float(m.bias_collapse(w, jnp.array([3.0, 4.0]))) == 5.0  # no bias: ||W mu_G||
    w, h, y = _etf_configuration(np.random.default_rng(1))
    stats = m.class_stats(jnp.asarray(h), jnp.asarray(y), 4)
    assert float(m.bias_collapse(jnp.asarray(w), stats.global_mean, jnp.zeros(4))) < 1e-14


def test_bias_collapse_shape_errors():
    w = jnp.ones((3, 2))
    with pytest.raises(ValueError, match=r"global_mean must have shape \(2,\)"):
        m.bias_collapse(w, jnp.ones(3))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        m.bias_collapse(w, jnp.ones(2), jnp.ones(2))


def test_equinorm_unbiased_std_hand_value():
    """Row norms 1 and 3: mean 2, population std 1, unbiased std sqrt(2)."""
    rows = jnp.array([[1.0, 0.0], [0.0, 3.0]])
    assert float(m.equinorm(rows)) == pytest.approx(0.5, rel=1e-15)
    assert float(m.equinorm(rows, ddof=1)) == pytest.approx(np.sqrt(2) / 2, rel=1e-15)
    assert ref.equinorm(np.asarray(rows), ddof=1) == pytest.approx(np.sqrt(2) / 2, rel=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_equinorm_ddof_matches_the_reference_and_the_factor(seed):
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(6, 5))
    unbiased = float(m.equinorm(jnp.asarray(rows), ddof=1))
    assert unbiased == pytest.approx(ref.equinorm(rows, ddof=1), rel=1e-12)
    assert unbiased == pytest.approx(float(m.equinorm(jnp.asarray(rows))) * np.sqrt(6 / 5))
    assert float(m.equinorm(jnp.asarray(simplex_etf(rng, 6, 8)), ddof=1)) < 1e-14


def test_new_variants_jit_and_vmap_over_runs():
    rng = np.random.default_rng(3)
    ws = jnp.asarray(rng.normal(size=(3, 4, 5)))
    means = jnp.asarray(rng.normal(size=(3, 4, 5)))
    biases = jnp.asarray(rng.normal(size=(3, 4)))
    nc3 = jax.jit(jax.vmap(m.zhu_nc3))(ws, means)
    nc4 = jax.jit(jax.vmap(m.bias_collapse))(ws, means[:, 0], biases)
    norm = jax.jit(jax.vmap(lambda r: m.equinorm(r, ddof=1)))(ws)
    for r in range(3):
        assert float(nc3[r]) == pytest.approx(ref.zhu_nc3(np.asarray(ws[r]), np.asarray(means[r])))
        expected = np.linalg.norm(np.asarray(ws[r]) @ np.asarray(means[r, 0]) + biases[r])
        assert float(nc4[r]) == pytest.approx(expected)
        assert float(norm[r]) == pytest.approx(ref.equinorm(np.asarray(ws[r]), ddof=1))
