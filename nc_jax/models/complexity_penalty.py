"""A model whose objective also penalises the geometric complexity of its embedding.

Munn, Dherin and Gonzalvo (NeurIPS 2024) regularise training explicitly with
alpha * GC(f, B), the geometric complexity (1/|B|) sum_{x in B} ||J_f(x)||_F^2 of the
embedding f (the penultimate features) on the current batch B (nc_jax.metrics.complexity;
docs/theory/munn2024.md). ``GCPenalty`` wraps any nc_jax model and adds that term through the
engine's penalty hook (nc_jax.train.step.penalty).

Convention (tested in tests/test_metrics_complexity.py): the engine's penalty is a sum over the
samples of the batch, multiplied by N / B on a minibatch of B of the N training samples. The
wrapper returns (alpha / N) sum_{x in batch} ||J_f(x)||_F^2, so that the term the engine adds
is alpha * GC(f, batch) on every minibatch and alpha * GC(f, training set) in full-batch
training and in the logged objective: the paper's alpha, next to a mean-reduced loss. alpha is
a model attribute (static): runs with different alpha are different programs. The penalty does
not depend on the weight decay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nc_jax.metrics.complexity import embedding_of, jacobian_sq_norms
from nc_jax.models.base import Layers, Params
from nc_jax.models.wrapper import Wrapped


@dataclass(frozen=True)
class GCPenalty(Wrapped):
    """``model`` with alpha * GC(embedding, batch) added to its training objective.

    Every attribute other than the four below is the wrapped model's (models.wrapper.Wrapped:
    init, apply, num_outputs, num_linear, ...); only ``penalty`` is new.

    Attributes:
        model: the wrapped model (any nc_jax model; hashable, as models are).
        alpha: the penalty coefficient alpha >= 0 (0: no term, nothing computed).
        num_samples: N, the training-set size the engine scales a minibatch's penalty to.
        layer: index into ``Layers.features`` of the embedding (-2: the penultimate layer).
    """

    alpha: float
    num_samples: int
    layer: int = -2

    def __post_init__(self) -> None:
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a finite value >= 0, got {self.alpha}")
        if not (isinstance(self.num_samples, int) and self.num_samples >= 1):
            raise ValueError(f"num_samples must be an integer >= 1, got {self.num_samples!r}")
        if not isinstance(self.layer, int):
            raise ValueError(
                f"layer must be an integer index into Layers.features, got {self.layer!r}"
            )

    def penalty(
        self, params: Params, x: jax.Array, layers: Layers, weight_decay: jax.Array
    ) -> jax.Array:
        """(alpha / N) sum_n ||J_f(x_n)||_F^2 over the rows of x (B, D), a scalar (``layers``
        and ``weight_decay`` are not read: the Jacobians need the inputs)."""
        if self.alpha == 0.0:
            return jnp.zeros(())
        embed = embedding_of(self.model, params, self.layer)
        return self.alpha / self.num_samples * jnp.sum(jacobian_sq_norms(embed, x))
