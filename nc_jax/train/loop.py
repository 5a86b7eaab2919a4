"""The host loop: ``train`` runs the compiled programs chunk after chunk, in run groups, with
checkpoints. The host only sees chunk boundaries, where it saves a checkpoint and calls
``on_chunk`` (progress reporting is the caller's, built on that callback)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh

from nc_jax.models.base import Model
from nc_jax.train.checkpoint import load_checkpoint, save_checkpoint
from nc_jax.train.config import RunState, TrainConfig, TrainData
from nc_jax.train.devices import REPLICATED, RUNS, place
from nc_jax.train.programs import chunk_program, measure_program
from nc_jax.train.step import log_snapshot


class TrainResult(NamedTuple):
    """Final states (leading run axis) and the trajectory: every logged measurement, each of
    shape (R, num_logs + 1, ...) (the first log is at step 0)."""

    state: RunState
    trajectory: dict[str, np.ndarray]


def train(
    model: Model,
    config: TrainConfig,
    data: TrainData,
    state: RunState,
    *,
    mesh: Mesh | None = None,
    run_group: int | None = None,
    checkpoint_dir: str | Path | None = None,
    on_chunk: Callable[[int, RunState], None] | None = None,
) -> TrainResult:
    """Train a batch of runs from ``state`` for ``config.steps`` steps.

    Args:
        model: the network.
        config: training configuration.
        data: the training set (make_data), shared by all runs.
        state: initial states with a leading run axis (init_runs).
        mesh: optional device mesh with an axis named "run": the run axis is sharded over it
            (``NamedSharding(mesh, P("run"))``) and the data replicated. The number of runs in a
            group must be a multiple of the mesh size.
        run_group: train at most this many runs at a time (when the whole batch does not fit in
            memory); the last group is padded with copies of its last run, so every group runs
            the same compiled program.
        checkpoint_dir: save the state and logs after every compiled chunk (a killed job loses at
            most one chunk, ``config.chunk_steps``) and resume from there if a checkpoint of the
            same job exists. With run groups, group g uses ``group-g/``.
        on_chunk: called as on_chunk(chunks_done, state) after every chunk of every run group
            (host side; chunk i trains ``config.chunk_steps(i)`` steps), e.g. to advance a
            progress bar (nc_jax.progress).
    """
    if config.batch_size is not None and config.batch_size > data.x.shape[0]:
        raise ValueError(
            f"batch_size ({config.batch_size}) exceeds the {data.x.shape[0]} training samples"
        )
    num_runs = int(state.step.shape[0])
    group = num_runs if run_group is None else int(run_group)
    if group < 1:
        raise ValueError(f"run_group must be >= 1, got {run_group}")
    if mesh is not None and group % mesh.size:
        raise ValueError(
            f"the run axis ({group} runs per group) must be a multiple of the {mesh.size} "
            "devices of the mesh: change the number of runs or run_group"
        )
    directory = None if checkpoint_dir is None else Path(checkpoint_dir)
    results = _train_groups(model, config, data, state, mesh, group, directory, on_chunk)
    if len(results) == 1:
        return results[0]
    return TrainResult(
        jax.tree_util.tree_map(_concat_runs, *[r.state for r in results]),
        jax.tree_util.tree_map(_concat_runs, *[r.trajectory for r in results]),
    )


def _train_groups(
    model: Model,
    config: TrainConfig,
    data: TrainData,
    state: RunState,
    mesh: Mesh | None,
    group: int,
    directory: Path | None,
    on_chunk: Callable[[int, RunState], None] | None,
) -> list[TrainResult]:
    """Train the run groups one after another (see ``train``)."""
    num_runs = int(state.step.shape[0])
    results = []
    for g, start in enumerate(range(0, num_runs, group)):
        index = np.minimum(np.arange(start, start + group), num_runs - 1)
        group_dir = (
            directory if directory is None or group == num_runs else directory / f"group-{g}"
        )
        result = _train_group(
            model, config, data, _take_runs(state, index), mesh, group_dir, on_chunk
        )
        keep = np.arange(min(group, num_runs - start))
        results.append(
            TrainResult(_take_runs(result.state, keep), _take_runs(result.trajectory, keep))
        )
    return results


def _train_group(
    model: Model,
    config: TrainConfig,
    data: TrainData,
    state: RunState,
    mesh: Mesh | None,
    checkpoint_dir: Path | None,
    on_chunk: Callable[[int, RunState], None] | None,
) -> TrainResult:
    """One run group: the step-0 log (or a checkpoint's state and logs), then every chunk."""
    num_classes = data.targets.shape[1]
    data = place(data, mesh, REPLICATED)
    state = place(state, mesh, RUNS)
    fingerprint = _fingerprint(model, config, state)
    resumed = (
        None if checkpoint_dir is None else load_checkpoint(checkpoint_dir, state, fingerprint)
    )
    measure = measure_program(model, config, num_classes, mesh)
    if resumed is None:
        logs = _stack_logs([measure(log_snapshot(state), data)])
        first_chunk = 0
    else:
        state, logs, first_chunk = resumed
        state = place(state, mesh, RUNS)
    chunk = chunk_program(model, config, mesh)
    num_chunks = config.num_logs // config.chunk_logs
    intervals = config.log_intervals().astype(np.int32).reshape(num_chunks, config.chunk_logs)
    for index in range(first_chunk, num_chunks):
        if config.log_spacing == "linear":
            state, snapshots = chunk(state, data)
        else:
            state, snapshots = chunk(state, data, intervals[index])
        chunk_logs = _stack_logs([measure(snapshot, data) for snapshot in snapshots])
        logs = {key: np.concatenate([logs[key], chunk_logs[key]], axis=1) for key in logs}
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, state, logs, index + 1, fingerprint)
        if on_chunk is not None:
            on_chunk(index + 1, state)
    return TrainResult(state, logs)


def _fingerprint(model: Model, config: TrainConfig, state: RunState) -> str:
    """What a checkpoint must match to be resumed: the model, the config and the run count."""
    return repr((model, config, int(state.step.shape[0])))


def _stack_logs(measured: list[dict[str, jax.Array]]) -> dict[str, np.ndarray]:
    """Logs measured one after another, each value (R, ...), as arrays (R, len(measured), ...)."""
    return {key: np.stack([np.asarray(m[key]) for m in measured], axis=1) for key in measured[0]}


def _take_runs(tree: Any, index: np.ndarray) -> Any:
    """Runs ``index`` of every leaf; a leaf whose runs are exactly ``index`` in order (one run
    group) is returned as it is, without an indexing program to compile."""

    in_order = np.array_equal(index, np.arange(len(index)))

    def take(leaf: Any) -> Any:
        return leaf if in_order and leaf.shape[0] == len(index) else leaf[index]

    return jax.tree_util.tree_map(take, tree)


def _concat_runs(*parts: Any) -> np.ndarray:
    return np.concatenate([np.asarray(part) for part in parts], axis=0)
