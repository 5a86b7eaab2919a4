"""Data losses of one network's output.

MSE follows the theory notes' normalisation (docs/theory/jacot2025.md):
C(theta) = 1/2 ||Z_L - Y||_F^2 with one-hot Y, summed over samples and outputs
(``reduction="sum"``); ``reduction="mean"`` divides by the number of samples N (what most code
does; it rescales the effective learning rate and weight decay by N). Cross entropy is the usual
softmax cross entropy, with the same reductions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

LOSSES: tuple[str, ...] = ("mse", "cross_entropy")
REDUCTIONS: tuple[str, ...] = ("sum", "mean")


def mse(output: jax.Array, targets: jax.Array, reduction: str = "sum") -> jax.Array:
    """1/2 ||output - targets||_F^2 (sum) or that divided by N (mean); output, targets (N, K)."""
    total = 0.5 * jnp.sum((output - targets) ** 2)
    return total if reduction == "sum" else total / output.shape[0]


def cross_entropy(output: jax.Array, targets: jax.Array, reduction: str = "sum") -> jax.Array:
    """Softmax cross entropy of logits (N, K) against one-hot targets (N, K)."""
    total = jnp.sum(optax.softmax_cross_entropy(output, targets))
    return total if reduction == "sum" else total / output.shape[0]


def get_loss(name: str):
    """The loss function called ``name`` (one of LOSSES)."""
    losses = {"mse": mse, "cross_entropy": cross_entropy}
    if name not in losses:
        raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")
    return losses[name]
