"""The LayerNorm ResNet (L-RN1): forward pass against a float64 NumPy forward pass, the LN
sphere, the Layers record, switched-off blocks equal to the shallower network (output,
regulariser and an engine step), the decay multipliers, and training through the engine."""

from __future__ import annotations

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fixtures import balanced_labels

from nc_jax.models.ln_resnet import LNResNet, layer_norm, sliced_blocks, with_active_blocks
from nc_jax.train import (
    RunState,
    TrainConfig,
    init_runs,
    make_data,
    make_step,
    regulariser,
    train,
)

N, D, WIDTH, K = 12, 5, 6, 3


def numpy_forward(params, x: np.ndarray, eps: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Float64 NumPy reference of the module docstring's forward pass: (output, LN features)."""
    p = jax.tree_util.tree_map(np.asarray, params)
    z = x @ p["input"]["w"].T + p["input"]["b"]
    for w, b, g in zip(p["blocks"]["w"], p["blocks"]["b"], p["blocks"]["gate"]):
        z = z + g * np.maximum(z @ w.T + b, 0.0)
    centred = z - z.mean(axis=1, keepdims=True)
    h = centred / np.sqrt((centred**2).mean(axis=1, keepdims=True) + eps)
    return h @ p["head"]["w"].T + p["head"]["b"], h


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, D)), balanced_labels(K, N // K)


def _random_params(model: LNResNet, seed: int):
    """Initial parameters with non-zero biases (init sets them to 0)."""
    params = model.init(jax.random.PRNGKey(seed), D)
    rng = np.random.default_rng(seed + 100)
    params["input"]["b"] = jnp.asarray(rng.normal(size=WIDTH))
    params["blocks"]["b"] = jnp.asarray(rng.normal(size=(model.depth, WIDTH)) * 0.3)
    params["head"]["b"] = jnp.asarray(rng.normal(size=K))
    return params


@pytest.mark.parametrize("depth", [0, 1, 4])
@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_forward_matches_numpy_float64(depth, eps):
    model = LNResNet(WIDTH, depth, K, eps=eps)
    params = _random_params(model, depth)
    x, _ = _data()
    output, layers = model.apply(params, jnp.asarray(x))
    reference, features = numpy_forward(params, x, eps)
    np.testing.assert_allclose(output, reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layers.features[-2], features, rtol=1e-12, atol=1e-12)


def test_layer_norm_sphere_and_degenerate_rows():
    """eps = 0: every LN row has norm sqrt(d) and mean 0; a constant row maps to 0, not NaN."""
    x, _ = _data(1)
    h = np.asarray(layer_norm(jnp.asarray(x)))
    np.testing.assert_allclose(np.linalg.norm(h, axis=1), np.sqrt(D), rtol=1e-14)
    np.testing.assert_allclose(h.mean(axis=1), 0.0, atol=1e-14)
    constant = np.asarray(layer_norm(jnp.full((2, 4), 3.0)))
    assert np.all(constant == 0.0)
    assert np.all(np.isfinite(jax.grad(lambda z: jnp.sum(layer_norm(z) ** 2))(jnp.ones((2, 4)))))


def test_layers_record():
    model = LNResNet(WIDTH, 3, K)
    params = _random_params(model, 0)
    x, _ = _data()
    output, layers = model.apply(params, jnp.asarray(x))
    assert [f.shape for f in layers.features] == [(N, WIDTH)] * 5 + [(N, K)]
    assert [None if w is None else w.shape for w in layers.weights] == [
        (WIDTH, D),
        *[(WIDTH, WIDTH)] * 3,
        None,
        (K, WIDTH),
    ]
    assert layers.preactivations[0] is None and layers.preactivations[-2:] == (None, None)
    assert layers.preactivations[1].shape == (N, WIDTH)
    np.testing.assert_allclose(layers.features[-1], output)
    assert model.num_linear == 1 and model.num_outputs == K and model.radius == np.sqrt(WIDTH)
    assert model.num_weights(D) == WIDTH * D + 3 * WIDTH * WIDTH + K * WIDTH


def test_switched_off_blocks_are_the_shallower_network():
    """with_active_blocks(params, 2) of a depth-5 network = the depth-2 network made of its
    first two blocks: output, regulariser and two engine steps (Adam, coupled decay: zero
    gradients must leave the switched-off blocks at zero)."""
    deep, shallow = LNResNet(WIDTH, 5, K), LNResNet(WIDTH, 2, K)
    params = with_active_blocks(_random_params(deep, 3), 2)
    cut = sliced_blocks(params, 2)
    x, y = _data(2)
    np.testing.assert_array_equal(deep.apply(params, x)[0], shallow.apply(cut, x)[0])
    np.testing.assert_allclose(regulariser(deep, params), regulariser(shallow, cut), rtol=1e-15)
    data = make_data(x, y, K, dtype=jnp.float64)
    config = TrainConfig(steps=2, log_every=1, loss="cross_entropy", optimizer="adam")
    after = []
    for model, start in ((deep, params), (shallow, cut)):
        state = RunState(
            start, optax.scale_by_adam().init(start), jax.random.PRNGKey(0), 0.1, 0.3, 0, 0, False
        )
        step = jax.jit(make_step(model, config))
        after.append(step(step(state, data), data).params)
    np.testing.assert_allclose(
        jax.flatten_util.ravel_pytree(sliced_blocks(after[0], 2))[0],
        jax.flatten_util.ravel_pytree(after[1])[0],
        rtol=1e-12,
        atol=1e-14,
    )
    off = after[0]["blocks"]
    assert np.all(np.asarray(off["w"][2:]) == 0) and np.all(np.asarray(off["gate"][2:]) == 0)
    np.testing.assert_array_equal(off["gate"][:2], 1.0)  # gates are never trained


def test_decay_scales():
    model = LNResNet(WIDTH, 2, K, head_bias_decay=0.25)
    params = model.init(jax.random.PRNGKey(0), D)
    scales = model.decay_scales(params)
    assert scales["head"]["b"] == 0.25 and scales["blocks"]["gate"] == 0.0
    assert scales["head"]["w"] == scales["input"]["w"] == scales["blocks"]["w"] == 1.0
    by_hand = sum(
        float(jnp.sum(params[group][leaf] ** 2))
        for group, leaf in [("input", "w"), ("input", "b"), ("blocks", "w"), ("blocks", "b")]
    )
    by_hand += float(jnp.sum(params["head"]["w"] ** 2)) + 0.25 * float(
        jnp.sum(params["head"]["b"] ** 2)
    )
    np.testing.assert_allclose(regulariser(model, params), by_hand, rtol=1e-14)


@pytest.mark.slow
def test_engine_trains_it():
    """vmapped over runs of different depths (switched-off blocks), GD lowers the objective and
    the gates stay as set (slow: the CLI test of test_theorems_sukenik2025.py trains gated
    runs through the engine by default)."""
    model = LNResNet(WIDTH, 3, K)
    x, y = _data(4)
    data = make_data(x, y, K)
    config = TrainConfig(
        steps=40, log_every=20, loss="cross_entropy", reduction="mean", metrics=False
    )
    state = init_runs(model, config, D, 0.1, 0.01, [0, 1, 2])
    state = state._replace(params=jax.vmap(with_active_blocks)(state.params, jnp.array([1, 2, 3])))
    result = train(model, config, data, state)
    objective = result.trajectory["objective"]
    assert np.all(objective[:, -1] < objective[:, 0])
    gates = np.asarray(result.state.params["blocks"]["gate"])
    np.testing.assert_array_equal(gates, [[1, 0, 0], [1, 1, 0], [1, 1, 1]])


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 1}, {"depth": -1}, {"num_classes": 1}, {"eps": -1.0}, {"activation": "nope"}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        LNResNet(**{"width": WIDTH, "depth": 2, "num_classes": K, **kwargs})
