"""Where runs train: CPU cores as devices, the run mesh, a multi-host process's share of the
runs, and placing a batch of runs on a mesh.

The run axis can be sharded over a device mesh (``NamedSharding(mesh, P("run"))``); every device
trains its own runs (``per_device``) and the data is replicated. On a multi-core CPU, XLA runs
each batched matmul of the step on one core; ``use_cpu_cores()`` (called before JAX starts)
exposes the cores as devices, so that ``train(..., mesh=run_mesh(R))`` trains the runs of each
core in parallel.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from nc_jax.models.base import Model

RUNS = PartitionSpec("run")  # the run axis split over the mesh
REPLICATED = PartitionSpec()  # the same on every device (the training set)


def use_cpu_cores(count: int | None = None) -> int:
    """Expose ``count`` CPU cores (default: all) as separate JAX CPU devices, so that a mesh over
    them (run_mesh) trains groups of runs in parallel, one group per core.

    XLA's CPU runtime runs the many small batched matmuls of a training step one at a time, each
    on a single core; sharding the run axis over per-core devices is what uses the other cores.
    Only possible before JAX initialises its backend (the first array or ``jax.devices()``):
    afterwards the device count is left as it is. Returns the number of CPU devices in effect.
    """
    count = (os.cpu_count() or 1) if count is None else int(count)
    with contextlib.suppress(RuntimeError):  # backend already initialised: keep its devices
        jax.config.update("jax_num_cpu_devices", count)
    return len(jax.devices("cpu"))


def runs_per_device(model: Model, platform: str) -> int | None:
    """The most runs one device of ``platform`` should train at once for ``model`` (None: no
    limit beyond memory): a model's ``cpu_runs_per_device`` on a CPU (convolutional models, whose
    vmapped convolutions are slow there: nc_jax.models.resnet.ResNet)."""
    if platform != "cpu":
        return None
    return getattr(model, "cpu_runs_per_device", None)


def run_mesh(num_runs: int, devices: Any = None) -> Mesh | None:
    """A one-axis mesh named "run" over the largest number of ``devices`` (default: all of JAX's
    devices) that divides ``num_runs``, for ``train(..., mesh=...)``; None when that is one."""
    devices = list(jax.devices() if devices is None else devices)
    count = max(d for d in range(1, len(devices) + 1) if num_runs % d == 0)
    return None if count == 1 else Mesh(np.array(devices[:count]), ("run",))


def process_share(
    num_runs: int, process_index: int | None = None, process_count: int | None = None
) -> np.ndarray:
    """Indices of the runs this process trains in a multi-host job: runs
    ``process_index, process_index + P, ...`` of ``num_runs`` (P = ``process_count``; both
    default to JAX's, ``jax.process_index()`` and ``jax.process_count()``).

    Multi-host recipe (runs never communicate, so no global array is needed): every process
    calls ``jax.distributed.initialize()``, builds the initial states of
    ``process_share(R)`` only, trains them on its local devices with
    ``train(..., mesh=run_mesh(len(share), jax.local_devices()))`` and writes its own results;
    process 0 merges them. On one process this is every run.
    """
    index = jax.process_index() if process_index is None else process_index
    count = jax.process_count() if process_count is None else process_count
    return np.arange(index, num_runs, count)


def per_device(
    fn: Callable, mesh: Mesh | None, shared: int = 1, check_vma: bool = True
) -> Callable:
    """fn(state, data, ...) applied by every device of ``mesh`` to its own runs
    (``shard_map``): the first argument split over the run axis, the ``shared`` others (the
    data, a chunk's log intervals) replicated. Runs never interact, so this is exact; left to
    XLA's automatic partitioning, the LAPACK calls of the metrics would be replicated on every
    device. ``check_vma=False`` turns off JAX's typing of values that vary over the mesh, for
    library code whose control flow joins a per-run value with a constant (optax's L-BFGS line
    search caches an initial value in a ``cond``); every output is per-run all the same."""
    if mesh is None:
        return fn
    in_specs = (RUNS, *(REPLICATED,) * shared)
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=RUNS, check_vma=check_vma)


def place(tree: Any, mesh: Mesh | None, spec: PartitionSpec) -> Any:
    """``tree`` laid out on ``mesh`` by ``spec`` (``RUNS`` or ``REPLICATED``); unchanged
    without a mesh."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, spec))
