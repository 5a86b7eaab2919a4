"""A sweep from start to end: plan the grid, prepare the results directory, print the plan, and
hand the buckets with cells left to the executor named by ``--executor``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jax

from nc_jax import results as store
from nc_jax.sweep.directory import prepare_directory
from nc_jax.sweep.execute import Executor
from nc_jax.sweep.grid import Grid, paper_of
from nc_jax.sweep.local import LocalExecutor
from nc_jax.sweep.planning import format_plan, plan
from nc_jax.sweep.ray import RayExecutor
from nc_jax.sweep.shards import my_buckets
from nc_jax.tensorboard import live_export

if TYPE_CHECKING:
    from jax import Device

EXECUTORS = ("local", "ray")  # the names --executor accepts


def make_executor(
    name: str,
    devices: Sequence[Device],
    address: str | None,
    run_group: int | None,
    progress: bool,
) -> Executor:
    """The executor called ``name`` (one of EXECUTORS) with its options.

    Raises:
        ValueError: an unknown name.
    """
    if name == "ray":
        return RayExecutor(address, run_group)
    if name != "local":
        raise ValueError(f"--executor must be local or ray, got {name!r}")
    return LocalExecutor(devices, run_group, progress)


def sweep(
    grid: Grid,
    directory: str | Path,
    *,
    extend: bool = False,
    shard: tuple[int, int] | None = None,
    executor: str = "local",
    address: str | None = None,
    run_group: int | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    log_dir: str | Path | None = None,
) -> int:
    """Run every pending cell of ``grid`` into ``directory``; returns the number of cells
    written by this call. ``extend`` accepts a directory holding another grid whose finished
    cells this one includes, ``shard=(i, n)`` runs share i of n of the buckets, ``executor``
    ("local" or "ray", with the Ray cluster at ``address``) trains them ``run_group`` runs at a
    time (None: sized to the free memory); with ``log_dir``, every finished cell is written there
    as TensorBoard runs too, while the sweep runs (nc_jax.tensorboard). See the nc_jax.sweep
    docstring."""
    directory = Path(directory)
    paper = paper_of(grid)
    plan_ = plan(paper, grid)
    prepare_directory(directory, grid, extend)
    devices = list(jax.local_devices())
    mine = my_buckets(plan_.buckets, shard)
    echo(format_plan(plan_, directory, mine, devices))
    done = store.finished_cells(directory)
    todo = [b for b in mine if b.pending(done)]
    with live_export(directory, log_dir if jax.process_index() == 0 else None):
        if not todo:
            echo("nothing left to run")
            return 0
        chosen = make_executor(executor, devices, address, run_group, progress)
        return chosen.run(plan_, todo, directory, echo)
