"""Optimisers and the initial states of a batch of runs.

An optimiser is decomposed as a direction (identity for GD/SGD, momentum trace, Adam scaling:
``optimizer_direction``) times a per-run learning rate, both applied by nc_jax.train.step with
the weight decay. The per-run learning rate, weight decay and seed are arrays of the run state
(``init_runs``), so changing them never recompiles.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nc_jax.models.base import Model
from nc_jax.train.cache import jit_run_once, program_cache
from nc_jax.train.config import RunState, TrainConfig


def optimizer_direction(optimizer: str, momentum: float) -> optax.GradientTransformation:
    """The update direction of TrainConfig's ``optimizer`` (its ``momentum`` for "momentum")."""
    if optimizer == "gd":
        return optax.identity()
    if optimizer == "momentum":
        return optax.trace(decay=momentum)
    return optax.scale_by_adam()


def init_runs(
    model: Model,
    config: TrainConfig,
    input_dim: int,
    learning_rate: Any,
    weight_decay: Any,
    seeds: Any,
    dtype: Any = None,
) -> RunState:
    """Initial states of R runs, with a leading run axis on every leaf (float32, or ``dtype``
    through ``cast_runs``: the same draw in another precision).

    Args:
        model: the network (init/apply).
        config: the training configuration (for the optimiser state).
        input_dim: D.
        learning_rate: (R,) per-run learning rates (or a scalar broadcast to R).
        weight_decay: (R,) per-run weight decays (or a scalar broadcast to R).
        seeds: (R,) integer seeds; a run's initial parameters and data order depend only on it.
        dtype: the float precision of the states (None: float32); for float64, call it inside
            ``jax.enable_x64``.
    """
    seeds = np.atleast_1d(np.asarray(seeds))
    if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seeds must be a vector of integers (R,), got {seeds}")
    num_runs = seeds.shape[0]
    lrs = np.broadcast_to(np.asarray(learning_rate, np.float32), (num_runs,))
    wds = np.broadcast_to(np.asarray(weight_decay, np.float32), (num_runs,))
    if np.any(lrs <= 0) or not np.all(np.isfinite(lrs)):
        raise ValueError(f"learning_rate must be positive and finite, got {lrs}")
    if np.any(wds < 0) or not np.all(np.isfinite(wds)):
        raise ValueError(f"weight_decay must be >= 0 and finite, got {wds}")
    initial_states = compiled_init(model, config.optimizer, config.momentum, int(input_dim))
    drawn = initial_states(jnp.asarray(seeds, jnp.int32), jnp.asarray(lrs), jnp.asarray(wds))
    return drawn if dtype is None else cast_runs(drawn, dtype, learning_rate, weight_decay)


@program_cache(maxsize=32)
def compiled_init(model: Model, optimizer: str, momentum: float, input_dim: int):
    """jit(vmap(initial state of one run)) (seeds, lrs, wds) -> RunState, cached per model,
    optimiser and D (the only parts of the config the initial state depends on), so that
    repeated ``init_runs`` calls, also for configs that differ in steps or logging (a sweep's
    buckets), do not recompile."""
    direction = optimizer_direction(optimizer, momentum)

    def one(seed, lr, wd):
        init_key, data_key = jax.random.split(jax.random.PRNGKey(seed))
        params = model.init(init_key, input_dim)
        return RunState(
            params=params,
            opt_state=direction.init(params),
            key=data_key,
            learning_rate=lr,
            weight_decay=wd,
            seed=seed,
            step=jnp.zeros((), jnp.int32),
            diverged=jnp.zeros((), bool),
        )

    return jit_run_once(jax.vmap(one))


def cast_runs(state: RunState, dtype: Any, learning_rate: Any, weight_decay: Any) -> RunState:
    """``state`` (from ``init_runs``) in the float precision ``dtype``: every floating leaf cast,
    and the per-run learning rates and weight decays set again from their exact values.

    ``init_runs`` stores them in float32, so a cast alone would train a float64 run with
    fl32(lambda), about 6e-8 off in relative terms: enough to move a closed-form optimum that
    float64 checks compare with to 1e-12. The draw itself is unchanged (every precision starts
    from the same initial parameters). For float64, call it inside ``jax.enable_x64``.

    Args:
        state: R runs with a leading run axis.
        dtype: the target float dtype.
        learning_rate: (R,) per-run learning rates (or a scalar), as given to ``init_runs``.
        weight_decay: (R,) per-run weight decays (or a scalar), as given to ``init_runs``.
    """
    num_runs = int(state.step.shape[0])
    cast = jax.tree_util.tree_map(
        lambda leaf: leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf,
        state,
    )
    return cast._replace(
        learning_rate=jnp.broadcast_to(jnp.asarray(learning_rate, dtype), (num_runs,)),
        weight_decay=jnp.broadcast_to(jnp.asarray(weight_decay, dtype), (num_runs,)),
    )
