"""The Ray executor of ``nc-jax sweep`` (``--executor ray [--address HOST:PORT]``).

Every pending bucket becomes one Ray task. A task receives only plain data (the grid as
``Grid.to_data()``, the bucket index, the output directory as a string, the run group and the
driver's float64 flag), rebuilds the plan on the worker, trains the bucket's pending cells with
``nc_jax.sweep.execute.run_bucket`` on the worker's own JAX devices and writes them into the
directory.
It also returns every cell of the bucket (record and arrays) so that the driver writes those its
own filesystem lacks: on a cluster without a shared filesystem the results still end up in the
driver's directory, and on a shared one nothing is written twice. Resume is the local one:
``run_bucket`` skips finished cells.

Resources: each task asks for ``num_cpus=1`` and no GPU by default (environment variables
``NC_JAX_RAY_CPUS`` and ``NC_JAX_RAY_GPUS`` change that, e.g. ``NC_JAX_RAY_GPUS=0.25`` puts four
tasks on a GPU). A task exposes its CPUs as JAX CPU devices (``use_cpu_cores``), like the CLI
does locally, and uses the driver's float64 flag (``jax_enable_x64``), so that its numbers are
the local executor's. Workers get ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` (several JAX processes
can share a GPU), the driver's ``JAX_PLATFORMS``, ``XLA_PYTHON_CLIENT_MEM_FRACTION`` and
``JAX_COMPILATION_CACHE_DIR`` when set and, with a fraction of a GPU per task and no memory
fraction given, ``XLA_PYTHON_CLIENT_MEM_FRACTION`` scaled to that fraction (so that each worker
sizes its run groups to its share of the memory). A worker that cannot write the output
directory (a node without the driver's path) writes into a temporary one and only returns the
cells.

Ray itself is imported only when the executor runs (``import_ray``): this module imports without
it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from nc_jax import results as store
from nc_jax.sweep.execute import Echo, run_bucket
from nc_jax.sweep.grid import Grid, paper_of
from nc_jax.sweep.planning import Bucket, Plan, choose_run_group, plan

if TYPE_CHECKING:
    from ray import ObjectRef

NEEDS_RAY = "--executor ray needs Ray: pip install 'nc-jax[distributed]'"
CPUS_VARIABLE = "NC_JAX_RAY_CPUS"  # CPUs per task (default 1)
GPUS_VARIABLE = "NC_JAX_RAY_GPUS"  # GPUs per task (default 0; a fraction shares a GPU)
# driver -> workers when set
FORWARDED = ("JAX_PLATFORMS", "XLA_PYTHON_CLIENT_MEM_FRACTION", "JAX_COMPILATION_CACHE_DIR")
CONNECT_TIMEOUT_S = 10.0  # for a HOST:PORT address to accept a connection
MEM_FRACTION = 0.75  # XLA's default share of a GPU's memory, scaled by a fractional GPU


@dataclass(frozen=True)
class Resources:
    """What one task asks Ray for."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def describe(self) -> str:
        gpus = f", {self.num_gpus:g} GPU" if self.num_gpus else ""
        return f"{self.num_cpus:g} CPU{gpus} each"


@dataclass(frozen=True)
class StoredCell:
    """A finished cell as the worker's directory holds it."""

    record: dict[str, Any]
    arrays: dict[str, np.ndarray]


@dataclass(frozen=True)
class BucketResult:
    """What a task returns: the cells it trained and every wanted cell it holds on disk."""

    index: int
    trained: int
    cells: list[StoredCell]
    seconds: float
    device: str


# ----------------------------------------------------------------------------- on the driver


def import_ray() -> ModuleType:
    """The ``ray`` module; a ValueError (exit status 2 in the CLI) when it is not installed."""
    try:
        import ray
    except ImportError:
        raise ValueError(NEEDS_RAY) from None
    return ray


