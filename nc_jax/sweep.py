"""Sweeps: a declarative grid of a paper's settings, trained bucket by bucket, resumable.

A grid file (TOML, read with ``tomllib``)::

    paper = "jacot2025"            # a registered paper (nc-jax check --list)
    [fixed]                        # Setting fields shared by every cell
    steps = 20000
    [grid]                         # every key a Setting field, every value a list of values:
    widths = [[64, 64, 64, 64, 10], [256, 64, 64, 64, 10]]   # the cartesian product is the cells
    seeds = [[0, 1], [2, 3]]
    [zip]                          # axes that move together (equal lengths), times the product
    widths = [[256, 64, 64, 10], [256, 64, 64, 64, 10]]
    num_linear = [2, 3]
    [quick]                        # overrides that --quick applies (small sizes for CI)
    steps = 500
    [paper_scale]                  # overrides that --paper-scale applies (the paper's sizes,
    steps = 2000000                # for an accelerator)

A key of a profile table (``[quick]``, ``[paper_scale]``) or of ``--set key=value`` (the value
written as in TOML) that is a grid or zip axis replaces the axis (a list), any other key a fixed
value. The table without a profile is the full mode.

Planning: every cell is a Setting; cells equal outside the paper's ``RUN_FIELDS`` (learning rate,
weight decay, seed...) form a *bucket* that trains as one compiled program, the run axis vmapped
and sharded over every local device, in run groups sized to the free memory. The plan (cells,
buckets, programs, an estimate from a short timed warm-up) is printed before anything trains;
then one progress bar overall and one per bucket.

Results: nc_jax.results (one JSON line per finished cell, written atomically; ``load(DIR)``
returns the DataFrame). Resume: rerunning the same command skips the finished cells; a different
grid in an existing directory is an error unless ``extend=True`` (``--extend``) allows adding
cells. Beyond one machine: ``shard=(i, n)`` runs share i of n of the buckets (Slurm job
arrays), ``executor="ray"`` runs buckets as Ray tasks, and in a multi-host JAX job every process
trains its share of the runs of every bucket and process 0 merges the cells.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tomllib

from nc_jax import results as store
from nc_jax.checks.contract import Paper, get_paper, run_fields, setting_cost, setting_runs
from nc_jax.checks.options import make_setting, setting_to_data
from nc_jax.checks.runner import cell_record, run_paper
from nc_jax.results import load, load_runs

if TYPE_CHECKING:  # the engine loads only where a context is built
    from nc_jax.checks.context import TrainContext

__all__ = [
    "Bucket",
    "Cell",
    "Grid",
    "Plan",
    "load",
    "load_runs",
    "parse_grid",
    "plan",
    "read_grid_file",
    "status",
    "sweep",
]

PROFILES = ("quick", "paper_scale")  # the override tables a grid file may hold
GRID_TABLES = ("paper", "fixed", "grid", "zip", *PROFILES)
PARTS = "parts"
MEMORY_FRACTION = 0.5  # of the free memory a bucket may fill


@dataclass(frozen=True)
class Grid:
    """A resolved grid: the paper, the fixed Setting values, the axes (key -> values, their
    cartesian product) and the zipped axes (key -> values of one common length, moving
    together; the product runs over them as over one more axis)."""

    paper: str
    fixed: Mapping[str, Any]
    axes: Mapping[str, Sequence[Any]]
    zipped: Mapping[str, Sequence[Any]] = dataclasses.field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every key that varies between cells (axes, then zipped axes)."""
        return [*self.axes, *self.zipped]

    def to_data(self) -> dict[str, Any]:
        data = {"paper": self.paper, "fixed": dict(self.fixed), "axes": dict(self.axes)}
        return data | ({"zip": dict(self.zipped)} if self.zipped else {})

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Grid:
        return cls(data["paper"], data["fixed"], data["axes"], data.get("zip", {}))


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its index, stable id, Setting and grid coordinates."""

    index: int
    id: str
    setting: Any
    point: Mapping[str, Any]

    @property
    def num_runs(self) -> int:
        return setting_runs(self.setting)


@dataclass(frozen=True)
class Bucket:
    """Cells that train as one compiled program (equal outside the paper's RUN_FIELDS)."""

    index: int
    cells: tuple[Cell, ...]

    @property
    def num_runs(self) -> int:
        return sum(cell.num_runs for cell in self.cells)

    def describe(self, axes: Sequence[str]) -> str:
        static = {k: v for k, v in self.cells[0].point.items() if k in axes}
        varying = [k for k in axes if len({_key(c.point[k]) for c in self.cells}) > 1]
        shown = ", ".join(f"{k}={_show(v)}" for k, v in static.items() if k not in varying)
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


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


# ------------------------------------------------------------------------------- the grid


def read_grid_file(
    path: str | Path, profile: str | None = None, overrides: Sequence[str] = ()
) -> Grid:
    """Read a grid file, apply the table of ``profile`` (one of PROFILES, or None for the full
    mode) and then the ``--set key=value`` overrides.

    Raises:
        ValueError: a missing file, bad TOML, an unknown table or key, an empty axis, a value of
            the wrong type or out of range (every cell is validated here, before training).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"GRID.toml: no file {path}; pass a grid file (see experiments/grids/)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None
    return parse_grid(data, profile=profile, overrides=overrides, source=str(path))


def _parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ValueError(f"--set {text!r}: write key=value, e.g. --set steps=500")
    key, value = (part.strip() for part in text.split("=", 1))
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value  # a bare word is a string: --set dataset=mnist
    return key, parsed


def parse_grid(
    data: Mapping[str, Any],
    profile: str | None = None,
    overrides: Sequence[str] = (),
    source: str = "grid",
) -> Grid:
    """A Grid from the TOML tables of a grid file (see the module docstring), with the table of
    ``profile`` applied; validates every key against the paper's Setting and every cell before
    anything trains."""
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES} or None, got {profile!r}")
    if profile is not None and profile not in data:
        flag = "--" + profile.replace("_", "-")
        raise ValueError(f"{flag}: {source} has no [{profile}] table; drop {flag}")
    unknown = sorted(set(data) - set(GRID_TABLES))
    if unknown:
        raise ValueError(
            f'{source}: unknown table or key {unknown}; a grid file has paper = "..." and the '
            "tables [fixed], [grid], [zip], [quick], [paper_scale]"
        )
    if not isinstance(data.get("paper"), str):
        raise ValueError(f'{source}: name the paper at the top, e.g. paper = "jacot2025"')
    paper = get_paper(data["paper"])
    fields = [f.name for f in dataclasses.fields(paper.setting)]
    fixed = dict(data.get("fixed", {}))
    axes = dict(data.get("grid", {}))
    zipped = dict(data.get("zip", {}))
    tables = [("fixed", fixed), ("grid", axes), ("zip", zipped)]
    tables += [(name, data.get(name, {})) for name in PROFILES]
    for table, keys in tables:
        for key in keys:
            if key not in fields:
                raise ValueError(
                    f"{source}: [{table}] {key} is not a setting of {paper.name}; "
                    f"known: {', '.join(fields)}"
                )
    for first, second, name in (
        (fixed, axes, "[fixed] and [grid]"),
        (fixed, zipped, "[fixed] and [zip]"),
        (axes, zipped, "[grid] and [zip]"),
    ):
        both = sorted(set(first) & set(second))
        if both:
            raise ValueError(f"{source}: {both} are in both {name}; keep each in one")
    changes = list(data[profile].items()) if profile is not None else []
    changes += [_parse_override(text) for text in overrides]
    for key, value in changes:
        if key not in fields:
            raise ValueError(
                f"--set {key}: not a setting of {paper.name}; known: {', '.join(fields)}"
            )
        if key in axes:
            axes[key] = value
        elif key in zipped:
            zipped[key] = value
        else:
            fixed[key] = value
    for table, varying in (("grid", axes), ("zip", zipped)):
        for key, values in varying.items():
            if not isinstance(values, list):
                raise ValueError(
                    f"{source}: [{table}] {key} must be a list of values (one per cell), "
                    f"got {values!r}"
                )
            if not values:
                raise ValueError(f"{source}: [{table}] {key} is empty; give at least one value")
            if table == "grid" and len({json.dumps(v) for v in values}) < len(values):
                raise ValueError(f"{source}: [grid] {key} lists a value twice; cells must differ")
    lengths = {key: len(values) for key, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"{source}: the [zip] axes move together and need one length; got {lengths}"
        )
    rows = [
        json.dumps([v[i] for v in zipped.values()]) for i in range(max(lengths.values(), default=0))
    ]
    if len(set(rows)) < len(rows):
        raise ValueError(f"{source}: [zip] lists a combination twice; cells must differ")
    grid = Grid(paper.name, fixed, axes, zipped)
    cells(paper, grid)  # every cell validated now, before anything trains
    return grid


def _name_in(grid: Grid) -> Callable[[str], str]:
    def name(key: str) -> str:
        table = "grid" if key in grid.axes else "zip" if key in grid.zipped else "fixed"
        return f"[{table}] {key}"

    return name


def _points(grid: Grid) -> list[dict[str, Any]]:
    """Every grid point: the cartesian product of the axes, times the zipped rows."""
    length = len(next(iter(grid.zipped.values()))) if grid.zipped else 1
    rows = [{k: v[i] for k, v in grid.zipped.items()} for i in range(length)]
    keys = list(grid.axes)
    return [
        dict(zip(keys, values)) | row
        for values in itertools.product(*(grid.axes[k] for k in keys))
        for row in rows
    ]


def cells(paper: Paper, grid: Grid) -> list[Cell]:
    """Every cell of the grid (the cartesian product of the axes and the zipped rows, in
    their order)."""
    keys = grid.names
    out = []
    for index, point in enumerate(_points(grid)):
        setting = make_setting(paper.setting, {**grid.fixed, **point}, _name_in(grid))
        config = setting_to_data(setting)
        point = {k: config[k] for k in keys}
        out.append(Cell(index, store.cell_id(paper.name, config), setting, point))
    return out


def plan(paper: Paper, grid: Grid) -> Plan:
    """Group the cells into buckets: cells equal outside RUN_FIELDS share a compiled program."""
    per_run = set(run_fields(paper.setting))
    groups: dict[Any, list[Cell]] = {}
    for cell in cells(paper, grid):
        config = setting_to_data(cell.setting)
        key = json.dumps({k: v for k, v in config.items() if k not in per_run}, sort_keys=True)
        groups.setdefault(key, []).append(cell)
    buckets = tuple(Bucket(i, tuple(group)) for i, group in enumerate(groups.values()))
    return Plan(paper, grid, buckets)


# --------------------------------------------------------------------------- the directory


def prepare_directory(directory: Path, grid: Grid, extend: bool) -> None:
    """Write grid.json, or check that the directory holds the same grid (``extend``: a grid
    whose cells include every finished cell is accepted and replaces it)."""
    for stale in directory.glob(f"{store.CELLS}/.*.part"):
        stale.unlink(missing_ok=True)  # a write killed before its rename: never a result
    path = directory / store.GRID_FILE
    if not path.is_file():
        if store.finished_cells(directory):
            raise ValueError(f"--out {directory} holds cells but no {store.GRID_FILE}")
        store.write_grid(directory, grid.to_data())
        return
    saved = store.read_grid(directory)
    wanted = json.loads(json.dumps(grid.to_data()))
    same = all(saved.get(k) == wanted.get(k) for k in ("paper", "fixed", "axes", "zip"))
    if same:
        return
    if not extend:
        raise ValueError(
            f"--out {directory} holds another grid ({store.GRID_FILE} differs); use a new "
            "directory, the same grid and flags, or --extend to add cells to it"
        )
    if saved.get("paper") != grid.paper:
        raise ValueError(f"--extend: {directory} holds results of {saved.get('paper')!r}")
    store.write_grid(directory, grid.to_data())


def status(directory: str | Path) -> str:
    """What a sweep directory holds: cells done and left, runs, diverged runs, verdicts."""
    directory = Path(directory)
    saved = store.read_grid(directory)
    paper = get_paper(saved["paper"])
    grid = Grid.from_data(saved)
    everything = cells(paper, grid)
    done = store.finished_cells(directory)
    records = store.read_cells(directory)
    runs = sum(len(r["runs"]) for r in records)
    diverged = sum(run["diverged_step"] is not None for r in records for run in r["runs"])
    verdicts: dict[str, int] = {}
    for record in records:
        for result in record["checks"]:
            verdicts[result["verdict"]] = verdicts.get(result["verdict"], 0) + 1
    left = [c for c in everything if c.id not in done]
    lines = [
        f"{directory}: paper {paper.name}, {len(everything)} cells: "
        f"{len(everything) - len(left)} done, {len(left)} left",
        f"runs done: {runs} ({diverged} diverged); checks: "
        + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())),
        f"wall time of the finished cells: {sum(r['wall_time_s'] for r in records):.1f} s",
    ]
    if left:
        lines.append("left: " + "; ".join(_point_text(c.point) for c in left[:8]))
        if len(left) > 8:
            lines[-1] += f"; ... ({len(left) - 8} more)"
    return "\n".join(lines)


def _point_text(point: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_show(v)}" for k, v in point.items()) or "(single cell)"


# ------------------------------------------------------------------------------ memory, time


def free_memory_bytes(device: Any) -> int:
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


def choose_run_group(bucket: Bucket, devices: Sequence[Any], fixed: int | None) -> int | None:
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


class Estimator:
    """The time estimate, from a timed warm-up that is the sweep's own first work (nothing is
    trained twice): the first bucket's first chunk holds the compilation, its next chunk gives
    the training rate (in the paper's ``cost()`` units per second) and its end the measuring
    time per run. Estimates are printed once the rate is known and again after the first
    bucket; the per-bucket progress bars refine them."""

    def __init__(self, buckets: Sequence[Bucket], done: set[str], echo: Callable[[str], None]):
        self.pending = {b.index: [c for c in b.cells if c.id not in done] for b in buckets}
        self.echo = echo
        self.started = time.perf_counter()
        self.marks: list[tuple[float, int]] = []
        self.compile_s = self.rate = self.measure_s = None
        self.first = buckets[0]

    def chunk(self, run_steps: int) -> None:
        """Called after every chunk of the first bucket."""
        self.marks.append((time.perf_counter(), run_steps))
        if len(self.marks) == 2:
            (t0, _), (t1, n1) = self.marks
            cells = self.pending[self.first.index]
            per_run_step = _work(cells) / max(1, _run_steps_of(cells))
            self.rate = n1 * per_run_step / max(t1 - t0, 1e-9)
            self.compile_s = max(0.0, (t0 - self.started) - (t1 - t0))
            self.echo(f"estimated time (training only): {self._total(0.0):.0f} s; {self._how()}")

    def bucket_done(self) -> None:
        """Called when the first bucket is written: the measuring time per run is known."""
        if self.rate is None or not self.marks:
            return
        runs = sum(c.num_runs for c in self.pending[self.first.index])
        self.measure_s = (time.perf_counter() - self.marks[-1][0]) / max(1, runs)
        left = self._total(self.measure_s) - self._bucket_s(self.first.index, self.measure_s)
        self.echo(f"estimated time left: {left:.0f} s (measuring {self.measure_s:.2f} s per run)")

    def _bucket_s(self, index: int, measure_s: float) -> float:
        cells = self.pending[index]
        runs = sum(c.num_runs for c in cells)
        return self.compile_s + _work(cells) / self.rate + runs * measure_s

    def _total(self, measure_s: float) -> float:
        return sum(self._bucket_s(i, measure_s) for i in self.pending)

    def _how(self) -> str:
        return (
            f"warm-up on bucket {self.first.index}: compile {self.compile_s:.1f} s per program, "
            "a rough guide that the bars refine"
        )


# ---------------------------------------------------------------------------- running cells


def run_bucket(
    plan_: Plan,
    bucket: Bucket,
    directory: Path,
    context: TrainContext,
    axes: Sequence[str],
) -> list[dict[str, Any]]:
    """Train and measure the pending cells of ``bucket`` as one program, write each cell (or, in
    a multi-host job, this process's part of it) and return the records written."""
    done = store.finished_cells(directory)
    pending = [c for c in bucket.cells if c.id not in done]
    if not pending:
        return []
    started = time.perf_counter()
    outcomes = run_paper(plan_.paper, [c.setting for c in pending], context)
    wall = (time.perf_counter() - started) / len(pending)
    written = []
    for cell, outcome in zip(pending, outcomes):
        record = cell_record(
            plan_.paper, cell.setting, cell.index, axes, outcome.runs, plan_.paper.theorems, wall
        )
        if context.process_count > 1:
            write_part(directory, record, outcome.arrays, context.process_index)
        else:
            store.write_cell(directory, record, outcome.arrays)
            written.append(record)
    return written


def write_part(
    directory: Path, record: Mapping[str, Any], arrays: Mapping[str, Any], process: int
) -> None:
    """A multi-host process's share of a cell: ``parts/<cell>.p<k>.json`` (+ arrays)."""
    part = dict(record, cell=f"{record['cell']}.p{process}")
    store.write_cell(directory / PARTS, part, arrays)


def merge_parts(directory: Path, cell: Cell, process_count: int, timeout_s: float = 3600.0) -> bool:
    """Process 0 of a multi-host job: wait for every process's part of ``cell`` and write the
    merged cell (runs and checks in run order, arrays concatenated in run order)."""
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
    store.write_cell(directory, merged, merged_arrays)
    return True


def my_buckets(buckets: Sequence[Bucket], shard: tuple[int, int] | None) -> list[Bucket]:
    """The buckets of share i of n (bucket b goes to share b mod n); all without ``shard``."""
    if shard is None:
        return list(buckets)
    index, count = shard
    return [b for b in buckets if b.index % count == index]


def parse_shard(text: str) -> tuple[int, int]:
    """``i/n`` -> (i, n) with 0 <= i < n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: write i/n, e.g. --shard 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r}: need 0 <= i < n")
    return index, count


def format_plan(
    plan_: Plan, directory: Path, mine: Sequence[Bucket], devices: Sequence[Any]
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
        left = sum(c.id not in done for c in bucket.cells)
        lines.append(f"  bucket {bucket.index}: {bucket.describe(axes)} ({left} cells left)")
    return "\n".join(lines)


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
) -> int:
    """Run every pending cell of ``grid`` into ``directory``; returns the number of cells
    written by this call. See the module docstring."""
    import jax

    directory = Path(directory)
    paper = get_paper(grid.paper)
    plan_ = plan(paper, grid)
    prepare_directory(directory, grid, extend)
    devices = list(jax.local_devices())
    mine = my_buckets(plan_.buckets, shard)
    echo(format_plan(plan_, directory, mine, devices))
    done = store.finished_cells(directory)
    todo = [b for b in mine if any(c.id not in done for c in b.cells)]
    if not todo:
        echo("nothing left to run")
        return 0
    if executor == "ray":
        from nc_jax.sweep_ray import run_on_ray

        return run_on_ray(plan_, todo, directory, address, run_group, echo)
    if executor != "local":
        raise ValueError(f"--executor must be local or ray, got {executor!r}")
    return _run_local(plan_, todo, directory, devices, run_group, progress, echo)


def _run_local(
    plan_: Plan,
    buckets: Sequence[Bucket],
    directory: Path,
    devices: Sequence[Any],
    run_group: int | None,
    progress: bool,
    echo: Callable[[str], None],
) -> int:
    import jax

    from nc_jax.checks.context import TrainContext  # the engine: loaded to train
    from nc_jax.progress import progress_bars

    axes = plan_.grid.names
    done = store.finished_cells(directory)
    sizes = {b.index: _run_steps(b, done) for b in buckets}
    written = 0
    with progress_bars(progress) as bars:
        say = bars.console.print if progress else echo
        estimator = Estimator(buckets, done, say)
        overall = bars.add_task("sweep (run-steps)", total=sum(sizes.values()))
        for bucket in buckets:
            group = choose_run_group(bucket, devices, run_group)
            label = f"bucket {bucket.index} ({bucket.num_runs} runs, group {group or 'all'})"
            task = bars.add_task(label, total=sizes[bucket.index])
            first = bucket is buckets[0]

            def advance(run_steps: int, task: int = task, first: bool = first) -> None:
                bars.advance(task, run_steps)
                bars.advance(overall, run_steps)
                if first:
                    estimator.chunk(run_steps)

            context = TrainContext(
                devices=list(devices),
                run_group=group,
                on_steps=advance,
                process_index=jax.process_index(),
                process_count=jax.process_count(),
            )
            records = run_bucket(plan_, bucket, directory, context, axes)
            if context.process_count > 1 and context.process_index == 0:
                pending = [c for c in bucket.cells if c.id not in done]
                written += sum(merge_parts(directory, c, context.process_count) for c in pending)
            written += len(records)
            bars.update(task, completed=sizes[bucket.index], description=label + " done")
            if first:
                estimator.bucket_done()
    return written


def _run_steps(bucket: Bucket, done: set[str]) -> int:
    return _run_steps_of([c for c in bucket.cells if c.id not in done])


def _work(cells: Sequence[Cell]) -> float:
    """Training work of ``cells``: runs x the paper's ``cost()`` of one run."""
    return sum(c.num_runs * setting_cost(c.setting) for c in cells)


def _run_steps_of(cells: Sequence[Cell]) -> int:
    """Runs x training steps (the Setting's ``steps``, 1 without one): the bars' unit."""
    return sum(c.num_runs * int(getattr(c.setting, "steps", 1)) for c in cells)


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
