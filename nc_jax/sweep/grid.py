"""Grid files: the TOML tables of a sweep, validated into a Grid, and the Grid's cells.

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
value. The table without a profile is the full mode. A grid of axes of lengths ``a1, ..., ak``
and ``z`` zipped rows has ``a1 * ... * ak * z`` cells, each one Setting of the paper.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from nc_jax import results as store
from nc_jax.checks.contract import Paper, get_paper, setting_runs
from nc_jax.checks.options import make_setting, setting_to_data

PROFILES = ("quick", "paper_scale")  # the override tables a grid file may hold
GRID_TABLES = ("paper", "fixed", "grid", "zip", *PROFILES)


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
    setting: Any  # the paper's Setting dataclass
    point: Mapping[str, Any]

    @property
    def num_runs(self) -> int:
        return setting_runs(self.setting)

    def describe(self) -> str:
        """The grid coordinates as ``key=value`` words."""
        return " ".join(f"{k}={show_value(v)}" for k, v in self.point.items()) or "(single cell)"


def show_value(value: Any) -> str:
    """A grid value as text: a list as comma-separated items."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def paper_of(grid: Grid) -> Paper:
    """The registered paper that ``grid`` sweeps. Every paper lookup of nc_jax.sweep goes
    through this module's ``get_paper`` (the one place a test replaces it)."""
    return get_paper(grid.paper)


SHIPPED_GRIDS = Path(__file__).resolve().parents[1] / "grids"  # package data (nc_jax/grids)


def shipped_grids() -> dict[str, Path]:
    """The grids nc-jax ships, by name (the file's stem, e.g. ``jacot2025_width``), sorted."""
    return {path.stem: path for path in sorted(SHIPPED_GRIDS.glob("*.toml"))}


def _find_grid(path_or_name: str | Path) -> Path | None:
    """``grid_path`` without the error: None for neither a file nor a shipped grid's name."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    return shipped_grids().get(str(path_or_name).removesuffix(".toml").replace("/", "_"))


def grid_path(path_or_name: str | Path) -> Path:
    """A grid file given by its path, or a shipped grid given by its name: ``jacot2025_width``
    or ``jacot2025/width`` (the paper, a slash, the rest). A path that exists wins.

    Raises:
        ValueError: neither a file nor a shipped grid's name (the message lists the names).
    """
    path = _find_grid(path_or_name)
    if path is None:
        raise ValueError(
            f"GRID: no file {Path(path_or_name)} and no shipped grid {str(path_or_name)!r}; pass a "
            f"grid file or one of the shipped grids (nc-jax sweep --list): "
            f"{', '.join(shipped_grids())}"
        )
    return path


def grid_table(name: str | Path) -> Callable[[Path], str] | None:
    """The table of a shipped grid, given as ``grid_path`` takes it (``jacot2025/width`` or
    ``jacot2025_width``): the function of its paper's ``Paper.tables`` under the grid's short
    name (its name without the paper's prefix: ``width``), from a finished results directory to
    the grid's answer as text. None for a grid with no table, a grid file of the user's own and
    a name that is neither (``grid_path`` says why). Loads only the grid's paper (``get_paper``).
    """
    path = _find_grid(name)
    if path is None or path.resolve().parent != SHIPPED_GRIDS:
        return None
    paper = tomllib.loads(path.read_text())["paper"]
    return get_paper(paper).tables.get(path.stem.removeprefix(f"{paper}_"))


def read_grid_file(
    path: str | Path, profile: str | None = None, overrides: Sequence[str] = ()
) -> Grid:
    """Read a grid file (a path, or the name of a shipped grid: ``grid_path``), apply the table
    of ``profile`` (one of PROFILES, or None for the full mode) and then the ``--set key=value``
    overrides.

    Raises:
        ValueError: a missing file, bad TOML, an unknown table or key, an empty axis, a value of
            the wrong type or out of range (every cell is validated here, before training).
    """
    path = grid_path(path)
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
