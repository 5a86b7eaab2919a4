"""The convolution with matrix-product derivatives (nc_jax.models.conv): XLA's "SAME" padding,
the im2col form against XLA's convolution, and every derivative (JVP, VJP, second order)
against XLA's own, in float64; the flax module against flax.linen.Conv."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.models import conv as conv_module
from nc_jax.models.conv import Conv, conv2d, patch_conv, same_padding, xla_conv

SHAPES = [(8, 3, 1), (8, 3, 2), (7, 3, 2), (7, 1, 2), (8, 1, 1)]  # (size, kernel, stride)


def _case(size: int, kernel: int, seed: int = 0) -> tuple[jax.Array, jax.Array]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, size, size + 1, 3))
    w = rng.normal(size=(kernel, kernel, 3, 4))
    return jnp.asarray(x), jnp.asarray(w)


def test_same_padding_matches_xla_by_hand():
    assert same_padding(28, 3, 1) == (1, 1)
    assert same_padding(28, 3, 2) == (0, 1)  # ceil(28/2) = 14: 13*2 + 3 - 28 = 1, high side
    assert same_padding(7, 3, 2) == (1, 1)
    assert same_padding(8, 1, 2) == (0, 0)


@pytest.mark.parametrize("size,kernel,stride", SHAPES)
def test_patch_conv_equals_xla_conv(size, kernel, stride):
    with jax.enable_x64(True):
        x, w = _case(size, kernel)
        np.testing.assert_allclose(patch_conv(x, w, stride), xla_conv(x, w, stride), rtol=1e-12)


@pytest.mark.parametrize("size,kernel,stride", SHAPES)
def test_every_derivative_equals_xla(size, kernel, stride, monkeypatch):
    monkeypatch.setattr(conv_module, "patch_derivatives", lambda: True)
    with jax.enable_x64(True):
        x, w = _case(size, kernel)
        dx, dw = _case(size, kernel, seed=1)

        def loss(conv, x, w):
            return jnp.sum(jnp.tanh(conv(x, w, stride)) ** 2)

        mine = jax.jvp(lambda x, w: conv2d(x, w, stride), (x, w), (dx, dw))
        theirs = jax.jvp(lambda x, w: xla_conv(x, w, stride), (x, w), (dx, dw))
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        grads = jax.grad(loss, argnums=(1, 2))
        for a, b in zip(grads(conv2d, x, w), grads(xla_conv, x, w)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

        def hvp(conv):  # second order: forward over reverse
            return jax.jvp(lambda w: jax.grad(loss, argnums=2)(conv, x, w), (w,), (dw,))[1]

        np.testing.assert_allclose(hvp(conv2d), hvp(xla_conv), rtol=1e-9, atol=1e-11)


def test_conv2d_uses_patch_derivatives_on_the_cpu_only(monkeypatch):
    assert conv_module.patch_derivatives() == (jax.default_backend() == "cpu")
    x, w = _case(8, 3)
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda w: jnp.sum(conv2d(x, w, 1))))(w))
    assert ("custom_jvp_call" in jaxpr or "dot_general" in jaxpr) == conv_module.patch_derivatives()
    monkeypatch.setattr(conv_module, "patch_derivatives", lambda: False)
    jaxpr = str(jax.make_jaxpr(jax.grad(lambda w: jnp.sum(conv2d(x, w, 1))))(w))
    assert "dot_general" not in jaxpr


@pytest.mark.parametrize("stride,use_bias", [(1, True), (2, False)])
def test_module_matches_flax_conv(stride, use_bias):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 7, 7, 3)), jnp.float32)
    mine = Conv(5, 3, stride=stride, use_bias=use_bias)
    flax_conv = nn.Conv(5, (3, 3), strides=(stride, stride), padding="SAME", use_bias=use_bias)
    params = mine.init(jax.random.PRNGKey(0), x)
    assert params["params"]["kernel"].shape == (3, 3, 3, 5)
    assert ("bias" in params["params"]) == use_bias
    if use_bias:
        params = jax.tree_util.tree_map(lambda p: p + 0.1, params)
    np.testing.assert_allclose(
        mine.apply(params, x), flax_conv.apply(params, x), rtol=1e-5, atol=1e-5
    )
