"""models.FeatureDecay and the engine's feature penalty, against the formulas written by hand.

On a linear model Z = X W^T (one bias-free layer, its output the penalised layer) the objective
(1/(2N)) ||X W^T - Y||_F^2 + lambda_H/2 ||X W^T||_F^2 + lambda/2 ||W||_F^2 has the gradient
(1/N) (X W^T - Y)^T X + lambda_H (X W^T)^T X + lambda W, so one GD step, one minibatch step
(the penalty scaled by N / B) and the logged objective are all checked against NumPy.
"""

from __future__ import annotations

import pickle

import jax
import numpy as np
import pytest

from nc_jax.data import gaussian
from nc_jax.models import MLP, FeatureDecay, resnet20
from nc_jax.train import TrainConfig, init_runs, make_data, make_measure, make_step
from nc_jax.train.step import penalty

LINEAR = MLP((3,), num_linear=1)
LR, WD, SCALE = 0.05, 0.1, 7.0
LAMBDA_H = WD * SCALE  # lambda_H = weight_decay * scale


@pytest.fixture(scope="module")
def data():
    ds = gaussian(num_classes=3, n_per_class=4, dim=5, seed=2)
    return make_data(ds.x, ds.y, 3)


def _one_run(model, config):
    state = init_runs(model, config, 5, LR, WD, [3])
    return jax.tree_util.tree_map(lambda leaf: leaf[0], state)


def _hand_gradient(w, x, targets, num_samples):
    """Gradient of the mean-reduced MSE on (x, targets) plus (num_samples / B) lambda_H/2
    ||x W^T||^2 plus lambda/2 ||W||^2."""
    z = x @ w.T
    batch = x.shape[0]
    fit = (z - targets).T @ x / batch
    return fit + LAMBDA_H * (num_samples / batch) * z.T @ x + WD * w


def test_penalty_value_by_hand_and_delegation():
    model = FeatureDecay(LINEAR, layer=0, scale=SCALE)
    params = model.init(jax.random.PRNGKey(0), 5)
    x = np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32)
    out, layers = model.apply(params, x)
    np.testing.assert_array_equal(out, LINEAR.apply(params, x)[0])
    z = x.astype(np.float64) @ np.asarray(params[0]["w"], np.float64).T
    value = penalty(model, params, x, layers, WD)
    assert float(value) == pytest.approx(0.5 * LAMBDA_H * np.sum(z**2), rel=1e-6)
    assert float(penalty(LINEAR, params, x, layers, WD)) == 0.0  # a plain model has no penalty
    assert model.num_outputs == 3 and model.num_linear == 1  # delegated to the wrapped model
    assert hash(model) == hash(FeatureDecay(LINEAR, 0, SCALE))  # static under jit
    assert pickle.loads(pickle.dumps(model)) == model


@pytest.mark.parametrize("mode", ["l2", "decoupled"])
def test_full_batch_step_is_the_hand_gradient_step(data, mode):
    """Both weight-decay modes give the same GD step: the penalty is in the objective either
    way, and GD's decoupled decay equals the coupled one."""
    config = TrainConfig(steps=1, log_every=1, loss="mse", reduction="mean", weight_decay_mode=mode)
    model = FeatureDecay(LINEAR, layer=0, scale=SCALE)
    state = _one_run(model, config)
    w = np.asarray(state.params[0]["w"], np.float64)
    x, targets = np.asarray(data.x, np.float64), np.asarray(data.targets, np.float64)
    new = make_step(model, config)(state, data)
    want = w - LR * _hand_gradient(w, x, targets, x.shape[0])
    np.testing.assert_allclose(new.params[0]["w"], want, rtol=2e-5, atol=1e-6)


def test_minibatch_step_scales_the_penalty_to_the_training_set(data):
    batch = 4
    config = TrainConfig(steps=1, log_every=1, loss="mse", reduction="mean", batch_size=batch)
    model = FeatureDecay(LINEAR, layer=-1, scale=SCALE)
    state = _one_run(model, config)
    order = np.asarray(jax.random.permutation(jax.random.fold_in(state.key, 0), 12))
    rows = order[:batch]
    w = np.asarray(state.params[0]["w"], np.float64)
    x, targets = np.asarray(data.x, np.float64), np.asarray(data.targets, np.float64)
    new = make_step(model, config)(state, data)
    want = w - LR * _hand_gradient(w, x[rows], targets[rows], 12)
    np.testing.assert_allclose(new.params[0]["w"], want, rtol=2e-5, atol=1e-6)


def test_logged_objective_includes_the_penalty(data):
    config = TrainConfig(steps=1, log_every=1, loss="mse", reduction="mean")
    model = FeatureDecay(LINEAR, layer=0, scale=SCALE)
    state = _one_run(model, config)
    logged = make_measure(model, config, 3)(state, data)
    w = np.asarray(state.params[0]["w"], np.float64)
    x, targets = np.asarray(data.x, np.float64), np.asarray(data.targets, np.float64)
    z = x @ w.T
    want = np.sum((z - targets) ** 2) / (2 * 12) + LAMBDA_H / 2 * np.sum(z**2)
    want += WD / 2 * np.sum(w**2)
    assert float(logged["objective"]) == pytest.approx(want, rel=1e-5)
    assert float(logged["loss"]) == pytest.approx(np.sum((z - targets) ** 2) / 24, rel=1e-5)


def test_resnet_backbone_output_is_the_penalised_layer():
    """On a ResNet the penalised layer can be the pooled backbone output (the DUFM's H_1)."""
    net = resnet20(num_classes=3, head_widths=(4,), num_linear=1, image_shape=(1, 4, 4))
    model = FeatureDecay(net, layer=net.num_backbone_layers - 1, scale=4.0)
    params = model.init(jax.random.PRNGKey(1), 16)
    x = np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32)
    _, layers = model.apply(params, x)
    pooled = np.asarray(layers.features[net.num_backbone_layers - 1], np.float64)
    assert pooled.shape == (5, 64)
    value = model.penalty(params, x, layers, 0.5)
    assert float(value) == pytest.approx(np.sum(pooled**2), rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"layer": 0, "scale": -1.0}, "scale"), ({"layer": 0.5, "scale": 1.0}, "layer")],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FeatureDecay(LINEAR, **kwargs)


def test_out_of_range_layer_is_named():
    model = FeatureDecay(LINEAR, layer=3, scale=1.0)
    params = model.init(jax.random.PRNGKey(0), 5)
    _, layers = model.apply(params, np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="layer 3 is out of range"):
        model.penalty(params, None, layers, 1.0)
