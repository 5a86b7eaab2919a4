"""Bound-vs-measured plots of a results directory (nc_jax.results: a sweep's or a single
``nc-jax check`` run's), read from disk, never retrained. ``nc-jax plot DIR`` writes them.

- ``bound_vs_axis``: one panel per check, the bound, the measured value and (for a consequence)
  the trivial reference against a grid axis (e.g. ``widths[0]``, the first width), medians over
  the runs and a band from the smallest to the largest measurement; violated runs in red;
  positions where every run is vacuous shaded and labelled with the hypothesis that failed most
  often; log scales where values span decades;
- ``tightness_atlas``: the slack (measured / bound) of every check over two grid axes as
  heatmaps, vacuous cells marked "vac" and cells where the bound is no better than its trivial
  reference marked "uninf.";

PNG and PDF each, in a colour-blind-safe palette (Okabe and Ito), sized for a paper's column
width (3.4 in) per panel.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax import results as store

OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "grey": "#999999",
}
PANEL_INCHES = (3.4, 2.6)
_INDEXED = re.compile(r"^(?P<name>\w+)\[(?P<index>-?\d+)\]$")


def axis_values(table: Any, axis: str) -> Any:
    """The values of ``axis`` per row of a ``results.load`` table: a column name, or
    ``name[i]`` for element i of a list-valued column (``widths[0]``: the first width).

    Raises:
        ValueError: naming the unknown axis and the columns there are.
    """
    match = _INDEXED.match(axis)
    name = match["name"] if match else axis
    if name not in table.columns:
        raise ValueError(
            f"--x/--y {axis}: no such column; grid axes and run values here: "
            f"{', '.join(c for c in table.columns if c not in store.CHECK_COLUMNS)}"
        )
    values = table[name]
    if match:
        index = int(match["index"])
        values = values.map(lambda v: v[index] if isinstance(v, (list, tuple)) else math.nan)
    return values


def _spans_decades(values: Sequence[float]) -> bool:
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    return (
        bool(finite)
        and min(v for v in values if math.isfinite(v)) > 0
        and (max(finite) / min(finite) > 30)
    )


def panel_grid(count: int) -> tuple[Any, list[Any]]:
    """A figure of ``count`` panels, three per row, each PANEL_INCHES; the unused ones hidden.
    Returns (figure, the ``count`` axes in reading order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(1, min(3, count))
    rows = max(1, math.ceil(count / columns))
    width, height = PANEL_INCHES
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:count])


def _style(ax: Any, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, lw=0.5)


def bound_vs_axis_figure(table: Any, axis: str, checks: Sequence[str] | None = None) -> Any:
    """A figure with one panel per check: bound and measured against ``axis`` (see the module
    docstring). The panel's lines, in order: the median bound, the median measurement (their
    x the sorted axis values where some run is not vacuous) and, for a consequence, the median
    trivial reference (a bound above it for "<=", below it for ">=", is uninformative)."""
    table = table.assign(_x=axis_values(table, axis))
    ids = list(dict.fromkeys(table["check"])) if checks is None else list(checks)
    fig, axes = panel_grid(len(ids))
    for ax, check in zip(axes, ids):
        _panel(ax, table[table["check"] == check], check, axis)
    fig.tight_layout()
    return fig


def _panel(ax: Any, picked: Any, check: str, axis: str) -> None:
    kind = picked["kind"].iloc[0] if len(picked) else ""
    relation = picked["relation"].iloc[0] if len(picked) else "<="
    live = picked[picked["verdict"] != "vacuous"]
    grouped = live.groupby("_x")
    xs = np.asarray(sorted(grouped.groups), dtype=float)
    bound = grouped["bound"].median().reindex(xs).to_numpy(dtype=float)
    measured = grouped["measured"].median().reindex(xs).to_numpy(dtype=float)
    low = grouped["measured"].min().reindex(xs).to_numpy(dtype=float)
    high = grouped["measured"].max().reindex(xs).to_numpy(dtype=float)
    ax.plot(xs, bound, "-", color=OKABE_ITO["blue"], marker="s", ms=3, label=f"bound ({relation})")
    ax.plot(xs, measured, "--", color=OKABE_ITO["orange"], marker="o", ms=3, label="measured")
    ax.fill_between(xs, low, high, color=OKABE_ITO["orange"], alpha=0.25, lw=0)
    trivial = grouped["trivial"].median().reindex(xs).to_numpy(dtype=float)
    if np.isfinite(trivial).any():
        ax.plot(xs, trivial, ":", color=OKABE_ITO["grey"], label="trivial reference")
    bad = live[live["verdict"] == "violated"]
    if len(bad):
        ax.scatter(
            bad["_x"],
            bad["measured"],
            color=OKABE_ITO["vermillion"],
            s=14,
            zorder=3,
            label="violated",
        )
    _shade_vacuous(ax, picked)
    everything = [*picked["_x"].dropna().astype(float)]
    if _spans_decades(everything):
        ax.set_xscale("log")
    if _spans_decades([*bound, *measured, *low, *trivial[np.isfinite(trivial)]]):
        ax.set_yscale("log")
    _style(ax, axis, "value")
    ax.set_title(f"{check.split('.', 1)[-1]} [{kind}]", fontsize=8)
    ax.legend(fontsize=6, loc="best")


