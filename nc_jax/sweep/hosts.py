"""Multi-host JAX jobs: the distributed initialisation asked for by the environment, each
process's part of a cell, and process 0 merging the parts.

In a job of P processes, process k trains runs ``k, k + P, ...`` of every bucket (the
TrainContext's share) and writes them as ``parts/cells/<cell>.p<k>.json`` with their arrays;
process 0 waits for the P parts of each cell and writes the merged cell, runs back in order.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax import results as store
from nc_jax.sweep.grid import Cell

# A merged cell's (record, arrays) -> (record, arrays): the paper's summary over the whole cell.
Finish = Callable[[dict[str, Any], dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]

PARTS = "parts"


def maybe_initialize_distributed(environ: Mapping[str, str] = os.environ) -> bool:
    """``jax.distributed.initialize()`` when the environment asks for a multi-host job
    (NC_JAX_DISTRIBUTED=1). The coordinator, process count and id come from the cluster (Slurm,
    a TPU pod, ...: JAX detects them) or, on any machine, from JAX_COORDINATOR_ADDRESS
    (host:port), NC_JAX_NUM_PROCESSES and NC_JAX_PROCESS_ID. Returns whether it initialised."""
    if environ.get("NC_JAX_DISTRIBUTED", "") not in ("1", "true"):
        return False
    import jax

    explicit = {}
    if "NC_JAX_NUM_PROCESSES" in environ or "NC_JAX_PROCESS_ID" in environ:
        try:
            explicit = {
                "coordinator_address": environ["JAX_COORDINATOR_ADDRESS"],
                "num_processes": int(environ["NC_JAX_NUM_PROCESSES"]),
                "process_id": int(environ["NC_JAX_PROCESS_ID"]),
            }
        except (KeyError, ValueError) as error:
            raise ValueError(
                "NC_JAX_DISTRIBUTED=1 with explicit processes needs JAX_COORDINATOR_ADDRESS="
                f"host:port, NC_JAX_NUM_PROCESSES=P and NC_JAX_PROCESS_ID=i ({error})"
            ) from None
    jax.distributed.initialize(**explicit)
    return True


def write_part(
    directory: Path, record: Mapping[str, Any], arrays: Mapping[str, Any], process: int
) -> None:
    """A multi-host process's share of a cell: ``parts/cells/<cell>.p<k>.json`` (+ arrays)."""
    part = dict(record, cell=f"{record['cell']}.p{process}")
    store.write_cell(directory / PARTS, part, arrays)


def merge_parts(
    directory: Path,
    cell: Cell,
    process_count: int,
    timeout_s: float = 3600.0,
    finish: Finish | None = None,
) -> bool:
    """Process 0 of a multi-host job: wait for every process's part of ``cell`` and write the
    merged cell (runs and checks in run order, arrays concatenated in run order), passed through
    ``finish(record, arrays)`` first when given (the paper's summary over the whole cell,
    nc_jax.checks.runner.finish_merged). Returns False when a part is still missing after
    ``timeout_s``."""
    names = [f"{cell.id}.p{k}" for k in range(process_count)]
    deadline = time.monotonic() + timeout_s
    while not all(store.cell_path(directory / PARTS, n).is_file() for n in names):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    parts = [json.loads(store.cell_path(directory / PARTS, n).read_text()) for n in names]
    arrays = [store.read_arrays(directory / PARTS, n) for n in names]
    order = np.argsort([run["index"] for part in parts for run in part["runs"]], kind="stable")
    merged = dict(parts[0], cell=cell.id)
    merged["runs"] = [run for part in parts for run in part["runs"]]
    merged["runs"] = [merged["runs"][i] for i in order]
    theorem_order = {theorem: i for i, theorem in enumerate(parts[0]["theorems"])}
    merged["checks"] = sorted(
        (c for part in parts for c in part["checks"]),
        key=lambda c: (theorem_order[c["theorem_id"]], c["run"]),
    )
    merged["wall_time_s"] = max(part["wall_time_s"] for part in parts)
    keys = set.intersection(*(set(a) for a in arrays))
    merged_arrays = {k: np.concatenate([a[k] for a in arrays])[order] for k in keys}
    if finish is not None:
        merged, merged_arrays = finish(merged, merged_arrays)
    store.write_cell(directory, merged, merged_arrays)
    return True
