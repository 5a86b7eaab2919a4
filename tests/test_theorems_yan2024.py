"""theorems.yan2024's closed forms against hand-computed values and NumPy solves (the generic
contract tests cover the checks, the setting and the run)."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from nc_jax.metrics.centres import centre_means, multi_centres
from theorems.yan2024.measure import (
    all_centre_optima,
    centre_quantities,
    own_centre_closed_form,
    own_centre_optimum,
)


def _centres(counts, theta=0.2):
    return multi_centres(jax.random.PRNGKey(1), counts, theta, len(counts) + sum(counts) + 3)


@pytest.mark.parametrize("count, ratio", [(3, 2.544661), (1, 0.909091), (9, 6.357028)])
def test_own_centre_optimum_is_the_scaled_mean(count, ratio):
    """f / (cos^2 0.2 + f sin^2 0.2 + 0.1) by hand: 2.544661 (f = 3), 0.909091 (f = 1),
    6.357028 (f = 9)."""
    centres = _centres((count, 2))
    own = np.asarray(centres.centres)[np.asarray(centres.owner) == 0]
    mean = np.asarray(centre_means(centres))[0]
    numeric = own_centre_optimum(own, 0.1)
    np.testing.assert_allclose(numeric, own_centre_closed_form(mean, count, 0.2, 0.1), rtol=1e-12)
    assert np.linalg.norm(numeric) / np.linalg.norm(mean) == pytest.approx(ratio, abs=1e-6)


def test_all_centre_optimum_misses_the_mean_by_the_hand_computed_cosine():
    """Four classes of three centres, theta = 0.2, lambda = 0.1: cos(h*, cbar) = 0.998208545 for
    every class (the Gram, hence the cosine, does not depend on the random basis)."""
    centres = _centres((3, 3, 3, 3))
    optima = all_centre_optima(np.asarray(centres.centres), np.asarray(centres.owner), 0.1)
    means = np.asarray(centre_means(centres))
    cos = np.sum(optima * means, 1) / np.linalg.norm(optima, axis=1) / np.linalg.norm(means, axis=1)
    np.testing.assert_allclose(cos, 0.998208545098, atol=1e-11)
    m = np.asarray(centres.centres)
    targets = np.zeros(12)
    targets[:3] = 1
    direct = np.linalg.lstsq(
        np.vstack([m, math.sqrt(0.1) * np.eye(m.shape[1])]),
        np.concatenate([targets, np.zeros(m.shape[1])]),
        rcond=None,
    )[0]
    np.testing.assert_allclose(optima[0], direct, rtol=1e-10)


def test_centre_quantities_and_a_wrong_angle():
    q = centre_quantities(_centres((2, 3, 4, 6, 8)), 0.2, 0.1)
    assert q["gram_residual"] < 1e-13 and q["own_centre_deviation"] < 1e-13
    assert 1e-3 < q["all_centre_gap_min"] <= q["all_centre_gap_max"] < 1e-2
    assert q["coupling"] == pytest.approx(math.sin(0.2) ** 2 / 4)
    wrong = centre_quantities(_centres((2, 3, 4, 6, 8), 0.25), 0.2, 0.1)  # built at 0.25
    assert wrong["gram_residual"] > 1e-3 and wrong["own_centre_deviation"] > 1e-3


def test_own_centre_head_gives_half_of_loss_i_and_the_contraction_by_hand():
    import jax.numpy as jnp

    from nc_jax.models import MLP
    from nc_jax.models.ufm import ufm_inputs
    from nc_jax.train.losses import mse
    from theorems.yan2024.ufm import OwnCentreHead, contraction

    centres = _centres((2, 3))
    matrix, owner = np.asarray(centres.centres), np.asarray(centres.owner)
    y = np.array([0, 1, 1])
    mask = (owner[None, :] == y[:, None]).astype(float)
    model = OwnCentreHead(
        MLP((matrix.shape[1],), num_linear=1), tuple(map(tuple, matrix)), tuple(map(tuple, mask))
    )
    params = model.init(jax.random.PRNGKey(0), 3)
    h = np.asarray(params[0]["w"]).T  # the free features, one row per sample
    output, _ = model.apply(params, ufm_inputs(3, jnp.float64))
    by_hand = sum(np.sum((matrix[owner == k] @ h[n] - 1) ** 2) for n, k in enumerate(y)) / 2
    assert float(mse(output, jnp.asarray(mask), "sum")) == pytest.approx(by_hand, rel=1e-12)
    top = math.cos(0.2) ** 2 + 3 * math.sin(0.2) ** 2 + 0.1
    assert contraction((2, 3), 0.2, 0.1, 1.0) == pytest.approx(max(0.9, abs(1 - top)))
    assert contraction((2, 3), 0.2, 0.1, 1.9) == pytest.approx(abs(1 - 1.9 * top))