def _shade_vacuous(ax: Any, picked: Any) -> None:
    """Shade the positions where every run is vacuous, labelled with the most common failing
    hypothesis there."""
    for x, runs in picked.groupby("_x"):
        if (runs["verdict"] == "vacuous").all():
            failing = runs["failing"].str.split("; ").explode()
            reason = failing[failing != ""].mode()
            ax.axvline(float(x), color=OKABE_ITO["grey"], lw=6, alpha=0.3)
            text = reason.iloc[0] if len(reason) else "vacuous"
            ax.annotate(
                f"vacuous: {text}"[:60],
                (float(x), 0.5),
                xycoords=("data", "axes fraction"),
                rotation=90,
                fontsize=5,
                ha="center",
                va="center",
            )


def tightness_atlas_figure(table: Any, x_axis: str, y_axis: str) -> Any:
    """Heatmaps of the median slack per (x, y) grid point, one per check; the image data of
    each panel is that matrix (rows: sorted y values, columns: sorted x values)."""
    table = table.assign(_x=axis_values(table, x_axis), _y=axis_values(table, y_axis))
    ids = list(dict.fromkeys(table["check"]))
    xs, ys = sorted(table["_x"].unique()), sorted(table["_y"].unique())
    fig, axes = panel_grid(len(ids))
    for ax, check in zip(axes, ids):
        picked = table[table["check"] == check]
        matrix, marks = atlas_matrix(picked, xs, ys)
        finite = matrix[np.isfinite(matrix) & (matrix > 0)]
        image = np.log10(matrix) if finite.size else matrix
        shown = ax.imshow(image, origin="lower", aspect="auto", cmap="cividis")
        for (row, column), mark in marks.items():
            ax.text(
                column,
                row,
                mark,
                ha="center",
                va="center",
                fontsize=6,
                color="black",
                bbox={"facecolor": "white", "alpha": 0.6, "lw": 0, "pad": 0.5},
            )
        ax.set_xticks(range(len(xs)), [str(x) for x in xs], fontsize=6)
        ax.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=6)
        _style(ax, x_axis, y_axis)
        ax.set_title(f"{check.split('.', 1)[-1]}: log10 slack", fontsize=8)
        fig.colorbar(shown, ax=ax).ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def atlas_matrix(picked: Any, xs: Sequence[Any], ys: Sequence[Any]) -> tuple[np.ndarray, dict]:
    """(len(ys), len(xs)) median slack over the non-vacuous runs of each grid point (NaN when
    every run is vacuous) and the marks: "vac" (all vacuous) or "uninf." (no run informative,
    for a check with a trivial reference)."""
    matrix = np.full((len(ys), len(xs)), np.nan)
    marks = {}
    for (x, y), runs in picked.groupby(["_x", "_y"]):
        row, column = ys.index(y), xs.index(x)
        live = runs[runs["verdict"] != "vacuous"]
        if len(live) == 0:
            marks[row, column] = "vac"
            continue
        matrix[row, column] = float(np.median(live["slack"].astype(float)))
        flags = runs["informative"].dropna()
        if len(flags) and not flags.astype(bool).any():
            marks[row, column] = "uninf."
    return matrix, marks


def save(fig: Any, stem: Path) -> list[Path]:
    """``stem``.png and ``stem``.pdf; the figure is closed."""
    import matplotlib.pyplot as plt

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths


def plot_directory(
    directory: Path, x_axis: str | None, y_axis: str | None, out: Path | None
) -> list[Path]:
    """Every plot of a results directory into ``out`` (default DIR/plots): bound vs ``x_axis``
    (default: the first grid axis, or the seed for a single run), and the tightness atlas when
    ``y_axis`` is given."""
    table = store.load(directory)
    if table.empty:
        raise ValueError(f"RESULTS_DIR {directory}: no finished cells to plot")
    names = store.grid_names(store.read_grid(directory))
    x_axis = x_axis or (names[0] if names else "seed")
    out = out or directory / "plots"
    label = x_axis.replace("[", "_").replace("]", "")
    written = save(bound_vs_axis_figure(table, x_axis), out / f"bound_vs_{label}")
    if y_axis:
        atlas = tightness_atlas_figure(table, x_axis, y_axis)
        written += save(atlas, out / f"tightness_{label}_{y_axis.replace('[', '_').strip(']')}")
    return written


def main(args: Any) -> int:
    """``nc-jax plot RESULTS_DIR [--x AXIS] [--y AXIS] [--out DIR]``."""
    directory = store.require_directory(Path(args.results_dir))
    for path in plot_directory(directory, args.x, args.y, Path(args.out) if args.out else None):
        print(path)
    return 0
