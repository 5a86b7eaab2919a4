"""A model whose objective also penalises the features of one layer (the lambda_H1 term).

The deep unconstrained features model regularises its free features H_1 with
lambda_H1/2 ||H_1||_F^2 (docs/theory/sukenik2024.md). Súkeník,
Mondelli and Lampert (NeurIPS 2024) train real networks "with DUFM-like regularisation": weight
decay on every parameter and lambda_H1/2 ||H_1||_F^2 on the backbone's output features, which
play the DUFM's H_1. ``FeatureDecay`` wraps any model (an MLP, a ResNet, a transformer) and
names the penalised layer and its decay multiplier; the training engine adds the penalty to the
objective it differentiates and to the objective it logs (nc_jax.train.step.penalty).

Conventions (named here, tested in tests/test_models_feature_decay.py):
- lambda_H = weight_decay * scale, with the run's weight decay lambda (a per-run value of the
  engine), as DeepUFM's ``feature_decay_scale``: a sweep over lambda keeps lambda_H / lambda.
  The paper's real-data run (lambda = 0.005, lambda_H1 = 5e-6) is scale = 1e-3.
- The penalty is lambda_H/2 times the squared Frobenius norm of the layer's features over the
  WHOLE training set of N samples, not divided by N (B2: the paper's lambda_H1 = 5e-6
  "compensates for n = 5000"). On a minibatch of B samples the engine uses
  (N / B) lambda_H/2 ||Z_batch||_F^2, whose mean over an epoch's batches is the full-set penalty.
- It is a term of the objective in both weight-decay modes (it penalises features, not
  parameters, so "decoupled" decay does not move it out of the gradient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nc_jax.models.base import Layers, Params
from nc_jax.models.wrapper import Wrapped


@dataclass(frozen=True)
class FeatureDecay(Wrapped):
    """``model`` with weight_decay * scale / 2 ||Z_layer||_F^2 added to its training objective.

    Every attribute other than the three below is the wrapped model's (models.wrapper.Wrapped:
    init, apply, num_outputs, num_linear, decay_scales, ...), so the engine, the metrics and the
    theorem checks see the same network; only ``penalty`` is new.

    Attributes:
        model: the wrapped model (any nc_jax model; hashable, as models are).
        layer: index into ``Layers.features`` of the penalised layer, negative indices allowed
            (for a ResNet, ``model.num_backbone_layers - 1`` is the pooled backbone output).
        scale: lambda_H / lambda >= 0, the features' decay multiplier.
    """

    layer: int
    scale: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise ValueError(f"scale must be a finite lambda_H / lambda >= 0, got {self.scale}")
        if not isinstance(self.layer, int):
            raise ValueError(
                f"layer must be an integer index into Layers.features, got {self.layer!r}"
            )

    def penalised_features(self, layers: Layers) -> jax.Array:
        """The penalised layer's features (N, n_layer) from a forward pass's record."""
        count = len(layers.features)
        if not -count <= self.layer < count:
            raise ValueError(
                f"layer {self.layer} is out of range for a model with {count} recorded layers"
            )
        return layers.features[self.layer]

    def penalty(
        self, params: Params, x: jax.Array, layers: Layers, weight_decay: jax.Array
    ) -> jax.Array:
        """weight_decay * scale / 2 ||Z_layer||_F^2 over the samples of ``layers`` (a scalar;
        ``params`` and ``x`` are not read: the features are in ``layers``)."""
        return 0.5 * weight_decay * self.scale * jnp.sum(self.penalised_features(layers) ** 2)
