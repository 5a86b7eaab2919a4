"""nc_jax.metrics.centres: the multi-centre construction against its Gram identities, computed
independently in NumPy, and the closed form of the centre means."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from nc_jax.metrics.centres import centre_means, gram_residuals, mean_norm_sq, multi_centres

COUNTS = (1, 2, 5, 9)
THETA = 0.2


@pytest.fixture(scope="module")
def centres():
    return multi_centres(jax.random.PRNGKey(3), COUNTS, THETA, 4 + sum(COUNTS) + 3)


def test_gram_identities_in_numpy(centres):
    m, owner = np.asarray(centres.centres), np.asarray(centres.owner)
    assert m.shape == (sum(COUNTS), 4 + sum(COUNTS) + 3)
    gram = m @ m.T
    s2 = math.sin(THETA) ** 2
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-14)
    same = (owner[:, None] == owner[None, :]) & ~np.eye(len(owner), dtype=bool)
    np.testing.assert_allclose(gram[same], s2, atol=1e-14)
    np.testing.assert_allclose(gram[owner[:, None] != owner[None, :]], -s2 / 3, atol=1e-14)
    w = np.asarray(centres.directions)
    np.testing.assert_allclose(w @ w.T, (4 * np.eye(4) - 1) / 3, atol=1e-14)  # unit simplex ETF


def test_centre_means_and_their_closed_form(centres):
    m, owner = np.asarray(centres.centres), np.asarray(centres.owner)
    expected = np.stack([m[owner == k].mean(0) for k in range(4)])
    means = np.asarray(centre_means(centres))
    np.testing.assert_allclose(means, expected, atol=1e-15)
    predicted = math.cos(THETA) ** 2 / np.array(COUNTS) + math.sin(THETA) ** 2
    np.testing.assert_allclose(np.sum(means**2, 1), predicted, rtol=1e-13)
    np.testing.assert_allclose(mean_norm_sq(THETA, COUNTS), predicted, rtol=1e-15)
    assert mean_norm_sq(THETA, (1,))[0] == pytest.approx(1.0)  # one centre: a unit mean
    cross = means @ means.T - np.diag(np.sum(means**2, 1))
    np.testing.assert_allclose(
        cross[~np.eye(4, dtype=bool)], -(math.sin(THETA) ** 2) / 3, atol=1e-14
    )


def test_gram_residuals_are_rounding_here_and_flag_a_wrong_angle(centres):
    assert max(gram_residuals(centres, THETA).values()) < 1e-13
    wrong = gram_residuals(centres, THETA + 0.01)
    assert wrong["same_class"] > 1e-3 and wrong["mean_norm"] > 1e-3


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="dim must be"):
        multi_centres(jax.random.PRNGKey(0), (2, 2), THETA, 5)
    with pytest.raises(ValueError, match="K >= 2"):
        multi_centres(jax.random.PRNGKey(0), (2,), THETA, 10)
