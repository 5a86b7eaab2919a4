"""nc_jax.models.long_tail: the counts, the split, the unit output (the cosine loss through the
engine's MSE) and the alignment penalty, against hand-written formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.data import gaussian
from nc_jax.models import MLP
from nc_jax.models.long_tail import (
    AlignmentPenalty,
    UnitOutput,
    long_tail_counts,
    long_tail_split,
)
from nc_jax.train import TrainConfig, init_runs, make_data, make_measure, make_regression_data
from nc_jax.train.losses import mse


def test_long_tail_counts():
    np.testing.assert_array_equal(long_tail_counts(5, 500, 100), [500, 158, 50, 16, 5])
    np.testing.assert_array_equal(long_tail_counts(3, 7, 1), [7, 7, 7])
    with pytest.raises(ValueError):
        long_tail_counts(3, 10, 0.5)


def test_long_tail_split_is_disjoint_and_class_ordered():
    ds = gaussian(num_classes=3, n_per_class=10, dim=4, seed=1)
    train, test = long_tail_split(ds, [6, 3, 1], 4)
    np.testing.assert_array_equal(train.class_counts(), [6, 3, 1])
    np.testing.assert_array_equal(test.class_counts(), [4, 4, 4])
    rows = {tuple(r) for r in train.x} & {tuple(r) for r in test.x}
    assert not rows
    with pytest.raises(ValueError, match="exceed"):
        long_tail_split(ds, [7, 3, 1], 4)


def _one(state):
    return jax.tree_util.tree_map(lambda leaf: leaf[0], state)


def test_unit_output_makes_the_mse_a_cosine_loss():
    ds = gaussian(num_classes=3, n_per_class=4, dim=5, seed=2)
    model = UnitOutput(MLP((8, 6), num_linear=1, bias=True))
    targets = np.random.default_rng(0).normal(size=(12, 6))
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    config = TrainConfig(steps=1, log_every=1, loss="mse", reduction="mean", metrics=False)
    state = _one(init_runs(model, config, 5, 0.1, 0.0, [0]))
    output, _ = model.model.apply(state.params, jnp.asarray(ds.x, jnp.float64))
    unit, _ = model.apply(state.params, jnp.asarray(ds.x, jnp.float64))
    cos = np.sum(np.asarray(output) * targets, 1) / np.linalg.norm(np.asarray(output), axis=1)
    assert float(mse(unit, jnp.asarray(targets), "mean")) == pytest.approx(
        np.mean(1 - cos), rel=1e-12
    )
    data = make_regression_data(ds.x, targets, jnp.float64)
    measured = make_measure(model, config, 3)(state, data)
    assert float(measured["loss"]) == pytest.approx(np.mean(1 - cos), rel=1e-6)


def test_alignment_penalty_value_and_gradient():
    """The penalty is beta sum_k (1 - cos(w_k, mu_k - mean mu)); its gradient reaches W only
    (the class means are held constant)."""
    ds = gaussian(num_classes=3, n_per_class=4, dim=5, seed=2)
    base = MLP((8, 3), num_linear=1)
    model = AlignmentPenalty(base, tuple(int(y) for y in ds.y), 0.7)
    config = TrainConfig(steps=1, log_every=1, loss="cross_entropy", metrics=False)
    params = _one(init_runs(model, config, 5, 0.1, 0.0, [1])).params
    x = jnp.asarray(ds.x, jnp.float64)

    def value(p):
        _, layers = model.apply(p, x)
        return model.penalty(p, x, layers, jnp.zeros(()))

    _, layers = base.apply(params, x)
    h = np.asarray(layers.features[-2])
    means = np.stack([h[ds.y == k].mean(0) for k in range(3)])
    centred = means - means.mean(0)
    w = np.asarray(params[-1]["w"])
    cos = np.sum(w * centred, 1) / (np.linalg.norm(w, axis=1) * np.linalg.norm(centred, axis=1))
    assert float(value(params)) == pytest.approx(0.7 * np.sum(1 - cos), rel=1e-12)
    grads = jax.grad(value)(params)
    assert float(jnp.abs(grads[0]["w"]).max()) == 0.0  # the features' layer gets no gradient
    assert float(jnp.abs(grads[-1]["w"]).max()) > 0.0
    measured = make_measure(model, config, 3)(
        _one(init_runs(model, config, 5, 0.1, 0.0, [1])), make_data(ds.x, ds.y, 3, jnp.float64)
    )
    plain = make_measure(base, config, 3)(
        _one(init_runs(base, config, 5, 0.1, 0.0, [1])), make_data(ds.x, ds.y, 3, jnp.float64)
    )
    assert float(measured["objective"] - plain["objective"]) == pytest.approx(
        float(value(params)), rel=1e-6
    )
    with pytest.raises(ValueError, match="full-batch"):
        model.penalty(params, x[:4], base.apply(params, x[:4])[1], jnp.zeros(()))
