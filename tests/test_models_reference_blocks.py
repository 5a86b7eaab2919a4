"""A ResNet basic block and a pre-LN transformer block against float64 NumPy forward passes
written from their docstrings (issue: "guard first"): convolutions with flax's SAME padding and
strides, the identity and projection shortcuts, layer norm over (H, W, C) without affine
parameters; the transformer's embedding, positions, multi-head attention (softmax of q k^T /
sqrt(head_dim) per head), the gelu MLP and both residual connections."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.models.resnet import BasicBlock
from nc_jax.models.transformer import TransformerBackbone

EPS = 1e-6  # flax's LayerNorm epsilon


def conv2d_same(x, kernel, bias, stride):
    """NHWC convolution with flax's "SAME" padding: out = ceil(in / stride), the total padding
    max((out - 1) stride + k - in, 0) split with the smaller half before."""
    n, height, width, _ = x.shape
    k = kernel.shape[0]
    out_h, out_w = -(-height // stride), -(-width // stride)
    pad_h = max((out_h - 1) * stride + k - height, 0)
    pad_w = max((out_w - 1) * stride + k - width, 0)
    padded = np.pad(
        x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
    )
    out = np.zeros((n, out_h, out_w, kernel.shape[-1]))
    for i in range(out_h):
        for j in range(out_w):
            patch = padded[:, i * stride : i * stride + k, j * stride : j * stride + k, :]
            out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, kernel)
    return out + (0.0 if bias is None else bias)


def layer_norm(x, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS)


def _block_reference(params, x, norm, stride, projection):
    def conv(name, h, s):
        entry = params[name]
        return conv2d_same(h, np.asarray(entry["kernel"]), entry.get("bias"), s)

    normalise = (lambda h: h) if norm == "none" else (lambda h: layer_norm(h, (1, 2, 3)))
    h = np.maximum(normalise(conv("Conv_0", x, stride)), 0)
    h = normalise(conv("Conv_1", h, 1))
    shortcut = normalise(conv("Conv_2", x, stride)) if projection else x
    return np.maximum(shortcut + h, 0)


@pytest.mark.parametrize("norm", ["none", "layernorm"])
@pytest.mark.parametrize(("stride", "channels"), [(1, 2), (2, 3)], ids=["identity", "projection"])
def test_basic_block_matches_numpy(norm, stride, channels):
    block = BasicBlock(
        channels=channels,
        stride=stride,
        norm=norm,
        affine=False,
        num_groups=1,
        branch_init_scale=1.0,
        param_dtype=jnp.float64,
    )
    x = np.random.default_rng(0).normal(
        size=(2, 6, 6, 2)
    )  # 6 x 6: SAME padding is uneven at stride 2
    variables = block.init(jax.random.PRNGKey(0), jnp.asarray(x))
    params = jax.tree_util.tree_map(np.asarray, variables["params"])
    if norm == "none":  # non-zero biases, so a dropped or misplaced bias shows
        rng = np.random.default_rng(1)
        params = {
            name: {**p, "bias": rng.normal(size=p["bias"].shape)} for name, p in params.items()
        }
    projection = stride != 1 or channels != 2
    assert ("Conv_2" in params) == projection
    got = block.apply({"params": params}, jnp.asarray(x))
    want = _block_reference(params, x, norm, stride, projection)
    assert got.shape == (2, -(-6 // stride), -(-6 // stride), channels)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-12)


def _dense(p, x):
    kernel = np.asarray(p["kernel"])
    out = np.tensordot(x, kernel, axes=([-1], [0]))
    return out + np.asarray(p["bias"])


def _attention(p, x, num_heads):
    """Multi-head self-attention of x (N, T, d): per head softmax(q k^T / sqrt(d_h)) v, then the
    output projection over (heads, d_h)."""
    q, k, v = (_dense(p[name], x) for name in ("query", "key", "value"))  # (N, T, H, d_h)
    scores = np.einsum("nqhd,nkhd->nhqk", q, k) / np.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    heads = np.einsum("nhqk,nkhd->nqhd", weights, v)
    out = p["out"]
    return np.einsum("nqhd,hdo->nqo", heads, np.asarray(out["kernel"])) + np.asarray(out["bias"])


def _gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def test_pre_ln_transformer_block_matches_numpy():
    backbone = TransformerBackbone(
        seq_len=4,
        model_dim=6,
        depth=1,
        num_heads=2,
        mlp_ratio=2,
        final_norm=True,
        pool="mean",
        affine=False,
        param_dtype=jnp.float64,
    )
    tokens = np.random.default_rng(3).normal(size=(3, 4, 5))
    variables = backbone.init(jax.random.PRNGKey(0), jnp.asarray(tokens))
    p = jax.tree_util.tree_map(np.asarray, variables["params"])
    block_out, final = backbone.apply(variables, jnp.asarray(tokens))

    h = _dense(p["embed"], tokens) + p["position"]
    h = h + _attention(p["attention_0"], layer_norm(h, (-1,)), num_heads=2)
    h = h + _dense(p["fc2_0"], _gelu(_dense(p["fc1_0"], layer_norm(h, (-1,)))))
    np.testing.assert_allclose(np.asarray(block_out), h.mean(axis=1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        np.asarray(final), layer_norm(h, (-1,)).mean(axis=1), rtol=1e-10, atol=1e-12
    )