def task_resources(environ: Mapping[str, str] = os.environ) -> Resources:
    """CPUs and GPUs per task: NC_JAX_RAY_CPUS (default 1) and NC_JAX_RAY_GPUS (default 0)."""
    values = []
    for name, default in ((CPUS_VARIABLE, 1.0), (GPUS_VARIABLE, 0.0)):
        text = environ.get(name, "").strip()
        try:
            value = float(text) if text else default
        except ValueError:
            raise ValueError(f"{name}={text!r}: give a number, e.g. {name}=1") from None
        if value < 0:
            raise ValueError(f"{name}={text!r}: must be >= 0")
        values.append(value)
    return Resources(*values)


def worker_env(resources: Resources, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Environment variables of the workers: no GPU memory preallocation (several JAX workers
    share a GPU), the driver's JAX_PLATFORMS / XLA_PYTHON_CLIENT_MEM_FRACTION when set, else a
    memory fraction scaled to a fractional GPU per task."""
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    env.update({name: environ[name] for name in FORWARDED if name in environ})
    if 0 < resources.num_gpus < 1 and "XLA_PYTHON_CLIENT_MEM_FRACTION" not in env:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{MEM_FRACTION * resources.num_gpus:.3f}"
    return env


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A HOST:PORT address must accept a TCP connection: ``ray.init`` itself retries an
    unreachable address for minutes. Other forms (``auto``, ``ray://...``) are left to Ray.

    Raises:
        ValueError: nothing answers at HOST:PORT within ``timeout_s``.
    """
    host, _, port = address.rpartition(":")
    if not host or "/" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise ValueError(
            f"--address {address}: nothing answers there ({error}); start a cluster with "
            "'ray start --head' and pass the address it prints"
        ) from None


def connect(ray: ModuleType, address: str | None) -> bool:
    """Use a running Ray (``ray.is_initialized()``), else join the cluster at ``address``, else
    start Ray on this machine. Returns whether this call initialised Ray (and must shut it
    down)."""
    if ray.is_initialized():
        return False
    if address:
        check_reachable(address)
    try:
        with warnings.catch_warnings():
            # Ray starts its processes by fork + exec, which JAX's at-fork warning (JAX is
            # already running in the driver) cannot tell from a bare fork: a false alarm
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            if address:
                ray.init(address=address)
            else:
                ray.init()
    except ConnectionError as error:
        raise ValueError(
            f"--address {address}: no Ray cluster answered ({error}); start one with "
            "'ray start --head' and pass the address it prints"
        ) from None
    return True


@dataclass(frozen=True)
class RayExecutor:
    """Trains the buckets as Ray tasks on the cluster at ``address`` (None: a running Ray, else
    one started on this machine), ``run_group`` runs at a time (None: sized to each worker's
    free memory). An nc_jax.sweep.execute.Executor."""

    address: str | None = None
    run_group: int | None = None

    def run(self, plan_: Plan, buckets: Sequence[Bucket], directory: Path, echo: Echo) -> int:
        """Train ``buckets`` (of ``plan_``) as Ray tasks, one per bucket, into ``directory``;
        echo one line per finished bucket and return the number of cells the tasks trained and
        wrote. Cells missing on the driver's filesystem are written by the driver.

        Raises:
            ValueError: Ray is not installed, no cluster answers at ``address``, or a bad
                NC_JAX_RAY_CPUS / NC_JAX_RAY_GPUS.
        """
        import jax

        ray = import_ray()
        resources = task_resources()
        started_ray = connect(ray, self.address)
        try:
            task = ray.remote(
                num_cpus=resources.num_cpus,
                num_gpus=resources.num_gpus,
                runtime_env={"env_vars": worker_env(resources)},
            )(train_bucket_task)
            cluster = ray.cluster_resources()
            echo(
                f"ray: {len(buckets)} buckets as tasks ({resources.describe()}) on a cluster of "
                f"{cluster.get('CPU', 0):g} CPUs, {cluster.get('GPU', 0):g} GPUs"
            )
            done = store.finished_cells(directory)
            futures = {
                task.remote(
                    plan_.grid.to_data(),
                    bucket.index,
                    str(directory),
                    self.run_group,
                    [c.id for c in bucket.pending(done)],
                    bool(jax.config.jax_enable_x64),
                ): bucket.index
                for bucket in buckets
            }
            return collect(ray, futures, Path(directory), echo)
        finally:
            if started_ray:
                ray.shutdown()


def collect(
    ray: ModuleType,
    futures: Mapping[ObjectRef, int],
    directory: Path,
    echo: Echo,
) -> int:
    """Wait for the tasks as they finish, write the cells the driver lacks, echo one line per
    bucket; a failed task is reported and raised once every other task has finished (their cells
    are kept, so a rerun resumes)."""
    pending = list(futures)
    written = 0
    errors: list[BaseException] = []
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        try:
            result: BucketResult = ray.get(ready[0])
        except Exception as error:  # a RayTaskError, also an instance of the task's error
            echo(f"bucket {futures[ready[0]]} failed: {type(error).__name__}")
            errors.append(error)
            continue
        copied = write_missing(directory, result.cells)
        written += result.trained
        note = f"; {copied} written by the driver" if copied else ""
        echo(
            f"bucket {result.index} done: {result.trained} cells, {result.seconds:.1f} s "
            f"on {result.device}{note}"
        )
    if errors:
        raise errors[0]
    return written


def write_missing(directory: Path, cells: Sequence[StoredCell]) -> int:
    """Write the cells not yet finished in ``directory`` (never one twice); returns how many."""
    done = store.finished_cells(directory)
    missing = [cell for cell in cells if cell.record["cell"] not in done]
    for cell in missing:
        store.write_cell(directory, cell.record, cell.arrays)
    return len(missing)


# ----------------------------------------------------------------------------- on a worker


def configure_worker_jax(enable_x64: bool) -> None:
    """The driver's float64 flag, the task's CPUs as JAX CPU devices (before JAX starts its
    backend; a reused worker keeps the devices it has) and the persistent compilation cache."""
    import jax
    import ray

    from nc_jax.train import enable_compilation_cache, use_cpu_cores

    jax.config.update("jax_enable_x64", enable_x64)
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    use_cpu_cores(max(1, int(cpus)))
    enable_compilation_cache()  # as the worker's environment says (nc_jax.train.cache)


def worker_directory(directory: str) -> tuple[Path, bool]:
    """Where the task writes: ``directory`` when this worker can create and write it, else a
    fresh temporary directory (a node that lacks the driver's path; the driver writes the cells
    the task returns). Returns the folder and whether it is temporary."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder, False
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="nc-jax-ray-")), True


def read_stored(directory: Path, cell: str) -> StoredCell | None:
    """A finished cell of ``directory`` (None when it is not finished there)."""
    path = store.cell_path(directory, cell)
    if not path.is_file():
        return None
    return StoredCell(json.loads(path.read_text()), store.read_arrays(directory, cell))


def train_bucket_task(
    grid_data: Mapping[str, Any],
    index: int,
    directory: str,
    run_group: int | None,
    cells: Sequence[str],
    enable_x64: bool,
) -> BucketResult:
    """The body of one Ray task: rebuild the plan from the grid data, train and write the pending
    cells of bucket ``index`` (run_bucket) on this worker's local devices, and return the wanted
    ``cells`` as this worker's directory holds them."""
    started = time.perf_counter()
    configure_worker_jax(enable_x64)
    from nc_jax.checks.context import TrainContext  # the engine, once JAX is configured
    from nc_jax.checks.runner import device_kind

    grid = Grid.from_data(grid_data)
    plan_ = plan(paper_of(grid), grid)
    bucket = next(b for b in plan_.buckets if b.index == index)
    context = TrainContext(run_group=run_group)
    context.run_group = choose_run_group(bucket, context.devices, run_group)
    folder, temporary = worker_directory(directory)
    try:
        trained = run_bucket(plan_, bucket, folder, context, plan_.grid.names)
        stored = [cell for cell in (read_stored(folder, c) for c in cells) if cell is not None]
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    return BucketResult(index, len(trained), stored, time.perf_counter() - started, device_kind())
