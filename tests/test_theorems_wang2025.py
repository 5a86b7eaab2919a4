"""theorems.wang2025's stand-in formulas against closed forms and NumPy (the generic contract
tests cover the checks, the setting and the run)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from theorems.wang2025.measure import chernoff_1d, chernoff_error, exponent_ratio, slerp_errors

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("gap, variance", [(1.0, 1.0), (0.3, 0.5), (2.0, 0.1), (0.0, 1.0)])
def test_numerical_chernoff_matches_gap_squared_over_eight_variance(gap, variance):
    assert chernoff_1d(gap, variance) == pytest.approx(gap**2 / (8 * variance), abs=1e-12)


@pytest.mark.parametrize("phi", [0.0, 0.3, 0.7, 1.2])
def test_isotropic_ratio_is_cos_squared_phi(phi):
    """E(w)/E_opt = cos^2 phi for Sigma = s^2 I (0.912668 at phi = 0.3, 0.584984 at 0.7)."""
    delta = RNG.normal(size=5)
    u = delta / np.linalg.norm(delta)
    r = RNG.normal(size=5)
    r -= (r @ u) * u
    w = math.cos(phi) * u + math.sin(phi) * r / np.linalg.norm(r)
    sigma = 0.8 * np.eye(5)
    assert exponent_ratio(w, delta, sigma) == pytest.approx(math.cos(phi) ** 2, abs=1e-12)
    numeric = chernoff_1d(abs(w @ delta), w @ sigma @ w) / (delta @ delta / (8 * 0.8))
    assert numeric == pytest.approx(math.cos(phi) ** 2, abs=1e-10)
    assert chernoff_error(w, delta, sigma) < 1e-10


def test_anisotropic_ratio_is_one_at_the_whitened_direction_and_below_elsewhere():
    a = RNG.normal(size=(4, 4))
    sigma = a @ a.T + 0.1 * np.eye(4)
    delta = RNG.normal(size=4)
    assert exponent_ratio(np.linalg.solve(sigma, delta), delta, sigma) == pytest.approx(1.0)
    assert exponent_ratio(delta, delta, sigma) < 1.0
    assert chernoff_error(RNG.normal(size=4), delta, sigma) < 1e-10


def test_slerp_errors_are_rounding_and_report_the_smallest_sine():
    rows, targets = RNG.normal(size=(3, 6)), RNG.normal(size=(3, 6))
    errors = slerp_errors(rows, targets, 0.3)
    assert errors["slerp_norm_error"] < 1e-14 and errors["slerp_angle_error"] < 1e-14
    cos = np.sum(rows * targets, 1) / np.linalg.norm(rows, axis=1) / np.linalg.norm(targets, axis=1)
    assert errors["slerp_sin_omega"] == pytest.approx(np.min(np.sqrt(1 - cos**2)))


def test_principal_components_are_uncorrelated_descending_and_the_first_has_unit_variance():
    from nc_jax.data import gaussian
    from theorems.wang2025.setting import principal_components

    ds = gaussian(num_classes=3, n_per_class=40, dim=8, seed=4)
    z = principal_components(ds, 4).x.astype(np.float64)
    cov = np.cov(z.T, bias=True)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-5)
    assert cov[0, 0] == pytest.approx(1.0, rel=1e-5)
    assert np.all(np.diff(np.diag(cov)) <= 0)
    x = ds.x.astype(np.float64) - ds.x.mean(0)
    top = np.linalg.eigvalsh(x.T @ x / len(x))[::-1][:4]
    np.testing.assert_allclose(np.diag(cov) * top[0], top, rtol=1e-5)
