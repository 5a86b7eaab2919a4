"""The compiled programs of a job and their caches.

A compiled *chunk* is ``jit(vmap(scan over logs(loop over log_every steps)))``; it returns the
run states at every log (without the optimiser state: ``step.log_snapshot``), and one compiled
*measure* program, ``jit(vmap(measure))``, measures each of them and the initial state. So the
layer-wise metrics, the costliest code to compile, are compiled once per job rather than twice
(once inside the chunk and once for the step-0 log). The divergence guard runs once per log
period, not after every step (``step.guard_divergence``).

Programs are cached per (model, config, mesh): a new job with other hyperparameter values
(arrays in the state) reuses the same program without retracing.
``nc_jax.train.cache.clear_compiled_programs`` empties these caches.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from nc_jax.models.base import Model
from nc_jax.train.cache import program_cache
from nc_jax.train.config import RunState, TrainConfig, TrainData
from nc_jax.train.devices import per_device
from nc_jax.train.step import (
    guard_divergence,
    log_snapshot,
    make_measure,
    make_update,
    update_config,
)

PER_RUN_INPUT_BYTES = 64 * 2**20  # largest per-run copy of the inputs (per_run_inputs)


def chunk_program(model: Model, config: TrainConfig, mesh: Mesh | None = None):
    """The compiled training unit of a job (``compiled_chunk``), keyed on what it runs: the
    step (``update_config``), the logs per chunk and, for linear logs, the period; jobs that
    differ in their length or their in-loop metrics share it."""
    period = config.log_every if config.log_spacing == "linear" else None
    return compiled_chunk(model, update_config(config), config.chunk_logs, period, mesh)


@program_cache(maxsize=32)
def compiled_chunk(
    model: Model, step_config: TrainConfig, chunk_logs: int, period: int | None, mesh: Mesh | None
):
    """The compiled training unit for a batch of runs: ``chunk_logs`` log periods.

    Returns jit(vmap(fn)) with fn(state, data, intervals) -> (state, snapshots): the state
    after the chunk and a list of ``chunk_logs`` log_snapshot states, the runs at the end of
    each log period, for ``compiled_measure``; run per device over the mesh's share of the runs
    (devices.per_device). ``period``: the steps of every log period (linear logs, a loop of
    static length; ``intervals`` None), or None: then ``intervals`` are the (chunk_logs,) int32
    lengths of this chunk's periods (``TrainConfig.log_intervals``), one program for every
    chunk. Cached per (model, step_config, chunk_logs, period, mesh).
    """
    update = make_update(model, step_config)

    def one_run(state: RunState, data: TrainData, intervals: jax.Array | None):
        def log_period(start, interval):
            count = period if interval is None else interval
            end = jax.lax.fori_loop(0, count, lambda _, s: update(s, data), start)
            state = guard_divergence(start, end)
            return state, log_snapshot(state)

        return jax.lax.scan(log_period, state, intervals, length=chunk_logs)

    def chunk(state: RunState, data: TrainData, intervals: jax.Array | None = None):
        num_runs = state.step.shape[0]
        if data.x.size * data.x.dtype.itemsize * num_runs <= PER_RUN_INPUT_BYTES:
            per_run = per_run_inputs(data, num_runs)
            state, stacked = jax.vmap(one_run, in_axes=(0, TrainData(0, None, None), None))(
                state, per_run, intervals
            )
        else:
            state, stacked = jax.vmap(one_run, in_axes=(0, None, None))(state, data, intervals)
        snapshots = [
            jax.tree_util.tree_map(lambda leaf, i=i: leaf[:, i], stacked) for i in range(chunk_logs)
        ]
        return state, snapshots

    # geometric logs pass the chunk's intervals too, replicated like the data
    return jax.jit(per_device(chunk, mesh, shared=1 if period is not None else 2))


def per_run_inputs(data: TrainData, num_runs: int) -> TrainData:
    """The training set with its inputs repeated along a leading run axis: x (R, N, D).

    With x shared (vmap ``in_axes=None``), XLA folds the runs' first layers into one GEMM
    (N, D) x (D, R n_1), whose weight gradient needs the run-major activations (R, N, n_1)
    transposed to (R n_1, N); on a CPU that transpose can cost as much as a layer's GEMMs. A
    per-run copy of x keeps the first layer a batched GEMM like the others, so
    ``compiled_chunk`` makes one when it takes at most ``PER_RUN_INPUT_BYTES``. Results are the
    same either way.
    """
    return data._replace(x=jnp.broadcast_to(data.x, (num_runs, *data.x.shape)))


def measure_program(model: Model, config: TrainConfig, num_classes: int, mesh: Mesh | None = None):
    """The compiled measurement of a job (``compiled_measure``), keyed on what it reads: the
    loss and the in-loop metrics, not the length or the logging."""
    key = dataclasses.replace(
        update_config(config),
        metrics=config.metrics,
        metric_names=config.metric_names,
        metric_layers=config.metric_layers,
    )
    return compiled_measure(model, key, num_classes, mesh)


@program_cache(maxsize=32)
def compiled_measure(model: Model, config: TrainConfig, num_classes: int, mesh: Mesh | None = None):
    """jit(vmap(measure)) for a batch of log_snapshot states (the step-0 log and every log of
    compiled_chunk); per device and cached like compiled_chunk."""
    measure = jax.vmap(make_measure(model, config, num_classes), in_axes=(0, None))
    return jax.jit(per_device(measure, mesh))
