"""The base of models that wrap another model to change its training objective.

A wrapper (models.FeatureDecay, the papers' regularisers) adds a ``penalty(params, x, layers,
weight_decay)`` to the objective the engine differentiates and logs (nc_jax.train.step.penalty)
and is otherwise the wrapped network: ``init``, ``apply`` and every other attribute
(num_outputs, num_linear, decay_scales, ...) are the wrapped model's, so the engine, the metrics
and the theorem checks see the same network. Wrappers are frozen dataclasses, hashable and
picklable as models are (the engine keys compiled programs on them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax

from nc_jax.models.base import Layers, Params


@dataclass(frozen=True)
class Wrapped:
    """``model`` under another objective; subclasses add their fields and ``penalty``.

    Attributes:
        model: the wrapped model (any nc_jax model; hashable, as models are).
    """

    model: Any

    def __getattr__(self, name: str) -> Any:
        if name == "model":  # not set yet (unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.model, name)

    def init(self, key: jax.Array, input_dim: int) -> Params:
        return self.model.init(key, input_dim)

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        return self.model.apply(params, x)
