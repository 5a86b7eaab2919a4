"""A LayerNorm ResNet with one linear layer per block (L-RN1 of Sukenik, Lampert, Mondelli 2025;
docs/theory/sukenik2025.md).

For one sample x (D,), rows of the batch being samples:

    z_0 = W_in x + b_in                           (lin_in: D -> d)
    z_l = z_{l-1} + g_l sigma(W_l z_{l-1} + b_l)  (block l = 1..L, d -> d; gate g_l = 1)
    h   = LN(z_L)                                  (LayerNorm without affine parameters)
    f   = W h + b                                  (the linear head: d -> K)

Where LayerNorm sits. The notes mark its position [U]: the review excerpt of L-RN1 reads
``lin_{L+1} o LN o (id + sigma o lin_L) o ... o (id + sigma o lin_1)``, one LN between the last
block and the head. That is what this model implements: no LN inside the blocks. It is also the
position the theorem's reduction needs: the classifier reads features on the LN image
{h : 1^T h = 0, ||h||_2 = sqrt(d)}, so the normalised-feature UFM of docs/theory/sukenik2025.md
(only the head regularised) is a lower bound on the regularised objective of this network
(theorems/sukenik2025/bounds.py, ``limit.lower_bound``).

LayerNorm convention: LN(z) = (z - mean(z)) / std(z) with the population std and ``eps``
added to the variance (default 0): with eps = 0 the output lies exactly (to rounding) on the
sphere of radius sqrt(d) in the mean-zero subspace. A degenerate z whose coordinates are all
equal maps to 0 (not NaN, and with a finite gradient).

Initialisation: W_in ~ N(0, 1/D), block weights ~ N(0, 2 s^2 / d) (He, times
``branch_init_scale`` s), head W ~ N(0, 1/d), every bias 0.

Weight decay: ``decay_scales`` gives every leaf multiplier 1 except the head bias, which gets
``head_bias_decay`` (default 0: an unregularised head bias, the MSE setting of
docs/theory/sukenik2025.md whose closed form has b = 1/K).

Parameters: {"input": {"w": (d, D), "b": (d,)}, "blocks": {"w": (L, d, d), "b": (L, d),
"gate": (L,)}, "head": {"w": (K, d), "b": (K,)}}; the blocks are stacked and run with
``lax.scan``, so the compiled program does not grow with the depth.

Gates: g_l is 1 after ``init`` and never trained (``stop_gradient``, decay multiplier 0).
``with_active_blocks(params, k)`` zeroes the gates, weights and biases of blocks k+1..L: those
blocks are then the identity, get zero gradients and zero weight decay, so the network, its
regulariser and its GD/Adam trajectory are exactly those of the depth-k network
``sliced_blocks(params, k)`` (tests/test_models_ln_resnet.py). Networks of several depths then
train as runs of ONE compiled program (one compilation instead of one per depth).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nc_jax.models.activations import get_activation
from nc_jax.models.base import Layers, Params
from nc_jax.validation import check_num_classes


def layer_norm(z: jax.Array, eps: float = 0.0) -> jax.Array:
    """LN(z) = (z - mean(z)) / sqrt(var(z) + eps) over the last axis, no affine parameters.

    Population variance; with eps = 0 every row has norm sqrt(d) and coordinate mean 0 (the
    LayerNorm image of docs/theory/sukenik2025.md). A row whose variance is below the dtype's
    smallest normal number (a constant row at eps = 0) maps to 0, with a finite gradient, instead of
    NaN.

    Args:
        z: (..., d) features.
        eps: added to the variance (>= 0).
    """
    centred = z - jnp.mean(z, axis=-1, keepdims=True)
    variance = jnp.mean(centred**2, axis=-1, keepdims=True) + eps
    positive = variance > jnp.finfo(centred.dtype).tiny
    scale = jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, variance, 1.0)), 0.0)
    return centred * scale  # the double where keeps the gradient of a constant row finite


@dataclass(frozen=True)
class LNResNet:
    """The L-RN1 LayerNorm ResNet (module docstring).

    Attributes:
        width: d, the width of the residual stream (d >= 2; the theory wants d - 1 >= K - 1).
        depth: L >= 0, the number of residual blocks.
        num_classes: K, the head's outputs.
        activation: the blocks' sigma (models.activations: relu, tanh, gelu, smooth...).
        branch_init_scale: s, the blocks' weights are N(0, 2 s^2 / d) at initialisation.
        head_bias_decay: the weight-decay multiplier of the head bias (0: unregularised).
        eps: added to the variance in LN (0: features exactly on the sphere of radius sqrt(d)).
    """

    width: int
    depth: int
    num_classes: int
    activation: str = "relu"
    branch_init_scale: float = 1.0
    head_bias_decay: float = 0.0
    eps: float = 0.0

    def __post_init__(self) -> None:
        if int(self.width) < 2:
            raise ValueError(f"width must be >= 2 (LayerNorm of one value is 0), got {self.width}")
        if int(self.depth) < 0:
            raise ValueError(f"depth must be >= 0 residual blocks, got {self.depth}")
        check_num_classes(self.num_classes)
        if self.branch_init_scale < 0 or self.head_bias_decay < 0 or self.eps < 0:
            raise ValueError("branch_init_scale, head_bias_decay and eps must be >= 0")
        get_activation(self.activation)

    @property
    def num_outputs(self) -> int:
        return self.num_classes

    @property
    def num_linear(self) -> int:
        """The linear head is one layer (W, b); everything before it is the backbone."""
        return 1

    @property
    def radius(self) -> float:
        """sqrt(d): the norm of every LN output when eps = 0."""
        return float(self.width) ** 0.5

    def num_weights(self, input_dim: int) -> int:
        """Entries of the weight matrices (biases left out)."""
        d = self.width
        return d * input_dim + self.depth * d * d + self.num_classes * d

    def multiply_adds_per_sample(self, input_dim: int) -> int:
        """One multiply-add per weight in a sample's forward pass."""
        return self.num_weights(input_dim)

    def activations_per_sample(self) -> int:
        """Values kept for the backward pass: lin_in, every block (pre- and post-activation),
        LN and the output."""
        return self.width * (2 + 2 * self.depth) + self.num_classes

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """Parameters (module docstring) from ``key`` for inputs of dimension ``input_dim``."""
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        d, depth, k = self.width, self.depth, self.num_classes
        k_in, k_blocks, k_head = jax.random.split(key, 3)
        block_std = self.branch_init_scale * (2.0 / d) ** 0.5
        return {
            "input": {
                "w": jax.random.normal(k_in, (d, input_dim)) / input_dim**0.5,
                "b": jnp.zeros((d,)),
            },
            "blocks": {
                "w": jax.random.normal(k_blocks, (depth, d, d)) * block_std,
                "b": jnp.zeros((depth, d)),
                "gate": jnp.ones((depth,)),
            },
            "head": {"w": jax.random.normal(k_head, (k, d)) / d**0.5, "b": jnp.zeros((k,))},
        }

    def decay_scales(self, params: Params) -> Params:
        """Weight-decay multipliers per leaf: 1, except ``head_bias_decay`` on the head bias and
        0 on the (untrained) gates."""
        scales = jax.tree_util.tree_map(lambda _: 1.0, params)
        scales["head"]["b"] = self.head_bias_decay
        scales["blocks"]["gate"] = 0.0
        return scales

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        """Forward pass of x (N, D).

        Returns the output (N, K) and the Layers record, input to output: z_0 (lin_in, linear),
        z_1..z_L (block outputs; preactivations W_l z_{l-1} + b_l), h = LN(z_L) (weights None),
        the output. The head (W, b) is the last entry, its input h the one before.
        """
        sigma = get_activation(self.activation)
        z0 = jnp.matmul(x, params["input"]["w"].T) + params["input"]["b"]

        def block(z, layer):
            pre = jnp.matmul(z, layer["w"].T) + layer["b"]
            out = z + jax.lax.stop_gradient(layer["gate"]) * sigma(pre)
            return out, (out, pre)

        z, (outs, pres) = jax.lax.scan(block, z0, params["blocks"])
        h = layer_norm(z, self.eps)
        output = jnp.matmul(h, params["head"]["w"].T) + params["head"]["b"]
        blocks = params["blocks"]
        depth = outs.shape[0]
        return output, Layers(
            features=(z0, *(outs[i] for i in range(depth)), h, output),
            preactivations=(None, *(pres[i] for i in range(depth)), None, None),
            weights=(
                params["input"]["w"],
                *(blocks["w"][i] for i in range(depth)),
                None,
                params["head"]["w"],
            ),
            biases=(
                params["input"]["b"],
                *(blocks["b"][i] for i in range(depth)),
                None,
                params["head"]["b"],
            ),
        )


def with_active_blocks(params: Params, active: int | jax.Array) -> Params:
    """``params`` of an LNResNet with only the first ``active`` blocks kept: the gates, weights
    and biases of the later blocks set to 0 (module docstring, "Gates"). ``active`` may be a
    traced integer (vmap over runs of different depths)."""
    blocks = params["blocks"]
    keep = jnp.arange(blocks["gate"].shape[0]) < active
    masked = {
        "w": jnp.where(keep[:, None, None], blocks["w"], 0.0),
        "b": jnp.where(keep[:, None], blocks["b"], 0.0),
        "gate": jnp.where(keep, blocks["gate"], 0.0),
    }
    return {**params, "blocks": masked}


def sliced_blocks(params: Params, depth: int) -> Params:
    """The parameters of the depth-``depth`` LNResNet made of the first ``depth`` blocks."""
    blocks = {key: value[:depth] for key, value in params["blocks"].items()}
    return {**params, "blocks": blocks}
