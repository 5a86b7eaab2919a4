"""What every model returns: its output and a record of every layer.

A model is an immutable (hashable, so static under jit) object with
``init(key, input_dim) -> params`` and ``apply(params, x) -> (output, Layers)``, written for ONE
network and one batch x (N, D); the training engine vmaps it over runs. Parameters are plain
pytrees (dicts and lists of arrays), so vmap, sharding and optax apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import flax.linen as nn
import jax
import jax.numpy as jnp

Params = Any


class Layers(NamedTuple):
    """Every layer of one forward pass, ordered from input to output.

    Attributes:
        features: Z_1..Z_L, each (N, n_l): the layer outputs (post-activation).
        preactivations: H_l = Z_{l-1} W_l^T (+ b_l) for non-linear layers, None for linear ones.
        weights: W_l (n_l, n_{l-1}) in the papers' orientation, or None where a layer is not a
            dense matrix (convolutions, attention blocks).
        biases: b_l (n_l,) or None.
    """

    features: tuple[jax.Array, ...]
    preactivations: tuple[jax.Array | None, ...]
    weights: tuple[jax.Array | None, ...]
    biases: tuple[jax.Array | None, ...]


class Model(Protocol):
    """The interface the training engine and the theorem checks rely on."""

    num_outputs: int
    num_linear: int

    def init(self, key: jax.Array, input_dim: int) -> Params: ...

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]: ...


def default_float_dtype() -> Any:
    """float64 when jax_enable_x64 is on, else float32 (the dtype of jax.random.normal)."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


class BackboneWithHead:
    """Shared part of the models made of a flax backbone followed by an MLP ``head`` (ResNet,
    Transformer): parameters {"backbone": flax variables, "head": MLP parameters}; the Layers
    record lists the backbone's recorded features (no dense weights: None) then every head
    layer. Subclasses are frozen dataclasses with a ``head`` field and a ``backbone()`` module.
    """

    head: Any

    @property
    def num_outputs(self) -> int:
        """K, the head's output width."""
        return self.head.num_outputs

    @property
    def num_linear(self) -> int:
        """Depth of the linear head (the last num_linear entries of Layers)."""
        return self.head.num_linear

    @property
    def num_nonlinear(self) -> int:
        """Entries of the Layers record before the linear head: the recorded backbone
        features, then the head's non-linear layers (``MLP.num_nonlinear`` for an MLP)."""
        return self.num_backbone_layers + self.head.num_nonlinear

    def backbone(self) -> nn.Module:
        raise NotImplementedError

    def _init_with_head(
        self, key: jax.Array, sample_shape: tuple[int, ...], feature_dim: int
    ) -> Params:
        """Initialise the backbone on a (1, ...) ``sample_shape`` input and the head on
        ``feature_dim`` features."""
        backbone_key, head_key = jax.random.split(key)
        sample = jax.ShapeDtypeStruct(sample_shape, default_float_dtype())
        return {
            "backbone": self.backbone().lazy_init(backbone_key, sample),
            "head": self.head.init(head_key, feature_dim),
        }

    def _apply_head(
        self, params: Params, features: Sequence[jax.Array], recorded: Sequence[jax.Array]
    ) -> tuple[jax.Array, Layers]:
        """Run the head on the last backbone feature (N, feature_dim); ``recorded`` are the
        backbone features listed in the Layers record before the head's layers."""
        output, head = self.head.apply(params["head"], features[-1])
        none = (None,) * len(recorded)
        return output, Layers(
            features=(*recorded, *head.features),
            preactivations=(*none, *head.preactivations),
            weights=(*none, *head.weights),
            biases=(*none, *head.biases),
        )
