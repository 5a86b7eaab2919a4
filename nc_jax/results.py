"""The one on-disk format of checked results, shared by ``nc-jax check`` and ``nc-jax sweep``.

A results directory holds:

- ``grid.json``: the paper, the resolved grid (``fixed`` values and ``axes``, each a list of
  values) and the format version. A single check run is a grid without axes.
- ``cells/<cell>.json``: one JSON line per finished cell: its id and index, the paper, the full
  setting (``config``), its grid coordinates (``point``), every run (per-run values, float64
  quantities, the step it diverged at or null), every check result (verdict, bound, measured,
  slack, hypotheses), the theorem records, wall time (``wall_time_s``: the time of the call that
  trained and measured the cell's bucket, divided among the cells it finished), versions of jax /
  jaxlib / nc-jax and the device kind.
- ``arrays/<cell>.npz``: the cell's arrays (engine trajectories, curves), leading run axis.

Every file is written atomically (temporary file + rename, mode 0644) and the arrays before the
cell line, so a cell line exists only for a complete cell and a killed writer never leaves a
partial result where a reader looks. A cell id is a hash of the paper and the full setting, so
the same cell gets the same id in every sweep (resume and ``--extend`` rely on it).
``load(DIR)`` returns a pandas DataFrame with one row per cell x run x check; ``load_runs(DIR)``
one row per cell x run with every quantity.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax.checks.contract import VERDICTS, RunRecord
from nc_jax.io import read_npz, write_atomic, write_json_atomic, write_npz_atomic

FORMAT = 1
CHECK_COLUMNS = (
    "check",
    "kind",
    "verdict",
    "bound",
    "measured",
    "slack",
    "trivial",
    "informative",
    "relation",
    "provenance",
    "failing",
    "diverged",
    "diverged_step",
    "wall_time_s",
)
GRID_FILE = "grid.json"
CELLS = "cells"
ARRAYS = "arrays"


def cell_id(paper: str, config: Mapping[str, Any]) -> str:
    """A stable id of a cell: 12 hex digits of the hash of the paper and its full setting."""
    text = json.dumps({"paper": paper, "config": config}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_grid(directory: Path, grid: Mapping[str, Any]) -> None:
    """Write the resolved grid (paper, fixed, axes) as ``grid.json``."""
    write_json_atomic(Path(directory) / GRID_FILE, {"format": FORMAT, **grid})


def read_grid(directory: Path) -> dict[str, Any]:
    """The resolved grid of a results directory.

    Raises:
        FileNotFoundError: when ``directory`` is not a results directory.
    """
    path = Path(directory) / GRID_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} is not a results directory (no {GRID_FILE}); pass the directory that "
            "nc-jax check --results or nc-jax sweep --out wrote"
        )
    return json.loads(path.read_text())


def cell_path(directory: Path, cell: str) -> Path:
    return Path(directory) / CELLS / f"{cell}.json"


def write_cell(directory: Path, record: Mapping[str, Any], arrays: Mapping[str, Any]) -> None:
    """Write one finished cell: its arrays first, then its JSON line (the commit point)."""
    directory = Path(directory)
    cell = record["cell"]
    write_npz_atomic(
        directory / ARRAYS / f"{cell}.npz", {k: np.asarray(v) for k, v in arrays.items()}
    )
    write_atomic(cell_path(directory, cell), (json.dumps(_jsonable(record)) + "\n").encode())


def finished_cells(directory: Path) -> set[str]:
    """Ids of the cells with a complete record (temporary files are never read)."""
    folder = Path(directory) / CELLS
    return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()


def read_cell(directory: Path, cell: str) -> dict[str, Any]:
    """The record of one finished cell (``cell``: its id)."""
    return json.loads(cell_path(directory, cell).read_text())


def read_cells(directory: Path) -> list[dict[str, Any]]:
    """Every finished cell record, in grid order."""
    records = [read_cell(directory, cell) for cell in finished_cells(directory)]
    return sorted(records, key=lambda r: r["index"])


def read_arrays(directory: Path, cell: str) -> dict[str, np.ndarray]:
    """The arrays of one cell (name -> array with a leading run axis)."""
    return read_npz(Path(directory) / ARRAYS / f"{cell}.npz")


def _jsonable(value: Any) -> Any:
    """Tuples as lists, non-finite floats as strings, NumPy scalars as Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _number(value: Any) -> Any:
    """A JSON value back as a float where it was a non-finite one ('inf', 'nan')."""
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def encode_runs(runs: Iterable[RunRecord]) -> list[dict[str, Any]]:
    """The ``runs`` of a cell record: each RunRecord as a JSON-ready dict (``write_cell`` turns
    non-finite quantities into strings)."""
    return [dataclasses.asdict(run) for run in runs]


