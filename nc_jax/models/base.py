"""What every model returns: its output and a record of every layer.

A model is an immutable (hashable, so static under jit) object with
``init(key, input_dim) -> params`` and ``apply(params, x) -> (output, Layers)``, written for ONE
network and one batch x (N, D); the training engine vmaps it over runs. Parameters are plain
pytrees (dicts and lists of arrays), so vmap, sharding and optax apply unchanged.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax

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
