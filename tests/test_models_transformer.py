"""The pre-LN transformer classifier with an MLP head: shapes, the Layers record, LayerNorm
without affine parameters, vmap over runs, metrics, training and determinism; the gated blocks
(switched-off blocks equal to the shallower network: output, regulariser, two engine steps),
the decay multipliers, the branch initialisation scale and the size counts."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nc_jax.metrics import network_metrics
from nc_jax.models.mlp import MLP
from nc_jax.models.transformer import Transformer, pool_tokens, sliced_blocks, with_active_blocks
from nc_jax.train import RunState, TrainConfig, make_data, make_step, regulariser

N, K = 12, 3
T, P, DIM = 4, 5, 8  # tokens, values per token, model width
D = T * P
HEAD = MLP(widths=(6, 6, 6, K), num_linear=3)


def tiny(**kwargs) -> Transformer:
    settings = {"model_dim": DIM, "depth": 2, "num_heads": 2, "mlp_ratio": 2, "head": HEAD}
    return Transformer(T, P, **{**settings, **kwargs})


@functools.cache
def init(model: Transformer, seed: int):
    """Parameters of ``model`` from PRNGKey(seed), initialised once per test session."""
    return model.init(jax.random.PRNGKey(seed), model.input_dim)


def data(seed: int = 0) -> tuple[jax.Array, jax.Array]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), N // K).astype(np.int32)
    return jnp.asarray(rng.normal(size=(N, D))), jnp.asarray(y)


@pytest.mark.parametrize("final_norm", [True, False])
def test_output_and_layers_shapes(final_norm):
    model = tiny(final_norm=final_norm)
    x, _ = data()
    output, layers = model.apply(init(model, 0), x)
    backbone = 3 if final_norm else 2
    assert model.num_backbone_layers == backbone
    assert output.shape == (N, K)
    assert [f.shape for f in layers.features] == [(N, DIM)] * backbone + [(N, 6)] * 3 + [(N, K)]
    assert layers.weights[:backbone] == (None,) * backbone
    assert layers.preactivations[:backbone] == (None,) * backbone
    assert layers.biases[:backbone] == (None,) * backbone
    assert [w.shape for w in layers.weights[backbone:]] == [(6, DIM), (6, 6), (6, 6), (K, 6)]
    assert layers.preactivations[backbone].shape == (N, 6)
    np.testing.assert_allclose(layers.features[-1], output)
    # the last backbone entry is the head's input
    head_output, _ = model.head.apply(init(model, 0)["head"], layers.features[backbone - 1])
    np.testing.assert_allclose(head_output, output)
    assert model.num_outputs == K and model.num_linear == 3


@pytest.mark.parametrize("pool", ["mean", "first"])
def test_final_layernorm_without_affine_parameters(pool):
    """LN(x) = (x - mean) / std: every token lies in the mean-zero subspace on the sphere of
    radius sqrt(d), so the pooled head input is mean-zero (and of norm sqrt(d) for "first")."""
    model = tiny(pool=pool)
    x, _ = data(1)
    params = init(model, 1)
    _, layers = model.apply(params, x)
    z = np.asarray(layers.features[2])
    np.testing.assert_allclose(z.sum(axis=1), 0.0, atol=1e-10)
    if pool == "first":
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.sqrt(DIM), rtol=1e-5)
    else:
        assert np.all(np.linalg.norm(z, axis=1) <= np.sqrt(DIM) * (1 + 1e-6))
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(params)]
    assert not any("LayerNorm" in path for path in paths)
    affine = init(tiny(affine=True), 0)["backbone"]["params"]
    assert affine["LayerNorm_0"]["scale"].shape == (DIM,)


def test_pooling_and_tokens():
    model = tiny()
    x = jnp.arange(2 * D, dtype=jnp.float64).reshape(2, D)
    np.testing.assert_array_equal(model.tokens(x)[1, 2], x[1, 2 * P : 3 * P])
    tokens = jnp.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(pool_tokens(tokens, "first"), tokens[:, 0])
    np.testing.assert_allclose(pool_tokens(tokens, "mean"), tokens.mean(axis=1))
    with pytest.raises(ValueError, match="pool must be one of"):
        pool_tokens(tokens, "max")


def test_bad_arguments_raise_value_errors():
    model = tiny()
    with pytest.raises(ValueError, match="input_dim must equal seq_len \\* token_dim"):
        model.init(jax.random.PRNGKey(0), D + 1)
    with pytest.raises(ValueError, match="x.shape\\[1\\]"):
        model.apply(init(model, 0), jnp.zeros((2, D - 1)))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        tiny(num_heads=3)
    with pytest.raises(ValueError, match="pool must be one of"):
        tiny(pool="max")
    with pytest.raises(ValueError, match="depth"):
        tiny(depth=0)
    with pytest.raises(ValueError, match="head must be"):
        tiny(head=(6, 3))


def test_vmap_and_jit_over_runs():
    model = tiny()
    assert hash(model) == hash(tiny()) and model == dataclasses.replace(model)
    x, _ = data()
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    params = jax.jit(jax.vmap(model.init, in_axes=(0, None)), static_argnums=1)(keys, D)
    output, layers = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))(params, x)
    assert output.shape == (3, N, K)
    assert layers.features[0].shape == (3, N, DIM) and layers.weights[3].shape == (3, 6, DIM)
    assert not np.allclose(output[0], output[1])
    for run in range(3):
        one = jax.tree_util.tree_map(lambda leaf, r=run: leaf[r], params)
        np.testing.assert_allclose(output[run], model.apply(one, x)[0], rtol=1e-10, atol=1e-12)


def test_network_metrics_on_the_layers_record():
    model = tiny()
    x, y = data()

    @jax.jit
    def metrics(params):
        _, layers = model.apply(params, x)
        return network_metrics(
            layers.features, y, K, layers.weights, layers.preactivations, layers.biases
        )

    values = metrics(init(model, 2))
    assert values["nc1_trace_ratio"].shape == (7,)
    assert np.all(np.isfinite(values["nc1_trace_ratio"]))
    assert np.all(np.isfinite(values["nc1_cdnv"]))
    finite = np.isfinite(np.asarray(values["balancedness"]))
    assert finite.tolist() == [False, False, False, True, True, True, False]


def test_gradient_descent_reduces_the_mse_loss():
    model = tiny()
    x, y = data()
    x = x + 2.0 * jnp.repeat(jax.nn.one_hot(y, K), D // K + 1, axis=1)[:, :D]
    targets = jax.nn.one_hot(y, K)
    params = init(model, 3)

    def loss(params):
        return 0.5 * jnp.mean(jnp.sum((model.apply(params, x)[0] - targets) ** 2, axis=1))

    def step(_, params):
        return jax.tree_util.tree_map(lambda p, g: p - 0.02 * g, params, jax.grad(loss)(params))

    trained = jax.jit(lambda p: jax.lax.fori_loop(0, 100, step, p))(params)
    assert float(loss(trained)) < 0.5 * float(loss(params))


def test_same_key_gives_identical_params_and_outputs():
    model = tiny(affine=True)
    x, _ = data()
    a, b = init(model, 4), model.init(jax.random.PRNGKey(4), D)
    c = init(model, 5)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(leaf_a, leaf_b)
    np.testing.assert_array_equal(model.apply(a, x)[0], model.apply(b, x)[0])
    assert not np.allclose(model.apply(a, x)[0], model.apply(c, x)[0])


def test_digits_sized_default_model():
    """An 8x8 image as 8 tokens of 8 pixels with the default widths and head."""
    model = Transformer(seq_len=8, token_dim=8)
    params = jax.eval_shape(lambda key: model.init(key, 64), jax.random.PRNGKey(0))
    x = jax.ShapeDtypeStruct((5, 64), jnp.float32)
    output, layers = jax.eval_shape(model.apply, params, x)
    assert output.shape == (5, 10) and model.num_outputs == 10
    assert [f.shape for f in layers.features] == [(5, 64)] * 3 + [(5, 64)] * 3 + [(5, 10)]
    assert params["backbone"]["params"]["position"].shape == (8, 64)


LINEAR_HEAD = MLP(widths=(K,), num_linear=1, head_bias=True)


def _perturbed(params, seed: int):
    """Gated ``params`` plus N(0, 0.1^2) on every leaf but the gates (init leaves biases and LN
    parameters at 0 or 1, which would hide a block's biases or norms from a test)."""
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    noisy = unravel(flat + 0.1 * jax.random.normal(jax.random.PRNGKey(seed), flat.shape))
    noisy["backbone"]["params"]["gates"] = params["backbone"]["params"]["gates"]
    return noisy


def _adam_steps(model: Transformer, params, x, y, count: int = 2):
    """``params`` after ``count`` engine steps (Adam at 0.01, coupled decay 0.3, CE, float64)."""
    config = TrainConfig(steps=count, log_every=1, loss="cross_entropy", optimizer="adam")
    state = RunState(
        params, optax.scale_by_adam().init(params), jax.random.PRNGKey(0), 0.01, 0.3, 0, 0, False
    )
    step, train_data = jax.jit(make_step(model, config)), make_data(x, y, K, dtype=jnp.float64)
    for _ in range(count):
        state = step(state, train_data)
    return state.params


@pytest.mark.parametrize("affine", [False, True])
def test_switched_off_blocks_are_the_shallower_network(affine):
    """with_active_blocks(params, 2) of a gated depth-4 transformer = the depth-2 one made of its
    first two blocks (sliced_blocks): the output to the bit, the regulariser, and two engine
    steps (Adam, coupled decay): the switched-off blocks get zero gradients and stay at zero,
    the gates are never trained. With ``affine`` the blocks' LN parameters are switched off and
    the final LN renamed too (output and regulariser only)."""
    settings = {"head": LINEAR_HEAD, "gated": True, "affine": affine, "head_bias_decay": 0.0}
    deep, shallow = tiny(depth=4, **settings), tiny(depth=2, **settings)
    params = with_active_blocks(_perturbed(init(deep, 0), 1), 2)
    cut = sliced_blocks(params, 2)
    structure = jax.tree_util.tree_structure(init(shallow, 0))
    assert jax.tree_util.tree_structure(cut) == structure
    x, y = data(2)
    np.testing.assert_array_equal(deep.apply(params, x)[0], shallow.apply(cut, x)[0])
    np.testing.assert_allclose(regulariser(deep, params), regulariser(shallow, cut), rtol=1e-14)
    if affine:  # the steps below do not depend on how the LNs are parametrised
        return
    trained, trained_cut = _adam_steps(deep, params, x, y), _adam_steps(shallow, cut, x, y)
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14),
        sliced_blocks(trained, 2),
        trained_cut,
    )
    inner = trained["backbone"]["params"]
    off = [inner[f"{group}_{block}"] for group in ("attention", "fc1", "fc2") for block in (2, 3)]
    assert all(np.all(np.asarray(leaf) == 0) for leaf in jax.tree_util.tree_leaves(off))
    np.testing.assert_array_equal(inner["gates"], [1, 1, 0, 0])  # gates are never trained


