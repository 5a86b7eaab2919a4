"""Sweeps: a declarative grid of a paper's settings, trained bucket by bucket, resumable.

The grid file (TOML: ``[fixed]`` values, ``[grid]`` axes whose cartesian product is the cells,
``[zip]`` axes that move together, ``[quick]`` and ``[paper_scale]`` profiles) is described in
nc_jax.sweep.grid. Planning: every cell is a Setting; cells equal outside the paper's
``RUN_FIELDS`` (learning rate, weight decay, seed...) form a *bucket* that trains as one
compiled program, the run axis vmapped and sharded over every local device, in run groups sized
to the free memory. The plan (cells, buckets, programs, an estimate from a short timed warm-up)
is printed before anything trains; then one progress bar overall and one per bucket.

Results: nc_jax.results (one JSON line per finished cell, written atomically; ``load(DIR)``
returns the DataFrame). Resume: rerunning the same command skips the finished cells; a different
grid in an existing directory is an error unless ``extend=True`` (``--extend``) allows adding
cells. Beyond one machine: ``shard=(i, n)`` runs share i of n of the buckets (Slurm job
arrays), ``executor="ray"`` runs buckets as Ray tasks, and in a multi-host JAX job every process
trains its share of the runs of every bucket and process 0 merges the cells.

Modules, each importing only those above it:

- ``grid``: grid files parsed and validated into a Grid; its cells; the shipped grids by name
  (``grid_path``) and their tables (``grid_table``: the paper's ``Paper.tables``).
- ``planning``: buckets and the Plan, run groups sized to the free memory, the plan as text.
- ``estimate``: the time estimate from the first bucket's own chunks.
- ``directory``: the results directory checked against the grid; its status.
- ``shards``: ``--shard i/n``.
- ``hosts``: multi-host jobs (distributed initialisation, each process's part, the merge).
- ``execute``: ``run_bucket`` and the ``Executor`` protocol.
- ``local``, ``ray``: the two executors (Ray is imported only when its executor runs).
- ``run``: ``sweep()``, which picks the executor.
"""

from nc_jax.checks.contract import get_paper
from nc_jax.results import load, load_runs
from nc_jax.sweep.directory import prepare_directory, status
from nc_jax.sweep.estimate import Estimator
from nc_jax.sweep.execute import Executor, run_bucket
from nc_jax.sweep.grid import (
    GRID_TABLES,
    PROFILES,
    Cell,
    Grid,
    cells,
    grid_path,
    grid_table,
    parse_grid,
    read_grid_file,
    shipped_grids,
)
from nc_jax.sweep.hosts import PARTS, maybe_initialize_distributed, merge_parts, write_part
from nc_jax.sweep.local import LocalExecutor
from nc_jax.sweep.planning import (
    MEMORY_FRACTION,
    Bucket,
    Plan,
    choose_run_group,
    format_plan,
    free_memory_bytes,
    plan,
)
from nc_jax.sweep.ray import RayExecutor
from nc_jax.sweep.run import EXECUTORS, make_executor, sweep
from nc_jax.sweep.shards import my_buckets, parse_shard

__all__ = [
    "EXECUTORS",
    "GRID_TABLES",
    "MEMORY_FRACTION",
    "PARTS",
    "PROFILES",
    "Bucket",
    "Cell",
    "Estimator",
    "Executor",
    "Grid",
    "LocalExecutor",
    "Plan",
    "RayExecutor",
    "cells",
    "choose_run_group",
    "format_plan",
    "free_memory_bytes",
    "get_paper",
    "load",
    "load_runs",
    "make_executor",
    "maybe_initialize_distributed",
    "merge_parts",
    "my_buckets",
    "parse_grid",
    "parse_shard",
    "plan",
    "prepare_directory",
    "read_grid_file",
    "grid_path",
    "grid_table",
    "shipped_grids",
    "run_bucket",
    "status",
    "sweep",
    "write_part",
]
