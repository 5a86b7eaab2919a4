"""The local executor: every bucket trained in this process on its local devices, one after
the other, with one progress bar overall and one per bucket and the time estimate of the first
bucket. In a multi-host job every process runs it on its share of the runs and process 0 merges
each cell's parts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jax

from nc_jax import results as store
from nc_jax.sweep.estimate import Estimator, run_steps_of
from nc_jax.sweep.execute import Echo, merge_cell, run_bucket
from nc_jax.sweep.planning import Bucket, Plan, choose_run_group

if TYPE_CHECKING:
    from jax import Device


@dataclass(frozen=True)
class LocalExecutor:
    """Trains the buckets here, on ``devices``, ``run_group`` runs at a time (None: sized to the
    free memory, nc_jax.sweep.planning.choose_run_group), with progress bars when ``progress``
    (else the estimates go to ``echo``); ``on_trained`` receives the wall seconds of every
    training (TrainContext.on_trained, e.g. to time the sweep's training apart from the rest).
    An nc_jax.sweep.execute.Executor."""

    devices: Sequence[Device]
    run_group: int | None = None
    progress: bool = True
    on_trained: Callable[[float], None] | None = None

    def run(self, plan_: Plan, buckets: Sequence[Bucket], directory: Path, echo: Echo) -> int:
        from nc_jax.checks.context import TrainContext  # the engine: loaded to train
        from nc_jax.progress import progress_bars

        axes = plan_.grid.names
        done = store.finished_cells(directory)
        sizes = {b.index: run_steps_of(b.pending(done)) for b in buckets}
        written = 0
        with progress_bars(self.progress) as bars:
            say = bars.console.print if self.progress else echo
            estimator = Estimator(buckets, done, say)
            overall = bars.add_task("sweep (run-steps)", total=sum(sizes.values()))
            for bucket in buckets:
                group = choose_run_group(bucket, self.devices, self.run_group)
                label = f"bucket {bucket.index} ({bucket.num_runs} runs, group {group or 'all'})"
                task = bars.add_task(label, total=sizes[bucket.index])
                first = bucket is buckets[0]

                def advance(run_steps: int, task: int = task, first: bool = first) -> None:
                    bars.advance(task, run_steps)
                    bars.advance(overall, run_steps)
                    if first:
                        estimator.chunk(run_steps)

                context = TrainContext(
                    devices=list(self.devices),
                    run_group=group,
                    on_steps=advance,
                    on_trained=self.on_trained,
                    process_index=jax.process_index(),
                    process_count=jax.process_count(),
                )
                records = run_bucket(plan_, bucket, directory, context, axes)
                if context.process_count > 1 and context.process_index == 0:
                    count, pending = context.process_count, bucket.pending(done)
                    written += sum(merge_cell(plan_, c, directory, count) for c in pending)
                written += len(records)
                bars.update(task, completed=sizes[bucket.index], description=label + " done")
                if first:
                    estimator.bucket_done()
        return written