def decode_runs(record: Mapping[str, Any]) -> list[RunRecord]:
    """The runs of a stored cell record, quantities back as floats ('inf', 'nan' included)."""
    return [
        RunRecord(
            r["index"],
            r["label"],
            r["params"],
            None
            if r["quantities"] is None
            else {k: _number(v) for k, v in r["quantities"].items()},
            r["diverged_step"],
        )
        for r in record["runs"]
    ]


def require_directory(directory: Path) -> Path:
    """``directory`` if it holds results (a grid.json), else a ValueError naming RESULTS_DIR."""
    if not (directory / GRID_FILE).is_file():
        raise ValueError(
            f"RESULTS_DIR {directory}: no {GRID_FILE}; give the directory of a sweep or of "
            "nc-jax check --results"
        )
    return directory


def grid_names(grid: Mapping[str, Any]) -> list[str]:
    """The keys that vary between the cells of a stored grid (its axes and zipped axes)."""
    return [*grid.get("axes", {}), *grid.get("zip", {})]


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _rows(records: Iterable[Mapping[str, Any]], axes: Iterable[str]) -> list[dict[str, Any]]:
    axes = list(axes)
    rows = []
    for record in records:
        point = {key: _hashable(record["config"][key]) for key in axes}
        runs = {run["index"]: run for run in record["runs"]}
        for result in record["checks"]:
            run = runs[result["run"]]
            failing = [h["name"] for h in result["hypotheses"] if not h["holds"]]
            rows.append(
                {
                    "cell": record["cell"],
                    "run": run["index"],
                    "label": run["label"],
                    **point,
                    **{key: _hashable(v) for key, v in run["params"].items()},
                    "check": result["theorem_id"],
                    "kind": result.get("kind", ""),
                    "verdict": result["verdict"],
                    "bound": _number(result["bound"]),
                    "measured": _number(result["measured"]),
                    "slack": _number(result["slack"]),
                    "trivial": _number(result.get("trivial", math.nan)),
                    "informative": result.get("informative"),
                    "relation": result["relation"],
                    "provenance": result["provenance"],
                    "failing": "; ".join(failing),
                    "diverged": run["diverged_step"] is not None,
                    "diverged_step": run["diverged_step"],
                    "wall_time_s": record["wall_time_s"],
                }
            )
    return rows


def load(directory: Path):
    """Checked results as a pandas DataFrame, one row per cell x run x check.

    Columns: cell, run, label, every grid axis, the run's per-run values (e.g. seed,
    learning_rate), check, kind (identity, consequence or claim), verdict, bound, measured,
    slack, trivial (the consequence's no-theorem reference), informative (True when the bound
    beats it, None for checks without one), relation, provenance, failing (the failing
    hypotheses), diverged, diverged_step, wall_time_s. A diverged run has a row per check
    (verdict vacuous, failing 'the run trained without diverging').
    """
    import pandas as pd

    axes = grid_names(read_grid(directory))
    rows = _rows(read_cells(directory), axes)
    return (
        pd.DataFrame(rows)
        if rows
        else pd.DataFrame(columns=["cell", "run", "label", *axes, *CHECK_COLUMNS])
    )


