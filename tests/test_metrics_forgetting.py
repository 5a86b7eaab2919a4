"""nc_jax.metrics.forgetting on hand-written accuracy matrices and the closed form of its
standard error."""

from __future__ import annotations

import numpy as np
import pytest

from nc_jax.metrics.forgetting import forgetting, forgetting_se


def test_forgetting_averages_the_drop_on_every_earlier_task():
    accuracy = np.array([[0.9, np.nan, np.nan], [0.5, 0.8, np.nan], [0.3, 0.6, 0.95]])
    assert forgetting(accuracy) == pytest.approx(((0.9 - 0.3) + (0.8 - 0.6)) / 2, abs=1e-15)


def test_forgetting_of_a_batch_of_runs_is_each_runs_forgetting():
    improved = np.array([[0.5, np.nan], [0.7, 1.0]])  # task 0 got better: negative forgetting
    lost = np.array([[1.0, np.nan], [0.25, 1.0]])
    np.testing.assert_allclose(forgetting(np.stack([improved, lost])), [-0.2, 0.75], atol=1e-15)


def test_forgetting_se_is_the_worst_case_binomial_error_of_t_minus_one_differences():
    # T = 3 tasks of m = 1000 test samples: sqrt(2 x 1 / (4 m)) / sqrt(T - 1)
    assert forgetting_se(3, 1000) == pytest.approx(np.sqrt(2 / 4000) / np.sqrt(2), rel=1e-15)