def test_ungated_model_keeps_its_parameters():
    """gated=False (the default) has no gate parameter; gated=True adds only ``gates``."""
    plain = init(tiny(), 0)["backbone"]["params"]
    gated = init(tiny(gated=True), 0)["backbone"]["params"]
    assert "gates" not in plain and set(gated) - set(plain) == {"gates"}
    np.testing.assert_array_equal(gated["gates"], [1.0, 1.0])


def test_decay_scales():
    """1 on every leaf, head_bias_decay on the head's last bias, 0 on the gates; the regulariser
    by hand."""
    model = tiny(head=MLP(widths=(6, K), num_linear=1, bias=True, head_bias=True), gated=True)
    model = dataclasses.replace(model, head_bias_decay=0.25)
    params = _perturbed(init(model, 0), 3)
    scales = model.decay_scales(params)
    assert scales["head"][-1]["b"] == 0.25 and scales["head"][0]["b"] == 1.0
    assert scales["backbone"]["params"]["gates"] == 0.0
    squares = sum(float(jnp.sum(leaf**2)) for leaf in jax.tree_util.tree_leaves(params))
    squares -= 0.75 * float(jnp.sum(params["head"][-1]["b"] ** 2))
    squares -= float(jnp.sum(params["backbone"]["params"]["gates"] ** 2))
    np.testing.assert_allclose(regulariser(model, params), squares, rtol=1e-13)
    plain = tiny()  # the default decays every leaf, as the engine does without decay_scales
    ones = jax.tree_util.tree_leaves(plain.decay_scales(init(plain, 0)))
    assert ones == [1.0] * len(ones)


