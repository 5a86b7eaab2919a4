"""A 2-D convolution whose derivatives are matrix products, for training loops on a CPU.

XLA's CPU backend runs the convolutions of a gradient (the kernel gradient and the transposed
convolution of the input gradient) several times slower inside a loop body than outside one
(jax-ml/jax issue 12868: layouts inside a while loop are fixed, so the fast convolution path is
lost); the training engine's steps all run inside ``fori_loop``. Measured on the 2-core
development CPU, six 3x3 convolutions of 8 channels on 100 images of 28 x 28, one gradient
step: 0.049 s outside a loop, 0.474 s inside one; with the derivatives below, 0.061 s inside.

``conv2d`` computes its value with XLA's convolution (fast inside loops too) and defines its
JVP with the same convolution written as patches times the kernel matrix (im2col): slices,
padding and one matmul, whose transposes (the VJP) are again slices, padding and a matmul. The
value and every derivative are exact (the same sums in another order); forward- and reverse-mode
and higher derivatives work (a custom JVP, not a custom VJP, so the NTK's JVPs are unchanged).
Elsewhere than on a CPU the derivatives stay XLA's (``patch_derivatives``).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """XLA's "SAME" padding of one spatial axis: (low, high), total = max((ceil(size / stride)
    - 1) stride + kernel - size, 0), low = total // 2 (the extra element goes high)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def xla_conv(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """x (N, H, W, C_in) * kernel (kh, kw, C_in, C_out), "SAME" padding, ``stride`` on both
    axes -> (N, ceil(H / stride), ceil(W / stride), C_out)."""
    return jax.lax.conv_general_dilated(
        x, kernel, (stride, stride), "SAME", dimension_numbers=DIMENSIONS
    )


def patch_conv(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """``xla_conv`` as patches times a matrix (im2col): every output position's kh x kw x C_in
    input patch, gathered by strided slices of the padded input, times kernel reshaped to
    (kh kw C_in, C_out)."""
    kh, kw, c_in, c_out = kernel.shape
    _, height, width, _ = x.shape
    (top, bottom), (left, right) = (
        same_padding(height, kh, stride),
        same_padding(width, kw, stride),
    )
    padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    # extent of one strided slice: the (outputs - 1) strides between the first and last tap
    span_h = stride * (-(-height // stride) - 1) + 1
    span_w = stride * (-(-width // stride) - 1) + 1
    patches = jnp.concatenate(
        [
            padded[:, i : i + span_h : stride, j : j + span_w : stride]
            for i in range(kh)
            for j in range(kw)
        ],
        axis=-1,
    )
    return patches @ kernel.reshape(kh * kw * c_in, c_out)


def patch_derivatives() -> bool:
    """Whether ``conv2d`` differentiates through ``patch_conv``: on a CPU backend (see the module
    docstring); elsewhere XLA's own convolution derivatives."""
    return jax.default_backend() == "cpu"


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _conv_with_patch_jvp(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    return xla_conv(x, kernel, stride)


@_conv_with_patch_jvp.defjvp
def _patch_jvp(stride: int, primals: tuple, tangents: tuple) -> tuple[jax.Array, jax.Array]:
    (x, kernel), (dx, dkernel) = primals, tangents
    value = xla_conv(x, kernel, stride)
    return value, patch_conv(dx, kernel, stride) + patch_conv(x, dkernel, stride)


def conv2d(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """``xla_conv`` (shapes there), differentiated through ``patch_conv`` on a CPU."""
    if patch_derivatives():
        return _conv_with_patch_jvp(x, kernel, stride)
    return xla_conv(x, kernel, stride)


class Conv(nn.Module):
    """flax.linen.Conv's "SAME" square convolution, parameters "kernel" (k, k, C_in, C_out) and
    "bias" (C_out,), computed by ``conv2d``.

    Attributes:
        features: output channels C_out.
        kernel_size: k.
        stride: the stride on both spatial axes.
        use_bias: add a learned bias (initialised to zero).
        kernel_init: the kernel's initialiser.
        param_dtype: the parameters' dtype.
    """

    features: int
    kernel_size: int
    stride: int = 1
    use_bias: bool = True
    kernel_init: Any = nn.initializers.lecun_normal()
    param_dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (self.kernel_size, self.kernel_size, x.shape[-1], self.features)
        kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
        dtype = jnp.result_type(x, kernel)  # flax's promotion of inputs and parameters
        out = conv2d(x.astype(dtype), kernel.astype(dtype), self.stride)
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,), self.param_dtype)
            out = out + bias.astype(dtype)
        return out
