"""The results directory of a sweep: its grid file checked against the grid swept into it
(resume, ``--extend``), and what it holds (``nc-jax sweep --status DIR``).

The directory's format is nc_jax.results: ``grid.json`` (the Grid as data), one JSON line per
finished cell and its arrays, each written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from nc_jax import results as store
from nc_jax.sweep.grid import Grid, cells, paper_of


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
    grid = Grid.from_data(store.read_grid(directory))
    paper = paper_of(grid)
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
        lines.append("left: " + "; ".join(c.describe() for c in left[:8]))
        if len(left) > 8:
            lines[-1] += f"; ... ({len(left) - 8} more)"
    return "\n".join(lines)
