"""Running buckets: a bucket's pending cells trained as one program and written (resume skips
the finished cells), and the Executor protocol through which a sweep runs its buckets.

Executors (nc_jax.sweep.local, nc_jax.sweep.ray) build on ``run_bucket``; the sweep
(nc_jax.sweep.run) picks one by name and hands it the buckets that have cells left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from nc_jax import results as store
from nc_jax.checks.runner import cell_record, finish_merged, run_paper
from nc_jax.sweep.grid import Cell
from nc_jax.sweep.hosts import merge_parts, write_part
from nc_jax.sweep.planning import Bucket, Plan

if TYPE_CHECKING:  # the engine loads only where a context is built
    from nc_jax.checks.context import TrainContext

Echo = Callable[[str], None]  # where an executor's messages go (print, a progress console...)


@runtime_checkable
class Executor(Protocol):
    """Trains buckets of a plan into a results directory (its options are set when it is made:
    devices, run group, a cluster's address...)."""

    def run(self, plan_: Plan, buckets: Sequence[Bucket], directory: Path, echo: Echo) -> int:
        """Train the pending cells of ``buckets`` (of ``plan_``) into ``directory``, saying what
        happens through ``echo``; returns the number of cells written."""
        ...


def run_bucket(
    plan_: Plan,
    bucket: Bucket,
    directory: Path,
    context: TrainContext,
    axes: Sequence[str],
) -> list[dict[str, Any]]:
    """Train and measure the pending cells of ``bucket`` as one program, write each cell (or, in
    a multi-host job, this process's part of it) and return the records written. A part of a
    paper with a ``finish_cell`` carries no checks: they may read its cell-level quantities,
    which process 0 adds after the merge and then checks (``merge_cell``)."""
    pending = bucket.pending(store.finished_cells(directory))
    if not pending:
        return []
    started = time.perf_counter()
    outcomes = run_paper(plan_.paper, [c.setting for c in pending], context)
    wall = (time.perf_counter() - started) / len(pending)
    written = []
    unfinished = context.process_count > 1 and plan_.paper.finish_cell is not None
    for cell, outcome in zip(pending, outcomes):
        record = cell_record(
            plan_.paper,
            cell.setting,
            cell.index,
            axes,
            outcome.runs,
            plan_.paper.theorems,
            wall,
            pairs=[] if unfinished else None,
        )
        if context.process_count > 1:
            write_part(directory, record, outcome.arrays, context.process_index)
        else:
            store.write_cell(directory, record, outcome.arrays)
            written.append(record)
    return written


def merge_cell(plan_: Plan, cell: Cell, directory: Path, process_count: int) -> bool:
    """Process 0 of a multi-host job: the processes' parts of ``cell`` merged and written, with
    the paper's summary over the whole cell applied (``finish_merged``); False while a part is
    missing (``merge_parts``)."""

    def finish(record: dict[str, Any], arrays: dict[str, Any]) -> tuple[dict, dict]:
        return finish_merged(plan_.paper, cell.setting, record, arrays)

    return merge_parts(directory, cell, process_count, finish=finish)
