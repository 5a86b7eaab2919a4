"""Activation functions by name.

``smooth`` is the activation of Assumption 4.2 (docs/theory/jacot2025.md): smooth with
sigma'(x) in [gamma, 1]. We use sigma(x) = gamma x + (1 - gamma) softplus(x), whose derivative
gamma + (1 - gamma) sigmoid(x) lies in (gamma, 1); ``gamma`` defaults to 0.1 and is set with the
name "smooth:0.25".
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Activation = Callable[[jax.Array], jax.Array]
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "gelu", "smooth")
DEFAULT_SMOOTH_GAMMA = 0.1


def smooth(gamma: float) -> Activation:
    """sigma(x) = gamma x + (1 - gamma) softplus(x), with sigma' in (gamma, 1)."""
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"the smooth activation needs 0 < gamma < 1, got gamma = {gamma}")
    return lambda x: gamma * x + (1.0 - gamma) * jax.nn.softplus(x)


def meets_assumption_4_2(name: str) -> bool:
    """Whether the activation called ``name`` is smooth with sigma' in [gamma, 1] for some
    gamma > 0 (Assumption 4.2): only ``smooth`` (relu is not smooth; tanh' and the sigmoid
    part of gelu' tend to 0, and gelu' leaves [0, 1])."""
    return name.partition(":")[0] == "smooth"


def get_activation(name: str) -> Activation:
    """The activation called ``name``: relu, tanh, gelu, smooth or smooth:<gamma>."""
    base, _, parameter = name.partition(":")
    if base == "smooth":
        return smooth(float(parameter) if parameter else DEFAULT_SMOOTH_GAMMA)
    named = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu}
    if base not in named or parameter:
        raise ValueError(
            f"activation must be one of {ACTIVATIONS} (or smooth:<gamma>), got {name!r}"
        )
    return named[base]
