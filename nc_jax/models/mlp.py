"""MLP with L1 non-linear layers followed by a deep linear head of L2 layers (Jacot et al.).

Z_0 = X, Z_l = sigma(Z_{l-1} W_l^T + b_l) for l <= L1, Z_l = Z_{l-1} W_l^T for l > L1
(docs/theory/jacot2025.md, with samples as rows). The head is bias-free by default, as the theory
needs; biases of the non-linear layers are optional.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nc_jax.models.activations import get_activation
from nc_jax.models.base import Layers, Params

INITS: tuple[str, ...] = ("lecun", "he", "orthogonal")


@dataclass(frozen=True)
class MLP:
    """An MLP ``widths = (n_1, ..., n_L)`` whose last ``num_linear`` layers are linear.

    Attributes:
        widths: output width of every layer; n_L is the number of outputs K. A wide first layer
            (n_1 >= N, Assumption 4.1) is just a large n_1.
        num_linear: L2 >= 1, the depth of the linear head (the theory needs L2 >= 2).
        activation: relu, tanh, gelu, smooth or smooth:<gamma> (models.activations).
        bias: biases on the non-linear layers.
        head_bias: biases on the linear head (the theory's head has none).
        init_scheme: "lecun" N(0, 1/fan_in) everywhere; "he" N(0, 2/fan_in) on the non-linear
            layers and N(0, 1/fan_in) on the linear head; "orthogonal" orthogonal matrices with
            the same gains (sqrt 2 on non-linear layers, 1 on the head).
        init_scale: multiplies every layer's initial weights (a "scaled" initialisation).
        layer_scales: optional per-layer multipliers (length L), on top of init_scale.
    """

    widths: tuple[int, ...]
    num_linear: int = 3
    activation: str = "relu"
    bias: bool = False
    head_bias: bool = False
    init_scheme: str = "he"
    init_scale: float = 1.0
    layer_scales: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.widths) == 0 or any(int(w) < 1 for w in self.widths):
            raise ValueError(f"widths must be positive layer widths, got {self.widths}")
        if not 1 <= self.num_linear <= len(self.widths):
            raise ValueError(
                f"num_linear must be between 1 and the number of layers {len(self.widths)}, "
                f"got {self.num_linear}"
            )
        if self.init_scheme not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init_scheme!r}")
        if self.layer_scales is not None and len(self.layer_scales) != len(self.widths):
            raise ValueError(
                f"layer_scales needs one entry per layer ({len(self.widths)}), "
                f"got {len(self.layer_scales)}"
            )
        get_activation(self.activation)

    @property
    def num_outputs(self) -> int:
        return self.widths[-1]

    @property
    def num_nonlinear(self) -> int:
        return len(self.widths) - self.num_linear

    def num_weights(self, input_dim: int) -> int:
        """Entries of the weight matrices on ``input_dim`` inputs (biases left out)."""
        sizes = (input_dim, *self.widths)
        return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))

    def multiply_adds_per_sample(self, input_dim: int) -> int:
        """Multiply-adds of one sample's forward pass: one per weight (biases left out)."""
        return self.num_weights(input_dim)

    def activations_per_sample(self) -> int:
        """Values one sample's forward pass keeps for the backward pass: every layer's output."""
        return sum(self.widths)

    def _has_bias(self, layer: int) -> bool:
        return self.head_bias if layer >= self.num_nonlinear else self.bias

    def _init_weight(self, key: jax.Array, fan_out: int, fan_in: int, layer: int) -> jax.Array:
        gain = 2.0 if self.init_scheme != "lecun" and layer < self.num_nonlinear else 1.0
        if self.init_scheme == "orthogonal":
            w = jax.nn.initializers.orthogonal(jnp.sqrt(gain))(key, (fan_out, fan_in))
        else:
            w = jax.random.normal(key, (fan_out, fan_in)) * jnp.sqrt(gain / fan_in)
        scale = self.init_scale * (1.0 if self.layer_scales is None else self.layer_scales[layer])
        return scale * w

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """Parameters: a list with one dict per layer, {"w": (n_l, n_{l-1})[, "b": (n_l,)]}."""
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}")
        fan_ins = (input_dim, *self.widths[:-1])
        keys = jax.random.split(key, len(self.widths))
        params = []
        for layer, (k, fan_in, fan_out) in enumerate(zip(keys, fan_ins, self.widths)):
            entry = {"w": self._init_weight(k, fan_out, fan_in, layer)}
            if self._has_bias(layer):
                entry["b"] = jnp.zeros((fan_out,))
            params.append(entry)
        return params

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        """Forward pass of x (N, D); returns the output (N, K) and every layer's record."""
        sigma = get_activation(self.activation)
        z = x
        features, preacts, weights, biases = [], [], [], []
        for layer, entry in enumerate(params):
            h = jnp.matmul(z, entry["w"].T)
            if "b" in entry:
                h = h + entry["b"]
            nonlinear = layer < self.num_nonlinear
            z = sigma(h) if nonlinear else h
            features.append(z)
            preacts.append(h if nonlinear else None)
            weights.append(entry["w"])
            biases.append(entry.get("b"))
        return z, Layers(tuple(features), tuple(preacts), tuple(weights), tuple(biases))
