"""CIFAR-style ResNet (the ResNet20 family, He et al. 2016) followed by a deep linear MLP head.

The backbone is the ResNet of He et al. (2016, section 4.2): a 3x3 stem convolution, then
``len(widths)`` stages of ``blocks_per_stage`` basic blocks (two 3x3 convolutions,
relu(x + F(x))), stride 2 at the start of every stage but the first, a 1x1 projection shortcut
(option B) wherever a block changes the shape, and global average pooling. With
``blocks_per_stage = n`` it has 6n + 2 layers counting the head as one (n = 3: ResNet20).

No BatchNorm: under the training engine's vmap over runs its batch statistics and running state
would not be per-run plain parameters. ``norm`` is "none", "layernorm" (Ba et al. 2016: each
sample normalised over all of (H, W, C), i.e. GroupNorm with one group) or "groupnorm" (Wu & He
2018). Without affine parameters a norm is LN(x) = (x - mean) / std, the form of the LayerNorm
theory (docs/theory/sukenik2025.md).

The pooled backbone features feed an ``MLP`` head (nc_jax.models.mlp) whose last ``num_linear``
layers are linear and bias-free: the theory's deep linear head. Parameters are a plain pytree
{"backbone": flax variables, "head": MLP parameters}, with no mutable state, so the engine can
vmap init/apply over runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from nc_jax.models.base import BackboneWithHead, Layers, Params, default_float_dtype
from nc_jax.models.conv import Conv
from nc_jax.models.mlp import MLP

NORMS: tuple[str, ...] = ("none", "layernorm", "groupnorm")
DEFAULT_HEAD = MLP(widths=(64, 64, 64, 10), num_linear=3)
"""One ReLU layer of width 64, then a 3-layer bias-free linear head to K = 10 outputs."""


def group_count(channels: int, num_groups: int) -> int:
    """Groups used by GroupNorm on ``channels`` channels: gcd(channels, num_groups), the largest
    count <= num_groups that divides the channels (8 groups for 16-256 channels by default)."""
    return math.gcd(int(channels), int(num_groups))


def make_norm(
    kind: str, channels: int, *, affine: bool, num_groups: int, param_dtype: Any
) -> Callable[[jax.Array], jax.Array]:
    """The normalisation ``kind`` of NHWC maps with ``channels`` channels (identity for "none").

    "layernorm" normalises each sample over (H, W, C) jointly; "groupnorm" over (H, W) and each
    group of channels. ``affine`` adds a learned per-channel scale and bias. Must be called
    inside a flax ``nn.compact`` method (the norm is a submodule).
    """
    if kind == "none":
        return lambda x: x
    common = {
        "use_bias": affine,
        "use_scale": affine,
        "param_dtype": param_dtype,
        "use_fast_variance": False,
    }
    if kind == "layernorm":
        return nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=-1, **common)
    if kind == "groupnorm":
        return nn.GroupNorm(num_groups=group_count(channels, num_groups), **common)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def he_normal(scale: float = 1.0) -> nn.initializers.Initializer:
    """N(0, 2 scale^2 / fan_in) (He et al. 2015) for convolution kernels (H, W, in, out)."""
    if scale == 0.0:
        return nn.initializers.zeros
    return nn.initializers.variance_scaling(2.0 * scale**2, "fan_in", "normal")


class BasicBlock(nn.Module):
    """relu(shortcut(x) + norm(conv3x3(relu(norm(conv3x3(x, stride)))))) on NHWC maps.

    The shortcut is the identity, or norm(conv1x1(x, stride)) when the stride or the channel
    count changes. The branch's last convolution is initialised ``branch_init_scale`` times He.
    """

    channels: int
    stride: int
    norm: str
    affine: bool
    num_groups: int
    branch_init_scale: float
    param_dtype: Any

    def _conv(self, x: jax.Array, kernel: int, stride: int, scale: float = 1.0) -> jax.Array:
        return Conv(
            self.channels,
            kernel,
            stride=stride,
            use_bias=self.norm == "none",
            kernel_init=he_normal(scale),
            param_dtype=self.param_dtype,
        )(x)

    def _norm(self, x: jax.Array) -> jax.Array:
        return make_norm(
            self.norm,
            self.channels,
            affine=self.affine,
            num_groups=self.num_groups,
            param_dtype=self.param_dtype,
        )(x)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.relu(self._norm(self._conv(x, 3, self.stride)))
        h = self._norm(self._conv(h, 3, 1, self.branch_init_scale))
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.channels:
            shortcut = self._norm(self._conv(x, 1, self.stride))
        return nn.relu(shortcut + h)


class ResNetBackbone(nn.Module):
    """Stem conv3x3 -> norm -> relu, then the stages; returns every stage's output
    globally average-pooled: a list of (N, channels_s), one per stage, input x (N, H, W, C)."""

    channels: tuple[int, ...]
    blocks_per_stage: int
    norm: str
    affine: bool
    num_groups: int
    branch_init_scale: float
    param_dtype: Any

    @nn.compact
    def __call__(self, x: jax.Array) -> list[jax.Array]:
        h = Conv(
            self.channels[0],
            3,
            use_bias=self.norm == "none",
            kernel_init=he_normal(),
            param_dtype=self.param_dtype,
        )(x)
        h = make_norm(
            self.norm,
            self.channels[0],
            affine=self.affine,
            num_groups=self.num_groups,
            param_dtype=self.param_dtype,
        )(h)
        h = nn.relu(h)
        pooled = []
        for stage, width in enumerate(self.channels):
            for block in range(self.blocks_per_stage):
                h = BasicBlock(
                    channels=width,
                    stride=2 if stage > 0 and block == 0 else 1,
                    norm=self.norm,
                    affine=self.affine,
                    num_groups=self.num_groups,
                    branch_init_scale=self.branch_init_scale,
                    param_dtype=self.param_dtype,
                )(h)
            pooled.append(jnp.mean(h, axis=(1, 2)))
        return pooled


@dataclass(frozen=True)
class ResNet(BackboneWithHead):
    """A CIFAR-style ResNet backbone followed by an MLP head with a deep linear part.

    Attributes:
        image_shape: (C, H, W) of the images; inputs are rows of C*H*W values, channel-major
            (CIFAR: (3, 32, 32), 3072 values; MNIST: (1, 28, 28), 784).
        widths: channels of every stage before ``width_multiplier`` (ResNet20: (16, 32, 64)).
        blocks_per_stage: basic blocks per stage (ResNet20: 3; 6n + 2 layers in all).
        width_multiplier: multiplies every stage's channels (a wide ResNet).
        norm: "none", "layernorm" or "groupnorm" (no BatchNorm: see the module docstring).
        head: the MLP head; its input dim is the pooled backbone width widths[-1] *
            width_multiplier, set at init. Its last ``num_linear`` layers are linear.
        affine: learned per-channel scale and bias in the norms (False: LN(x) = (x - mean) /
            std, the theory's parameter-free norm). Ignored for norm "none".
        num_groups: GroupNorm groups, reduced to gcd(channels, num_groups) on every layer.
        branch_init_scale: multiplies the He initialisation of the last convolution of every
            residual branch. None: 1 / sqrt(number of blocks) for norm "none" (Fixup-style, Zhang
            et al. 2019: keeps the activations O(1) through depth without a norm), 1 otherwise.
            0 makes every block the identity (or its projection) at initialisation.
        record_stages: record every stage's pooled output in Layers (else only the last).

    Layers of ``apply`` (ordered input to output, S = len(widths) stages, L = len(head.widths)):
        features[s] for s < S: stage s+1's output, globally average-pooled, (N, channels_s),
            with preactivations, weights and biases None (not dense layers). features[S-1] is
            the pooled backbone output, the head's input: the theory's Z_{L1} when the head has
            no non-linear layers. With record_stages=False only this entry is kept (S := 1).
        features[S + l] for l < L: the head's layer l+1 (MLP.apply's record: post-activation
            outputs, pre-activations of its ReLU layers, dense weights W (n_l, n_{l-1}) and
            biases). The last num_linear entries are the linear head; the last is the output.
    """

    image_shape: tuple[int, int, int] = (3, 32, 32)
    widths: tuple[int, ...] = (16, 32, 64)
    blocks_per_stage: int = 3
    width_multiplier: int = 1
    norm: str = "none"
    head: MLP = DEFAULT_HEAD
    affine: bool = False
    num_groups: int = 8
    branch_init_scale: float | None = None
    record_stages: bool = True

    cpu_runs_per_device: ClassVar[int] = 1
    """Runs a CPU device should train at a time (``nc_jax.train.runs_per_device``): vmapped
    over runs, every convolution has per-run kernels and becomes a grouped convolution, slower
    per network on XLA's CPU backend (the engine, ResNet20 at stage widths 8/16/32 on 100
    28 x 28 images, two CPU devices: 0.11 s per network-step with one run per device, 0.19 s
    with two)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(
                f"image_shape must be (C, H, W) with positive sizes, got {self.image_shape}"
            )
        if len(self.widths) == 0 or min(self.widths) < 1:
            raise ValueError(f"widths must be positive stage channel counts, got {self.widths}")
        for name in ("blocks_per_stage", "width_multiplier", "num_groups"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if not isinstance(self.head, MLP):
            raise ValueError(f"head must be an nc_jax.models.mlp.MLP, got {type(self.head)}")
        if self.branch_init_scale is not None and self.branch_init_scale < 0:
            raise ValueError(
                f"branch_init_scale must be >= 0 or None (automatic), got {self.branch_init_scale}"
            )

    @property
    def input_dim(self) -> int:
        """C * H * W."""
        return math.prod(self.image_shape)

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels of every stage: widths * width_multiplier."""
        return tuple(w * self.width_multiplier for w in self.widths)

    @property
    def feature_dim(self) -> int:
        """Width of the pooled backbone features, the head's input dim."""
        return self.channels[-1]

    @property
    def num_backbone_layers(self) -> int:
        """Leading Layers entries that come from the backbone (stages recorded)."""
        return len(self.widths) if self.record_stages else 1

    def convolutions(self) -> list[tuple[int, int, int, int]]:
        """(output positions H_out W_out, input channels, output channels, kernel size) of
        every convolution of the backbone in order: the stem, then per block its two 3x3
        convolutions and its 1x1 projection where it has one ("SAME" padding, stride 2 at the
        first block of every stage but the first)."""
        in_channels, height, width = self.image_shape
        out = [(height * width, in_channels, self.channels[0], 3)]
        current = self.channels[0]
        for stage, channels in enumerate(self.channels):
            for block in range(self.blocks_per_stage):
                if stage > 0 and block == 0:
                    height, width = -(-height // 2), -(-width // 2)
                    out.append((height * width, current, channels, 1))
                elif current != channels:
                    out.append((height * width, current, channels, 1))
                out.append((height * width, current, channels, 3))
                out.append((height * width, channels, channels, 3))
                current = channels
        return out

    def num_weights(self, input_dim: int) -> int:
        """Entries of the convolution kernels and of the head's weight matrices (biases left
        out); ``input_dim`` must be C*H*W (the same signature as ``MLP.num_weights``)."""
        self._check_input_dim(input_dim, "input_dim")
        kernels = sum(i * o * k * k for _, i, o, k in self.convolutions())
        return kernels + self.head.num_weights(self.feature_dim)

    def multiply_adds_per_sample(self, input_dim: int) -> int:
        """Multiply-adds of one forward pass of one image: the convolutions (positions x
        in x out x k^2) and the dense head; norms, pooling and biases left out."""
        self._check_input_dim(input_dim, "input_dim")
        convolutions = sum(p * i * o * k * k for p, i, o, k in self.convolutions())
        return convolutions + self.head.multiply_adds_per_sample(self.feature_dim)

    def activations_per_sample(self) -> int:
        """Values one image's forward pass keeps for the backward pass: every convolution's
        output map and every head layer's output."""
        maps = sum(p * o for p, _, o, _ in self.convolutions())
        return maps + self.head.activations_per_sample()

    def _branch_scale(self) -> float:
        if self.branch_init_scale is not None:
            return float(self.branch_init_scale)
        if self.norm == "none":
            return 1.0 / math.sqrt(len(self.widths) * self.blocks_per_stage)
        return 1.0

    def backbone(self) -> ResNetBackbone:
        """The flax backbone module (parameters in the default float dtype)."""
        return ResNetBackbone(
            channels=self.channels,
            blocks_per_stage=self.blocks_per_stage,
            norm=self.norm,
            affine=self.affine,
            num_groups=self.num_groups,
            branch_init_scale=self._branch_scale(),
            param_dtype=default_float_dtype(),
        )

    def _check_input_dim(self, input_dim: int, name: str) -> None:
        if input_dim != self.input_dim:
            raise ValueError(
                f"{name} must equal C*H*W = {self.input_dim} for image_shape {self.image_shape}, "
                f"got {input_dim}: set image_shape to the shape of the flattened images"
            )

    def images(self, x: jax.Array) -> jax.Array:
        """Rows x (N, C*H*W), channel-major, as NHWC images (N, H, W, C)."""
        if x.ndim != 2:
            raise ValueError(f"x must be (N, C*H*W) flattened images, got shape {x.shape}")
        self._check_input_dim(x.shape[1], "x.shape[1]")
        return jnp.transpose(x.reshape((x.shape[0], *self.image_shape)), (0, 2, 3, 1))

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """Parameters {"backbone": flax variables, "head": MLP parameters (list of dicts)}."""
        self._check_input_dim(input_dim, "input_dim")
        channels, height, width = self.image_shape
        return self._init_with_head(key, (1, height, width, channels), self.feature_dim)

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        """Forward pass of x (N, C*H*W); returns the output (N, K) and the Layers record
        described in the class docstring."""
        pooled = self.backbone().apply(params["backbone"], self.images(x))
        recorded = tuple(pooled) if self.record_stages else (pooled[-1],)
        return self._apply_head(params, pooled, recorded)


def resnet20(
    num_classes: int = 10,
    head_widths: tuple[int, ...] = (64, 64, 64),
    num_linear: int = 3,
    width_multiplier: int = 1,
    norm: str = "none",
    *,
    image_shape: tuple[int, int, int] = (3, 32, 32),
) -> ResNet:
    """ResNet20 (widths (16, 32, 64), 3 blocks per stage) with the head
    MLP(widths=(*head_widths, num_classes), num_linear=num_linear).

    With the defaults the head is one ReLU layer of width 64 and a 3-layer linear head; pass
    num_linear = len(head_widths) + 1 for a purely linear head (then the pooled backbone
    features are the theory's Z_{L1}).
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    head = MLP(widths=(*tuple(head_widths), int(num_classes)), num_linear=num_linear)
    return ResNet(
        image_shape=image_shape,
        widths=(16, 32, 64),
        blocks_per_stage=3,
        width_multiplier=width_multiplier,
        norm=norm,
        head=head,
    )
