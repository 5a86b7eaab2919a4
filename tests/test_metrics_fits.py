"""Least-squares rates (nc_jax.metrics.fits) against closed forms and NumPy's polyfit."""

import math

import numpy as np
import pytest

from nc_jax.metrics.fits import log_linear_fit


def test_exact_exponential_has_its_rate_and_zero_error():
    x = np.array([0.0, 10.0, 20.0, 30.0])
    fit = log_linear_fit(x, 3.0 * 0.9**x)
    assert fit.slope == pytest.approx(math.log(0.9), rel=1e-12)
    assert fit.intercept == pytest.approx(math.log(3.0), rel=1e-12)
    assert fit.stderr == pytest.approx(0.0, abs=1e-14) and fit.n == 4


def test_noisy_fit_matches_polyfit_and_its_covariance():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 5, 12)
    y = np.exp(0.3 - 0.7 * x + 0.1 * rng.normal(size=12))
    (slope, intercept), cov = np.polyfit(x, np.log(y), 1, cov=True)
    fit = log_linear_fit(x, y)
    assert fit.slope == pytest.approx(slope, rel=1e-12)
    assert fit.intercept == pytest.approx(intercept, rel=1e-12)
    assert fit.stderr == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-10)  # dof n - 2


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1.0, 2.0], [1.0, 0.5]),  # fewer than 3 pairs
        ([1.0, 2.0, 4.0], [1.0, 0.0, 0.5]),  # a y not > 0
        ([1.0, 2.0, 4.0], [1.0, math.nan, 0.5]),
        ([1.0, math.inf, 4.0], [1.0, 2.0, 0.5]),
        ([2.0, 2.0, 2.0], [1.0, 2.0, 0.5]),  # x does not vary
    ],
)
def test_undefined_fits_are_nan_with_their_count(x, y):
    fit = log_linear_fit(np.array(x), np.array(y))
    assert all(math.isnan(v) for v in fit[:3]) and fit.n == len(x)