def test_branch_init_scale_multiplies_the_block_kernels():
    """s scales every block kernel (attention q, k, v, out; fc1, fc2) and nothing else."""
    base = init(tiny(), 0)["backbone"]["params"]
    scaled = init(tiny(branch_init_scale=0.25), 0)["backbone"]["params"]
    for name in ("attention_0", "fc1_1", "fc2_0"):
        for path, leaf in jax.tree_util.tree_leaves_with_path(scaled[name]):
            reference = base[name]
            for key in path:
                reference = reference[key.key]
            factor = 0.25 if path[-1].key == "kernel" else 1.0
            np.testing.assert_allclose(leaf, factor * reference, rtol=1e-15)
    np.testing.assert_array_equal(scaled["embed"]["kernel"], base["embed"]["kernel"])
    with pytest.raises(ValueError, match="branch_init_scale"):
        tiny(branch_init_scale=-1.0)


def test_sizes_and_radius():
    """Weight entries by hand: embedding P d, per block (4 + 2 r) d^2, the head; the radius is
    sqrt(d) and bounds the pooled final-LN features."""
    model = tiny()
    head = 6 * DIM + 6 * 6 + 6 * 6 + K * 6
    assert model.num_weights(D) == P * DIM + 2 * (4 + 2 * 2) * DIM**2 + head
    attention = 2 * T * DIM  # scores and weighted sums per token and block
    per_token = P * DIM + 2 * ((4 + 2 * 2) * DIM**2 + attention)
    assert model.multiply_adds_per_sample(D) == T * per_token + head
    assert model.activations_per_sample() > 0 and model.radius == np.sqrt(DIM)
    _, layers = model.apply(init(model, 0), data()[0])
    assert np.max(np.linalg.norm(layers.features[2], axis=1)) <= model.radius