def load_runs(directory: Path):
    """Every run's quantities as a pandas DataFrame, one row per cell x run (columns: cell, run,
    label, every grid axis, the per-run values, diverged_step and every quantity)."""
    import pandas as pd

    axes = grid_names(read_grid(directory))
    rows = []
    for record in read_cells(directory):
        point = {key: _hashable(record["config"][key]) for key in axes}
        for run in record["runs"]:
            quantities = {k: _number(v) for k, v in (run["quantities"] or {}).items()}
            rows.append(
                {
                    "cell": record["cell"],
                    "run": run["index"],
                    "label": run["label"],
                    **point,
                    **{key: _hashable(v) for key, v in run["params"].items()},
                    "diverged_step": run["diverged_step"],
                    **quantities,
                }
            )
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["cell", "run", "label", *axes])


def most_common_failing(failing) -> str:
    """The hypothesis that fails most often in a ``failing`` column ('; '-joined names per
    row); '' when none fails."""
    names = [n for text in failing if isinstance(text, str) for n in text.split("; ") if n]
    return max(dict.fromkeys(names), key=names.count) if names else ""


def verdict_counts(checks, check_id: str, by: str | list[str]):
    """Per value of column ``by`` (or per combination of several columns), the verdicts of
    ``check_id`` in a ``load`` DataFrame as "holds/violated/vacuous" counts (a pandas Series of
    strings, indexed by ``by``)."""
    picked = checks[checks["check"] == check_id]
    return picked.groupby(by)["verdict"].apply(
        lambda v: "/".join(str(int((v == name).sum())) for name in VERDICTS)
    )


def summary_rows(table) -> list[dict[str, Any]]:
    """Per check, from a ``load`` DataFrame: its kind; runs that hold, are violated, are
    vacuous; informative runs ("k/n"; '-' for checks without a trivial reference); the range of
    the slack (measured / bound) over the non-vacuous runs; the most common failing hypothesis."""
    rows = []
    for check, runs in table.groupby("check", sort=False):
        counts = runs["verdict"].value_counts()
        slack = runs.loc[runs["verdict"] != "vacuous", "slack"].astype(float)
        slack = slack[np.isfinite(slack)]
        flags = runs["informative"].dropna() if "informative" in runs else []
        rows.append(
            {
                "check": check,
                "kind": runs["kind"].iloc[0] if "kind" in runs else "",
                "holds": int(counts.get("holds", 0)),
                "violated": int(counts.get("violated", 0)),
                "vacuous": int(counts.get("vacuous", 0)),
                "informative": (
                    f"{int(sum(bool(f) for f in flags))}/{len(runs)}" if len(flags) else "-"
                ),
                "slack": f"{slack.min():.3g} .. {slack.max():.3g}" if len(slack) else "-",
                "failing": most_common_failing(runs["failing"]) if "failing" in runs else "",
            }
        )
    return rows


def summarize(table) -> str:
    """``summary_rows`` as the text table the runner and the sweep print; where a check is
    vacuous on some run, a last column names the hypothesis that failed most often."""
    rows = summary_rows(table)
    width = max([len("check"), *(len(c) for c in table["check"])])
    slack_width = max([len("slack range"), *(len(row["slack"]) for row in rows)])
    failing = any(row["failing"] for row in rows)
    lines = [
        f"{'check':<{width}} {'kind':<11} {'holds':>6} {'violated':>9} {'vacuous':>8} "
        f"{'informative':>12}  {'slack range':<{slack_width}}"
        + ("  failing hypothesis (most common)" if failing else "")
    ]
    for row in rows:
        lines.append(
            f"{row['check']:<{width}} {row['kind']:<11} {row['holds']:>6} "
            f"{row['violated']:>9} {row['vacuous']:>8} {row['informative']:>12}  "
            f"{row['slack']:<{slack_width}}" + (f"  {row['failing']}" if failing else "")
        )
    return "\n".join(line.rstrip() for line in lines)
