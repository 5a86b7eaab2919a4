"""Where and how a paper's ``run`` trains: the devices, the run groups, this process's share of
the runs and the progress callback. The runner and the sweep build one ``TrainContext``; a paper
only calls ``context.share(R)`` (which runs this process trains) and ``context.train(...)`` (the
engine on those runs; ``context.train_to(...)`` stops one training at several step counts), so
it never decides about devices, memory or processes itself.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from nc_jax.models.base import Model
from nc_jax.train import (
    RunState,
    TrainConfig,
    TrainData,
    TrainResult,
    process_share,
    run_mesh,
    runs_per_device,
    train,
)


@dataclass
class TrainContext:
    """Resources for one call of a paper's ``run``.

    Attributes:
        devices: the devices the run axis is sharded over (default: every local device).
        run_group: train at most this many runs at a time (None: all at once); rounded down to a
            multiple of the mesh size.
        on_steps: called after every compiled chunk with the run-steps it trained (runs x
            steps, for progress bars); None reports nothing.
        process_index, process_count: this process and the number of processes of a multi-host
            job (default: jax.process_index() and jax.process_count()).
        on_trained: called after every ``train`` call (also each segment of ``train_to``) with
            the wall seconds it took, e.g. to time the engine's share of a sweep; None reports
            nothing.
    """

    devices: list[Any] = field(default_factory=lambda: list(jax.local_devices()))
    run_group: int | None = None
    on_steps: Callable[[int], None] | None = None
    process_index: int = field(default_factory=jax.process_index)
    process_count: int = field(default_factory=jax.process_count)
    on_trained: Callable[[float], None] | None = None

    def share(self, num_runs: int) -> np.ndarray:
        """Indices of the runs this process trains: ``process_index, process_index + P, ...``
        of ``num_runs`` (all of them on one process)."""
        return process_share(num_runs, self.process_index, self.process_count)

    def train(
        self, model: Model, config: TrainConfig, data: TrainData, state: RunState
    ) -> TrainResult:
        """The engine on a batch of runs, sharded over ``devices`` in groups of ``run_group``
        (at most the model's ``runs_per_device`` per device)."""
        num_runs = int(state.step.shape[0])
        group = min(num_runs, self.run_group or num_runs)
        limit = runs_per_device(model, self.devices[0].platform)
        if limit is not None:
            group = min(group, limit * len(self.devices))
        mesh = run_mesh(group, self.devices)  # a device count that divides the group
        on_chunk = None
        if self.on_steps is not None:

            def on_chunk(done: int, _: RunState) -> None:
                self.on_steps(config.chunk_steps(done - 1) * group)

        started = time.perf_counter()
        result = train(model, config, data, state, mesh=mesh, run_group=group, on_chunk=on_chunk)
        if self.on_trained is not None:
            self.on_trained(time.perf_counter() - started)
        return result

    def train_to(
        self,
        model: Model,
        config: TrainConfig,
        data: TrainData,
        state: RunState,
        checkpoints: Sequence[int],
    ) -> dict[int, TrainResult]:
        """One training of ``state`` to the largest of ``checkpoints`` (step counts, multiples
        of ``config.log_every``; ``config.steps`` is ignored), stopped at each checkpoint: per
        checkpoint, the states there and the trajectory from step 0 up to it, as if trained for
        that many steps alone (the engine is deterministic and the logs fall on the same steps;
        tests/test_checks_context.py). Cells that differ only in their training length are one
        trajectory measured at several times, at the cost of the longest.

        Every segment runs the same compiled chunk: logs_per_chunk is the greatest common
        divisor of the segments' log counts (and of the longest run's own choice).
        """
        targets = sorted(set(int(t) for t in checkpoints))
        if config.log_spacing != "linear" and len(targets) > 1:
            raise ValueError(
                "geometric logs are spread over one training length: train each length on its "
                "own, or log linearly"
            )
        if config.lr_drop_at is not None and len(targets) > 1:
            raise ValueError(
                "a learning-rate drop (lr_drop_at) depends on the training length: "
                "train each length on its own"
            )
        if targets[0] < config.log_every or any(t % config.log_every for t in targets):
            raise ValueError(
                f"checkpoints {targets} must be positive multiples of log_every "
                f"({config.log_every})"
            )
        lengths = np.diff([0, *targets]) // config.log_every
        whole = dataclasses.replace(config, steps=targets[-1])
        chunk = math.gcd(whole.chunk_logs, *(int(n) for n in lengths))
        reached: dict[int, TrainResult] = {}
        trajectory: dict[str, np.ndarray] | None = None
        for target, logs in zip(targets, lengths):
            segment = dataclasses.replace(
                config, steps=int(logs) * config.log_every, logs_per_chunk=chunk
            )
            result = self.train(model, segment, data, state)
            if trajectory is None:
                trajectory = result.trajectory
            else:  # a segment's first log repeats the previous segment's last one
                trajectory = {
                    key: np.concatenate([trajectory[key], np.asarray(value)[:, 1:]], axis=1)
                    for key, value in result.trajectory.items()
                }
            state = result.state
            reached[target] = TrainResult(state, trajectory)
        return reached
