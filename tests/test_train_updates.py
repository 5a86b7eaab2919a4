"""One optimiser step of the engine against the update written out by hand (issue: "guard
first"): momentum, Adam with decoupled weight decay, minibatch SGD, and the cross-entropy loss
with its gradient. The gradient of the data loss comes from jax.grad on float64 copies of the
parameters; what is under test is everything the engine does with it (the weight-decay term, the
optimiser state, bias correction, the minibatch rows, the reduction). Two steps are taken where
the optimiser state matters, so the second step reads the state the first one left."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.data import gaussian
from nc_jax.models import MLP
from nc_jax.train import TrainConfig, init_runs, make_data, make_step
from nc_jax.train.losses import cross_entropy, mse

MODEL = MLP((8, 16, 16, 3), num_linear=2)
LR, WD = 0.02, 0.3


@pytest.fixture(scope="module")
def data():
    ds = gaussian(num_classes=3, n_per_class=6, dim=8, seed=5)
    return make_data(ds.x, ds.y, 3)


def _one_run(config):
    state = init_runs(MODEL, config, 8, LR, WD, [7])
    return jax.tree_util.tree_map(lambda leaf: leaf[0], state)


def _float64(tree):
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf, np.float64), tree)


def _data_grad(config, params, x, targets):
    """Gradient of the data loss (the config's loss and reduction) at float64 params."""
    loss = {"mse": mse, "cross_entropy": cross_entropy}[config.loss]

    def total(p):
        return loss(MODEL.apply(p, jnp.asarray(x, jnp.float64))[0], targets, config.reduction)

    return _float64(jax.grad(total)(jax.tree_util.tree_map(jnp.asarray, params)))


def _assert_close(got, want):
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=3e-5, atol=1e-7)


def _map(fn, *trees):
    return jax.tree_util.tree_map(fn, *trees)


def test_momentum_with_coupled_decay_is_the_heavy_ball_update(data):
    """g_t = grad + lambda theta_t; m_t = g_t + beta m_{t-1} (m_0 = 0); theta <- theta - eta m_t."""
    config = TrainConfig(steps=2, log_every=1, optimizer="momentum", momentum=0.9)
    step = make_step(MODEL, config)
    state = _one_run(config)
    theta = _float64(state.params)
    trace = _map(np.zeros_like, theta)
    for _ in range(2):
        state = step(state, data)
        grad = _data_grad(config, theta, data.x, data.targets)
        trace = _map(lambda g, p, m: g + WD * p + 0.9 * m, grad, theta, trace)
        theta = _map(lambda p, m: p - LR * m, theta, trace)
        _assert_close(state.params, theta)


def test_adam_with_decoupled_decay_is_adamw(data):
    """Adam (beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected moments of the data gradient
    only), then theta <- theta - eta u - eta lambda theta (decay outside the moments)."""
    config = TrainConfig(
        steps=2, log_every=1, optimizer="adam", weight_decay_mode="decoupled", reduction="mean"
    )
    step = make_step(MODEL, config)
    state = _one_run(config)
    theta = _float64(state.params)
    first, second = _map(np.zeros_like, theta), _map(np.zeros_like, theta)
    for t in (1, 2):
        state = step(state, data)
        grad = _data_grad(config, theta, data.x, data.targets)
        first = _map(lambda m, g: 0.9 * m + 0.1 * g, first, grad)
        second = _map(lambda v, g: 0.999 * v + 0.001 * g**2, second, grad)
        correct1, correct2 = 1 - 0.9**t, 1 - 0.999**t
        update = _map(
            lambda m, v, c1=correct1, c2=correct2: (m / c1) / (np.sqrt(v / c2) + 1e-8),
            first,
            second,
        )
        theta = _map(lambda p, u: p - LR * u - LR * WD * p, theta, update)
        _assert_close(state.params, theta)


def test_minibatch_sgd_steps_on_the_rows_of_the_epochs_permutation(data):
    """Step s of epoch e reads rows order[s b : (s + 1) b] of the permutation drawn from
    fold_in(run key, e); the mean-reduced loss is averaged over the batch, not over N."""
    batch = 6
    config = TrainConfig(steps=2, log_every=1, batch_size=batch, reduction="mean")
    step = make_step(MODEL, config)
    state = _one_run(config)
    order = np.asarray(jax.random.permutation(jax.random.fold_in(state.key, 0), 18))
    theta = _float64(state.params)
    for position in range(2):
        rows = order[position * batch : (position + 1) * batch]
        state = step(state, data)
        grad = _data_grad(config, theta, np.asarray(data.x)[rows], data.targets[rows])
        theta = _map(lambda p, g: p - LR * (g + WD * p), theta, grad)
        _assert_close(state.params, theta)
    assert sorted(order.tolist()) == list(range(18))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_cross_entropy_and_its_gradient_by_hand(reduction):
    """CE = sum_i (log sum_k exp z_ik - z_i,y_i) (or its mean over i); d CE / d z = softmax(z) -
    onehot(y) (over N for the mean)."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2])
    targets = np.eye(4)[labels]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1)) + logits.max(axis=1)
    per_sample = log_norm - logits[np.arange(5), labels]
    softmax = np.exp(logits - log_norm[:, None])
    scale = 1.0 if reduction == "sum" else 1.0 / 5
    value, grad = jax.value_and_grad(cross_entropy)(
        jnp.asarray(logits), jnp.asarray(targets), reduction
    )
    np.testing.assert_allclose(float(value), per_sample.sum() * scale, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), (softmax - targets) * scale, rtol=1e-10)
    wrong = per_sample.sum() * (1.0 / 4 if reduction == "mean" else 0.5)  # planted: 1/K, 1/2
    assert not np.isclose(float(value), wrong, rtol=1e-6)


def test_logged_metric_subset_equals_the_full_logs(data):
    """TrainConfig.metric_names / metric_layers: the engine logs only those keys, equal to the
    same entries of a run that logs every metric."""
    from nc_jax.train import train

    state = init_runs(MODEL, TrainConfig(steps=4, log_every=2), 8, LR, WD, [7, 8])
    full = train(MODEL, TrainConfig(steps=4, log_every=2), data, state).trajectory
    config = TrainConfig(
        steps=4, log_every=2, metric_names=("nc1_trace_ratio", "balancedness"), metric_layers=(-2,)
    )
    some = train(MODEL, config, data, state).trajectory
    assert sorted(k for k in some if k.startswith("layer/")) == [
        "layer/balancedness",
        "layer/nc1_trace_ratio",
    ]
    for key in ("layer/balancedness", "layer/nc1_trace_ratio"):
        np.testing.assert_allclose(some[key][..., -2], full[key][..., -2], rtol=1e-6)
        assert np.isnan(some[key][..., :-2]).all()
    with pytest.raises(ValueError, match="unknown"):
        TrainConfig(steps=4, log_every=2, metric_names=("nc5",))
