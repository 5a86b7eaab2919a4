"""Models written for one network: ``init(key, input_dim) -> params`` and
``apply(params, x) -> (output, Layers)`` (see models.base)."""

from nc_jax.models.base import Layers, Model
from nc_jax.models.mlp import MLP

__all__ = ["MLP", "Layers", "Model"]
