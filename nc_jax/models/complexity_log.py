"""A model whose training logs carry the geometric complexity (GC) of every layer, overall and
per class, next to the engine's layer-wise neural-collapse metrics.

Munn, Dherin and Gonzalvo (NeurIPS 2024) follow GC(f_l, B) = (1/|B|) sum_{x in B}
||J_{f_l}(x)||_F^2 along training (nc_jax.metrics.complexity; docs/theory/munn2024.md). The
engine logs whatever a model's ``log_values(params, x, y)`` returns (nc_jax.train.step); this
wrapper returns, on a fixed subset of ``samples`` training points spread evenly over the
training set (every class of a class-ordered set is in it):

- ``layer/gc`` (L,): GC of every layer's features (``Layers.features``, input to output);
- ``layer/gc class c`` (L,) for every class c: GC over the subset's points of class c (NaN
  for a class with no point in the subset).

The CDNV of every layer is the engine's own ``layer/nc1_cdnv`` (TrainConfig.metrics), so a
trajectory of both needs the two together. The cost per log is one Jacobian of all layers per
point of the subset (reverse mode over the layers' widths, or forward mode over D).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics.complexity import layer_jacobian_sq_norms
from nc_jax.metrics.stats import class_means_of
from nc_jax.models.base import Params
from nc_jax.models.wrapper import Wrapped


@dataclass(frozen=True)
class GCLog(Wrapped):
    """``model`` with its per-layer and per-class GC logged at every log of training.

    Attributes:
        model: the wrapped model (any nc_jax model whose ``apply`` takes inputs (N, D)).
        samples: M >= 1, the training points the GC is averaged over (all N when M >= N).
        num_classes: K, the classes of the labels.
    """

    samples: int
    num_classes: int

    def __post_init__(self) -> None:
        for name in ("samples", "num_classes"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

    def log_values(self, params: Params, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        """GC per layer (L,) and per class and layer, on ``subset(N, samples)`` of the rows of
        x (N, D) with labels y (N,)."""
        rows = subset(x.shape[0], self.samples)
        norms = layer_jacobian_sq_norms(self.model, params, x[rows])  # (M, L)
        per_class = class_means_of(norms, y[rows], self.num_classes)  # (K, L)
        values = {"layer/gc": jnp.mean(norms, axis=0)}
        return values | {f"layer/gc class {c}": per_class[c] for c in range(self.num_classes)}


def subset(num_samples: int, samples: int) -> np.ndarray:
    """min(M, N) indices spread evenly over 0..N-1 (static: the shapes do not depend on data)."""
    return np.unique(np.linspace(0, num_samples - 1, min(samples, num_samples)).round().astype(int))
