"""The cross-run room (nc_jax.checks.cross_run): Spearman's rho against its closed form for
untied ranks, the spread ratio against a hand computation, and the hypotheses that make a rank
claim on noise vacuous."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nc_jax.checks.cross_run import rank_claim_hypotheses, spearman, spread_ratio


def test_spearman_is_the_closed_form_for_untied_ranks():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=9), rng.normal(size=9)
    d = np.argsort(np.argsort(a)) - np.argsort(np.argsort(b))
    n = len(a)
    assert spearman(a, b) == pytest.approx(1 - 6 * np.sum(d**2) / (n * (n**2 - 1)), abs=1e-12)
    assert spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)  # monotone: 1
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_spearman_is_nan_where_undefined():
    assert math.isnan(spearman([1, 2], [2, 1]))  # fewer than 3 values
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))  # a constant one
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))


def test_spread_ratio_is_between_over_within_variance():
    values = [1.0, 1.2, 3.0, 3.4, 5.0]
    groups = ["a", "a", "b", "b", "c"]  # c has one value: a mean, no seed variance
    means = [1.1, 3.2, 5.0]
    within = np.mean([np.var([1.0, 1.2], ddof=1), np.var([3.0, 3.4], ddof=1)])
    assert spread_ratio(values, groups) == pytest.approx(np.var(means, ddof=1) / within)
    assert math.isnan(spread_ratio([1.0, 2.0], ["a", "a"]))  # one setting
    assert math.isnan(spread_ratio([1.0, 2.0], ["a", "b"]))  # no repeated seeds
    assert math.isnan(spread_ratio([1.0, 1.0, 2.0, 2.0], ["a", "a", "b", "b"]))  # no seed noise


def test_a_rank_claim_needs_runs_spread_and_a_resolved_sign():
    def holds(rho, runs, spread):
        return all(h.holds for h in rank_claim_hypotheses(rho, runs, spread))

    assert holds(0.9, 10, 5.0)
    assert not holds(0.5, 10, 5.0)  # 0.5 < 2 / sqrt(9): inside the noise of independent values
    assert holds(-0.7, 10, 5.0)  # the sign either way, |rho| counts
    assert not holds(0.99, 5, 5.0)  # too few runs
    assert not holds(0.99, 10, 0.5)  # seeds move it more than the settings
    assert not holds(0.99, 10, math.nan)  # no spread measured: not satisfied
    null = rank_claim_hypotheses(0.0, 17, 1.0)[0]
    assert null.threshold == pytest.approx(0.5)
