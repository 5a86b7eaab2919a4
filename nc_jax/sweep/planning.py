"""Planning a sweep: the cells grouped into buckets, the run groups a bucket trains at a time,
and the plan as text.

Cells equal outside the paper's ``RUN_FIELDS`` (learning rate, weight decay, seed...) form a
*bucket* that trains as one compiled program, the run axis vmapped and sharded over every local
device, in run groups sized to the free memory.
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nc_jax import results as store
from nc_jax.checks.contract import Paper, run_fields
from nc_jax.checks.options import setting_to_data
from nc_jax.sweep.grid import Cell, Grid, cells, show_value

if TYPE_CHECKING:
    from jax import Device

MEMORY_FRACTION = 0.5  # of the free memory a bucket may fill


@dataclass(frozen=True)
class Bucket:
    """Cells that train as one compiled program (equal outside the paper's RUN_FIELDS)."""

    index: int
    cells: tuple[Cell, ...]

    @property
    def num_runs(self) -> int:
        return sum(cell.num_runs for cell in self.cells)

    def pending(self, done: Container[str]) -> list[Cell]:
        """The cells whose ids are not in ``done`` (the finished cells), in their order."""
        return [cell for cell in self.cells if cell.id not in done]

    def describe(self, axes: Sequence[str]) -> str:
        static = {k: v for k, v in self.cells[0].point.items() if k in axes}
        varying = [k for k in axes if len({_key(c.point[k]) for c in self.cells}) > 1]
        shown = ", ".join(f"{k}={show_value(v)}" for k, v in static.items() if k not in varying)
        return f"{shown or 'all cells'}: {len(self.cells)} cells, {self.num_runs} runs"


@dataclass(frozen=True)
class Plan:
    """The paper, the grid and its buckets, in the order they train."""

    paper: Paper
    grid: Grid
    buckets: tuple[Bucket, ...]

    @property
    def cells(self) -> list[Cell]:
        return [cell for bucket in self.buckets for cell in bucket.cells]


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def plan(paper: Paper, grid: Grid) -> Plan:
    """Group the cells into buckets: cells equal outside RUN_FIELDS share a compiled program."""
    per_run = set(run_fields(paper.setting))
    groups: dict[str, list[Cell]] = {}
    for cell in cells(paper, grid):
        config = setting_to_data(cell.setting)
        key = json.dumps({k: v for k, v in config.items() if k not in per_run}, sort_keys=True)
        groups.setdefault(key, []).append(cell)
    buckets = tuple(Bucket(i, tuple(group)) for i, group in enumerate(groups.values()))
    return Plan(paper, grid, buckets)


def free_memory_bytes(device: Device) -> int:
    """Free memory of ``device``: its allocator's limit minus use on an accelerator, else the
    host's MemAvailable (Linux) or, failing that, 4 GiB."""
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # CPU devices may not implement memory_stats
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def choose_run_group(bucket: Bucket, devices: Sequence[Device], fixed: int | None) -> int | None:
    """Runs trained at a time: ``fixed`` when given, else as many as MEMORY_FRACTION of the free
    memory holds by the paper's ``memory()`` estimate of one run (None: all at once)."""
    if fixed is not None:
        return fixed
    memory = getattr(bucket.cells[0].setting, "memory", None)
    if not callable(memory):
        return None
    per_device = free_memory_bytes(devices[0]) * MEMORY_FRACTION
    if len({d.platform for d in devices}) == 1 and devices[0].platform == "cpu":
        per_device /= len(devices)  # CPU devices share the host's memory
    fits = max(1, int(per_device // max(1.0, float(memory())))) * len(devices)
    return None if fits >= bucket.num_runs else fits


def format_plan(
    plan_: Plan, directory: Path, mine: Sequence[Bucket], devices: Sequence[Device]
) -> str:
    """The plan as text: cells, networks, buckets (= compiled programs), what is left."""
    axes = plan_.grid.names
    done = store.finished_cells(directory)
    everything = plan_.cells
    sizes = [f"{len(v)} {k}" for k, v in plan_.grid.axes.items()]
    if plan_.grid.zipped:
        rows = len(next(iter(plan_.grid.zipped.values())))
        sizes.append(f"{rows} ({' + '.join(plan_.grid.zipped)})")
    shape = " x ".join(sizes) or "one cell"
    networks = sum(c.num_runs for c in everything)
    lines = [
        f"sweep {plan_.paper.name}: {len(everything)} cells ({shape}), {networks} networks, "
        f"{len(plan_.buckets)} buckets = {len(plan_.buckets)} compiled training programs; "
        f"devices: {devices[0].device_kind} x {len(devices)}",
        f"done: {len(done & {c.id for c in everything})} cells; this process runs "
        f"{len(mine)} buckets",
    ]
    for bucket in mine:
        left = len(bucket.pending(done))
        lines.append(f"  bucket {bucket.index}: {bucket.describe(axes)} ({left} cells left)")
    return "\n".join(lines)
