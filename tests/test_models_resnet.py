"""The CIFAR-style ResNet with an MLP head: shapes, the Layers record, vmap over runs, metrics,
training, determinism and the ResNet20 structure."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.metrics import network_metrics
from nc_jax.models.mlp import MLP
from nc_jax.models.resnet import NORMS, ResNet, group_count, resnet20

N, K = 12, 3
IMAGE = (3, 8, 8)
D = 3 * 8 * 8
HEAD = MLP(widths=(6, 6, 6, K), num_linear=3)


def tiny(norm: str = "none", **kwargs) -> ResNet:
    return ResNet(
        image_shape=IMAGE, widths=(4, 8, 8), blocks_per_stage=1, norm=norm, head=HEAD, **kwargs
    )


@functools.cache
def init(model: ResNet, seed: int):
    """Parameters of ``model`` from PRNGKey(seed), initialised once per test session (eagerly:
    the per-primitive compilation cache is shared by all models, unlike one jit per model)."""
    return model.init(jax.random.PRNGKey(seed), model.input_dim)


def data(seed: int = 0) -> tuple[jax.Array, jax.Array]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), N // K).astype(np.int32)
    return jnp.asarray(rng.normal(size=(N, D))), jnp.asarray(y)


@pytest.mark.parametrize("norm", NORMS)
def test_output_and_layers_shapes(norm):
    model = tiny(norm)
    x, _ = data()
    params = init(model, 0)
    output, layers = model.apply(params, x)
    assert output.shape == (N, K)
    assert [f.shape for f in layers.features] == [(N, 4), (N, 8), (N, 8)] + [
        (N, 6),
        (N, 6),
        (N, 6),
        (N, K),
    ]
    assert len(layers.preactivations) == len(layers.weights) == len(layers.biases) == 7
    assert layers.weights[:3] == (None, None, None)
    assert layers.preactivations[:3] == (None, None, None)
    assert [w.shape for w in layers.weights[3:]] == [(6, 8), (6, 6), (6, 6), (K, 6)]
    # the head's single ReLU layer keeps its pre-activation, its linear layers do not
    assert layers.preactivations[3].shape == (N, 6)
    assert layers.preactivations[4:] == (None, None, None)
    np.testing.assert_allclose(layers.features[-1], output)
    np.testing.assert_allclose(layers.features[3], jax.nn.relu(layers.preactivations[3]))
    assert model.num_outputs == K and model.num_linear == 3 and model.num_backbone_layers == 3


def test_last_stage_entry_is_the_head_input_and_stages_are_optional():
    model = tiny()
    x, _ = data()
    params = init(model, 1)
    _, layers = model.apply(params, x)
    head_only, head_layers = model.head.apply(params["head"], layers.features[2])
    np.testing.assert_allclose(head_layers.features[0], layers.features[3])
    np.testing.assert_allclose(head_only, layers.features[-1])
    assert np.all(np.asarray(layers.features[2]) >= 0)  # pooled relu(x + F(x))
    short = dataclasses.replace(model, record_stages=False)
    out, short_layers = short.apply(params, x)
    assert len(short_layers.features) == 5 and short.num_backbone_layers == 1
    np.testing.assert_allclose(short_layers.features[0], layers.features[2])
    np.testing.assert_allclose(out, layers.features[-1])


def test_bad_arguments_raise_value_errors():
    model = tiny()
    with pytest.raises(ValueError, match="input_dim must equal C\\*H\\*W = 192"):
        model.init(jax.random.PRNGKey(0), 784)
    params = init(model, 0)
    with pytest.raises(ValueError, match="x.shape\\[1\\]"):
        model.apply(params, jnp.zeros((2, D + 1)))
    with pytest.raises(ValueError, match="norm must be one of"):
        tiny("batchnorm")
    with pytest.raises(ValueError, match="image_shape"):
        ResNet(image_shape=(8, 8))
    with pytest.raises(ValueError, match="blocks_per_stage"):
        ResNet(blocks_per_stage=0)
    with pytest.raises(ValueError, match="head must be"):
        ResNet(head=(64, 10))
    with pytest.raises(ValueError, match="num_classes"):
        resnet20(num_classes=1)


def test_models_are_hashable_and_lists_become_tuples():
    model = ResNet(image_shape=[3, 8, 8], widths=[4, 8, 8], head=HEAD)
    same = ResNet(image_shape=(3, 8, 8), widths=(4, 8, 8), head=HEAD)
    assert model == same and hash(model) == hash(same)
    assert {resnet20(): 1}[resnet20()] == 1


def test_vmap_and_jit_over_runs():
    model = tiny("groupnorm")
    x, _ = data()
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    params = jax.jit(jax.vmap(model.init, in_axes=(0, None)), static_argnums=1)(keys, D)
    output, layers = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))(params, x)
    assert output.shape == (3, N, K)
    assert [f.shape for f in layers.features][:3] == [(3, N, 4), (3, N, 8), (3, N, 8)]
    assert layers.weights[3].shape == (3, 6, 8)
    assert not np.allclose(output[0], output[1])
    for run in range(3):
        one = jax.tree_util.tree_map(lambda leaf, r=run: leaf[r], params)
        np.testing.assert_allclose(output[run], model.apply(one, x)[0], rtol=1e-10, atol=1e-12)


def test_network_metrics_on_the_layers_record():
    model = tiny("layernorm")
    x, y = data()
    params = init(model, 2)

    @jax.jit
    def metrics(params):
        _, layers = model.apply(params, x)
        return network_metrics(
            layers.features, y, K, layers.weights, layers.preactivations, layers.biases
        )

    values = metrics(params)
    assert values["nc1_trace_ratio"].shape == (7,)
    assert np.all(np.isfinite(values["nc1_trace_ratio"]))
    assert np.all(np.isfinite(values["nc1_cdnv"]))
    # balancedness of the dense pairs (W_l, W_{l+1}) inside the head: entries 3, 4, 5
    finite = np.isfinite(np.asarray(values["balancedness"]))
    assert finite.tolist() == [False, False, False, True, True, True, False]
    # NC3 reads the penultimate head layer through the K-row last weight
    assert np.isfinite(values["nc3_cos_mean"][5]) and np.isnan(values["nc3_cos_mean"][2])


@pytest.mark.parametrize("norm", NORMS)
def test_gradient_descent_reduces_the_mse_loss(norm):
    model = tiny(norm)
    x, y = data()
    # a class-dependent shift of one colour channel: learnable through global average pooling
    x = (x.reshape(N, 3, 64) + 2.0 * jax.nn.one_hot(y, 3)[:, :, None]).reshape(N, D)
    targets = jax.nn.one_hot(y, K)
    params = init(model, 3)

    def loss(params):
        return 0.5 * jnp.mean(jnp.sum((model.apply(params, x)[0] - targets) ** 2, axis=1))

    def step(_, params):
        return jax.tree_util.tree_map(lambda p, g: p - 0.02 * g, params, jax.grad(loss)(params))

    trained = jax.jit(lambda p: jax.lax.fori_loop(0, 100, step, p))(params)
    assert float(loss(trained)) < 0.5 * float(loss(params))


def test_same_key_gives_identical_params_and_outputs():
    model = tiny("groupnorm", affine=True)
    x, _ = data()
    a, b = init(model, 4), model.init(jax.random.PRNGKey(4), D)
    c = init(model, 5)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(leaf_a, leaf_b)
    np.testing.assert_array_equal(model.apply(a, x)[0], model.apply(b, x)[0])
    assert not np.allclose(model.apply(a, x)[0], model.apply(c, x)[0])


def test_norm_parameters_only_with_affine():
    plain = init(tiny("layernorm"), 0)["backbone"]["params"]
    paths = [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_leaves_with_path(plain)]
    assert not any("Norm" in path for path in paths)
    affine = init(tiny("groupnorm", affine=True), 0)["backbone"]["params"]
    assert affine["GroupNorm_0"]["scale"].shape == (4,)
    assert group_count(16, 8) == 8 and group_count(4, 8) == 4 and group_count(64, 32) == 32


def test_branch_init_scale_zero_makes_identity_blocks():
    model = ResNet(
        image_shape=IMAGE, widths=(4, 4), blocks_per_stage=2, head=HEAD, branch_init_scale=0.0
    )
    params = init(model, 0)
    kernel = params["backbone"]["params"]["BasicBlock_0"]["Conv_1"]["kernel"]
    np.testing.assert_array_equal(kernel, 0.0)
    assert model.apply(params, data()[0])[0].shape == (N, K)


def test_resnet20_structure_and_shapes():
    model = resnet20()
    assert model.blocks_per_stage == 3 and model.channels == (16, 32, 64)
    assert model.head.widths == (64, 64, 64, 10) and model.num_linear == 3
    params = jax.eval_shape(lambda k: model.init(k, 3072), jax.random.PRNGKey(0))
    kernels = [
        leaf.shape
        for path, leaf in jax.tree_util.tree_leaves_with_path(params["backbone"])
        if path[-1].key == "kernel"
    ]
    # stem + 2 convs in each of the 9 blocks, and the two 1x1 projections at stages 2 and 3
    assert sum(k[:2] == (3, 3) for k in kernels) == 19
    assert sorted(k for k in kernels if k[:2] == (1, 1)) == [(1, 1, 16, 32), (1, 1, 32, 64)]
    num_backbone = sum(int(np.prod(k)) for k in kernels)
    assert 265_000 < num_backbone < 275_000  # ResNet20's ~0.27M parameters
    x = jax.ShapeDtypeStruct((5, 3072), jnp.float32)
    output, layers = jax.eval_shape(model.apply, params, x)
    assert output.shape == (5, 10)
    assert [f.shape for f in layers.features] == [(5, 16), (5, 32), (5, 64)] + [(5, 64)] * 3 + [
        (5, 10)
    ]
    wide = resnet20(num_classes=100, width_multiplier=2, norm="groupnorm", image_shape=(1, 28, 28))
    params = jax.eval_shape(lambda k: wide.init(k, 784), jax.random.PRNGKey(0))
    output, layers = jax.eval_shape(wide.apply, params, jax.ShapeDtypeStruct((2, 784), jnp.float32))
    assert output.shape == (2, 100) and layers.features[2].shape == (2, 128)
    assert wide.feature_dim == 128 and wide.num_outputs == 100


def test_pixels_are_read_channel_major():
    model = tiny()
    image = np.arange(D, dtype=np.float64).reshape(IMAGE)
    nhwc = model.images(jnp.asarray(image.reshape(1, D)))
    np.testing.assert_array_equal(nhwc[0], np.transpose(image, (1, 2, 0)))


def test_multiply_adds_count_every_convolution_by_hand_and_bound_xla_from_above():
    """Image (1, 4, 4), stages (2, 3), one block each, head 3 -> 5 -> 4: the stem 16*1*2*9, the
    first block's two convolutions 2 * 16*2*2*9, the second stage (2 x 2 after stride 2) its
    projection 4*2*3, its convolutions 4*2*3*9 and 4*3*3*9; the head 3*5 + 5*4. XLA, which skips
    the padded zeros, counts at most that and at least 80% of it for ResNet20."""
    tiny = ResNet(image_shape=(1, 4, 4), widths=(2, 3), blocks_per_stage=1,
                  head=MLP((5, 4), num_linear=1))  # fmt: skip
    assert tiny.multiply_adds_per_sample(16) == 288 + 1152 + 24 + 216 + 324 + 15 + 20
    assert tiny.num_weights(16) == 1 * 2 * 9 + 2 * (2 * 2 * 9) + 2 * 3 + 2 * 3 * 9 + 3 * 3 * 9 + 35
    assert tiny.activations_per_sample() == 16 * 2 * 3 + 4 * 3 * 3 + 9
    assert tiny.head.num_weights(3) == 35 and tiny.head.activations_per_sample() == 9
    _, layers = tiny.apply(tiny.init(jax.random.key(0), 16), jnp.ones((2, 16)))
    assert tiny.num_nonlinear == len(layers.features) - tiny.num_linear == 3  # 2 stages, 1 ReLU
    model = resnet20()
    params = jax.eval_shape(lambda key: model.init(key, 3072), jax.random.key(0))
    x = jax.ShapeDtypeStruct((2, 3072), jnp.float32)
    costs = jax.jit(lambda p, v: model.apply(p, v)[0]).lower(params, x).compile().cost_analysis()
    costs = costs[0] if isinstance(costs, list) else costs
    xla = costs["flops"] / 2 / 2  # flops -> multiply-adds, per image
    counted = model.multiply_adds_per_sample(3072)
    assert 0.8 * counted <= xla <= counted


def test_gradients_are_the_same_with_patch_or_xla_convolution_derivatives(monkeypatch):
    """nc_jax.models.conv differentiates through im2col on a CPU: the whole network's gradient
    (float64) equals XLA's own convolution derivatives."""
    from nc_jax.models import conv as conv_module

    model = tiny()
    x, y = data()

    def gradient(patches: bool):
        monkeypatch.setattr(conv_module, "patch_derivatives", lambda: patches)
        with jax.enable_x64(True):
            params = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64), init(model, 0))
            xs = jnp.asarray(x, jnp.float64)
            target = jax.nn.one_hot(y, K, dtype=jnp.float64)
            loss = lambda p: jnp.sum((model.apply(p, xs)[0] - target) ** 2)  # noqa: E731
            return jax.grad(loss)(params)

    for a, b in zip(
        jax.tree_util.tree_leaves(gradient(True)), jax.tree_util.tree_leaves(gradient(False))
    ):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
