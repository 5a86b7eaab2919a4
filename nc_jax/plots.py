"""Bound-vs-measured plots of a results directory (nc_jax.results: a sweep's or a single
``nc-jax check`` run's), read from disk, never retrained. ``nc-jax plot DIR`` writes them.

- ``bound_vs_axis``: one panel per check, the bound, the measured value and (for a consequence)
  the trivial reference against a grid axis (e.g. ``widths[0]``, the first width), medians over
  the runs and a band from the smallest to the largest measurement; violated runs in red;
  positions where every run is vacuous shaded and labelled with the hypothesis that failed most
  often; log scales where values span decades;
- ``layer_profile``: in the style of Jacot et al.'s Figure 1, NC1, NC2, balancedness and
  negativity of every layer at the end of training, mean and 1-std band over the runs of each
  cell, the linear head told apart (shaded from layer L1 + 1 on, when the runs report L1);
- ``class_means``: the class-mean cosine matrices the cells stored (``gram/...``; Figure 1,
  bottom, of Jacot et al.), mean over the first cell's runs, one heatmap per layer;
- ``training_curves``: every ``curve/...`` array of the cells (e.g. eps2 along training against
  the (1 - eta lambda)^(2t) envelope), median over the runs, against the logged step;
- ``tightness_atlas``: the slack (measured / bound) of every check over two grid axes as
  heatmaps, vacuous cells marked "vac" and cells where the bound is no better than its trivial
  reference marked "uninf.";
- ``regime_map``: over the same two axes, where each check speaks: informative, holding but
  no better than its trivial reference, or the hypothesis that fails first, as a categorical
  map (the regime atlas); the rows of both split by every other grid axis that varies, so no
  heatmap pools different settings;

PNG and PDF each, in a colour-blind-safe palette (Okabe and Ito), sized for a paper's column
width (3.4 in) per panel.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax import results as store
from nc_jax.checks.contract import CheckResult, matches

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
_LENGTH = re.compile(r"^len\((?P<name>\w+)\)$")


def axis_values(table: Any, axis: str) -> Any:
    """The values of ``axis`` per row of a ``results.load`` table: a column name, ``name[i]``
    for element i of a list-valued column (``widths[0]``: the first width) or ``len(name)`` for
    its length (``len(widths)``: the depth).

    Raises:
        ValueError: naming the unknown axis and the columns there are.
    """
    length = _LENGTH.match(axis)
    if length:
        return axis_values(table, length["name"]).map(len)
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


def x_scale(values: Sequence[float]) -> tuple[str, float]:
    """The x scale of a panel and, for "symlog", its linear threshold: "log" when the positions
    are positive and span decades; "symlog" (linear up to the smallest positive position, then
    logarithmic) when they are 0 and positive values spanning decades, e.g. weight decays 0,
    1e-3, ..., 0.1; else "linear"."""
    finite = [v for v in values if math.isfinite(v)]
    if _spans_decades(finite):
        return "log", math.nan
    positive = [v for v in finite if v > 0]
    if finite and min(finite) == 0 and len(positive) > 1 and max(positive) / min(positive) > 30:
        return "symlog", min(positive)
    return "linear", math.nan


def panel_grid(count: int, rows_per_panel: int = 0) -> tuple[Any, list[Any]]:
    """A figure of ``count`` panels, three per row, each PANEL_INCHES (for a heatmap of more
    than 10 rows, ``rows_per_panel``: 0.25 in per row, two wider panels per row); the unused
    ones hidden.
    Returns (figure, the ``count`` axes in reading order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tall = rows_per_panel > 10  # long heatmap rows carry long tick labels: two wider columns
    columns = max(1, min(2 if tall else 3, count))
    rows = max(1, math.ceil(count / columns))
    width, height = PANEL_INCHES
    width, height = (1.6 * width if tall else width), max(height, 0.25 * rows_per_panel)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.ravel()[count:]:
        ax.set_visible(False)
    return fig, list(axes.ravel()[:count])


def _log_scale_if_positive(ax: Any) -> None:
    """A log y axis when every plotted value is positive (NaNs ignored)."""
    lows = [np.nanmin(line.get_ydata()) for line in ax.get_lines()]
    if lows and np.nanmin(lows) > 0:
        ax.set_yscale("log")


def _style(ax: Any, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(which="both", labelsize=7)
    ax.grid(alpha=0.3, lw=0.5)


def bound_vs_axis_figure(table: Any, axis: str) -> Any:
    """A figure with one panel per check: bound and measured against ``axis`` (see the module
    docstring). The panel's lines, in order: the median bound, the median measurement (their
    x the sorted axis values where some run is not vacuous) and, for a consequence, the median
    trivial reference (a bound above it for "<=", below it for ">=", is uninformative)."""
    table = table.assign(_x=axis_values(table, axis))
    ids = list(dict.fromkeys(table["check"]))
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
    everything = [*picked["_x"].dropna().astype(float)]
    scale, linthresh = x_scale(everything)
    if scale == "log":
        ax.set_xscale("log")
    elif scale == "symlog":
        ax.set_xscale("symlog", linthresh=linthresh)
    if everything:  # every position, also those where all runs are vacuous
        low_x, high_x = min(everything), max(everything)
        if scale == "log":  # a margin of a fifth of the outer values, on the log scale
            ax.set_xlim(low_x / 1.2, high_x * 1.2)
        elif scale == "symlog":  # 0, then decades from the smallest positive value
            ax.set_xlim(-0.5 * linthresh, high_x * 1.2)
        else:
            pad = 0.05 * (high_x - low_x) or 0.5 * (abs(low_x) or 1.0)
            ax.set_xlim(low_x - pad, high_x + pad)
    _shade_vacuous(ax, picked)
    positions = sorted(set(everything))
    if 0 < len(positions) <= 8:  # few grid values: a tick at each, compactly labelled
        ax.set_xticks(positions, [f"{v:.4g}" for v in positions], rotation=30)
        ax.minorticks_off()
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
            ax.axvline(float(x), color=OKABE_ITO["grey"], lw=6, alpha=0.3)
            text = store.most_common_failing(runs["failing"]) or "vacuous"
            ax.annotate(
                f"vacuous: {text}"[:60],
                (float(x), 0.5),
                xycoords=("data", "axes fraction"),
                rotation=90,
                fontsize=5,
                ha="center",
                va="center",
            )


LAYER_METRICS = (
    ("layer/nc1_trace_ratio", "NC1 (tr S_W / tr S_B)"),
    ("layer/nc2_kappa", "NC2 (kappa of class means)"),
    ("layer/balancedness", "balancedness (W_l, W_l+1)"),
    ("layer/negativity", "negativity"),
)


def _cell_label(record: dict[str, Any], names: Sequence[str]) -> str:
    point = record.get("point", {})
    return ", ".join(f"{k}={_axis_label(point[k])}" for k in names if k in point) or "all runs"


def mean_and_std_over_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over axis 0 (the runs) ignoring NaN runs (diverged ones,
    layers where a metric is undefined); NaN, without a warning, where every run is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0), np.nanstd(values, axis=0)


def layer_profile_figure(directory: Path) -> Any:
    """Per-layer metrics at the last log, mean and 1-std band over each cell's runs (NaN runs,
    e.g. diverged ones, left out); one line per cell. Each panel's lines are the cells' means
    in grid order; x is the layer, 1..L. None when no layer metrics were logged."""
    records = store.read_cells(directory)
    names = store.grid_names(store.read_grid(directory))
    arrays = [store.read_arrays(directory, r["cell"]) for r in records]
    present = [(key, title) for key, title in LAYER_METRICS if any(key in a for a in arrays)]
    if not present:
        return None
    fig, axes = panel_grid(len(present))
    colours = list(OKABE_ITO.values())
    depth = max(np.shape(a[key])[-1] for a in arrays for key, _ in present if key in a)
    for ax, (key, title) in zip(axes, present):
        for number, (record, cell) in enumerate(zip(records, arrays)):
            if key not in cell:
                continue
            final = np.asarray(cell[key], dtype=float)[:, -1, :]  # (runs, layers)
            mean, std = mean_and_std_over_runs(final)
            layers = np.arange(1, final.shape[1] + 1)
            colour = colours[number % len(colours)]
            ax.plot(layers, mean, "-o", ms=3, color=colour, label=_cell_label(record, names))
            ax.fill_between(layers, mean - std, mean + std, color=colour, alpha=0.2, lw=0)
        first_linear = _first_linear_layer(records)
        if first_linear is not None:
            ax.axvspan(first_linear - 0.5, depth + 0.5, color=OKABE_ITO["grey"], alpha=0.12)
        ax.set_xlim(0.5, depth + 0.5)
        ax.set_xticks(range(1, depth + 1))
        _log_scale_if_positive(ax)
        _style(ax, "layer l" + (" (shaded: linear head)" if first_linear else ""), title)
        ax.set_title(title, fontsize=8)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def _first_linear_layer(records: Sequence[dict[str, Any]]) -> int | None:
    """L1 + 1 when every measured run of every cell reports the same L1 (its quantities);
    None otherwise (cells of different depths share no head boundary)."""
    depths = {
        run["quantities"].get("L1")
        for record in records
        for run in record["runs"]
        if run.get("quantities")
    }
    return int(depths.pop()) + 1 if len(depths) == 1 and None not in depths else None


HEAD_LAYERS = (("first linear layer Z_{L1+1}", "first"), ("classifier input Z_{L-1}", "last"))


def head_layer_values(directory: Path, axis: str, by: str | None = None) -> Any:
    """One row per trained run that reports L1 and logged its layer metrics: ``_x`` (the value
    of ``axis``), ``_by`` (the value of ``by``, when given), and, for NC1 and NC2 of
    LAYER_METRICS, the engine's last log at the first linear layer (features Z_{L1+1}, column
    "<key> first") and at the classifier's input (Z_{L-1}, "<key> last"); the layers of the
    paper's Figure 2, whatever the depths of the cells. An empty DataFrame when no run
    qualifies."""
    import pandas as pd

    runs = store.load_runs(directory)
    if runs.empty or "L1" not in runs:
        return pd.DataFrame()
    runs = runs.assign(_x=axis_values(runs, axis))
    if by is not None:
        runs = runs.assign(_by=axis_values(runs, by))
    rows = []
    for cell, group in runs.groupby("cell", sort=False):
        arrays = store.read_arrays(directory, cell)
        for _, run in group[group["L1"].notna()].iterrows():
            row = {"_x": run["_x"]} | ({"_by": run["_by"]} if by is not None else {})
            for key, _ in LAYER_METRICS[:2]:
                if key in arrays:
                    final = np.asarray(arrays[key], dtype=float)[int(run["run"]), -1]
                    row[f"{key} first"] = final[int(run["L1"])]
                    row[f"{key} last"] = final[-2]
            rows.append(row)
    return pd.DataFrame([r for r in rows if any(k.startswith("layer/") for k in r)])


LINE_STYLES = ("-", "--", ":", "-.")  # one per value of a figure's ``by`` axis, in order


def _axis_label(value: Any) -> str:
    """A grid value as a legend shows it: numbers to 4 significant digits, lists with repeats
    run-length encoded ([256, 64, 64, 64, 10] -> "256, 64 x 3, 10"), anything else as text."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        runs = [(key, len(list(group))) for key, group in itertools.groupby(value)]
        parts = [_axis_label(key) + (f" x {count}" if count > 1 else "") for key, count in runs]
        return "[" + ", ".join(parts) + "]"
    return str(value)


def head_layers_figure(directory: Path, axis: str, by: str | None = None) -> Any:
    """NC1 and NC2 of the first linear layer and of the classifier's input against ``axis``
    (the paper's Figure 2 in kind): one panel per metric, per layer the median over the trained
    runs at each axis value (colours in HEAD_LAYERS order) and their range as a band; with
    ``by``, one line per value of that axis (line styles in LINE_STYLES order, e.g. the
    paper's two weight decays). None when no run logged layer metrics."""
    values = head_layer_values(directory, axis, by)
    if values.empty:
        return None
    groups = [(None, values)] if by is None else list(values.groupby("_by", sort=True))
    fig, axes = panel_grid(2)
    colours = (OKABE_ITO["blue"], OKABE_ITO["vermillion"])
    for ax, (key, title) in zip(axes, LAYER_METRICS[:2]):
        for colour, (label, where) in zip(colours, HEAD_LAYERS):
            column = f"{key} {where}"
            if column not in values:
                continue
            for style, (value, group) in zip(itertools.cycle(LINE_STYLES), groups):
                grouped = group.groupby("_x")[column]
                xs = np.asarray(sorted(grouped.groups), dtype=float)
                median = grouped.median().reindex(xs).to_numpy(dtype=float)
                low = grouped.min().reindex(xs).to_numpy(dtype=float)
                high = grouped.max().reindex(xs).to_numpy(dtype=float)
                name = label if by is None else f"{label}, {by} = {_axis_label(value)}"
                ax.plot(xs, median, style, marker="o", ms=3, color=colour, label=name)
                ax.fill_between(xs, low, high, color=colour, alpha=0.15, lw=0)
        _log_scale_if_positive(ax)
        _style(ax, axis, "median over runs (band: range)")
        ax.set_title(title, fontsize=8)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def class_means_figure(directory: Path) -> Any:
    """The first cell's ``gram/<layer>`` arrays (R, K, K), averaged over its runs (NaN runs
    left out), as heatmaps on [-1, 1]; the image data of each panel is that mean. None when no
    cell stored any."""
    records = store.read_cells(directory)
    arrays = store.read_arrays(directory, records[0]["cell"]) if records else {}
    grams = [k for k in arrays if k.startswith("gram/")]
    if not grams:
        return None
    fig, axes = panel_grid(len(grams))
    for ax, key in zip(axes, grams):
        mean, _ = mean_and_std_over_runs(np.asarray(arrays[key], dtype=float))
        shown = ax.imshow(mean, vmin=-1, vmax=1, cmap="PuOr")
        fig.colorbar(shown, ax=ax).ax.tick_params(labelsize=6)
        _style(ax, "class", "class")
        ax.grid(False)
        ax.set_title(f"class-mean cosines, {key.removeprefix('gram/')}", fontsize=8)
    fig.tight_layout()
    return fig


def training_curves_figure(directory: Path) -> Any:
    """Every ``curve/<name>`` array against the logged step (or its index), median over each
    cell's runs, one panel per cell (lines in the order of the arrays). None when there are no
    curves."""
    records = store.read_cells(directory)
    names = store.grid_names(store.read_grid(directory))
    cells = [(r, store.read_arrays(directory, r["cell"])) for r in records]
    cells = [(r, a) for r, a in cells if any(k.startswith("curve/") for k in a)]
    if not cells:
        return None
    fig, axes = panel_grid(len(cells))
    colours = list(OKABE_ITO.values())
    for ax, (record, arrays) in zip(axes, cells):
        curves = [k for k in arrays if k.startswith("curve/")]
        for number, key in enumerate(curves):
            values = np.asarray(arrays[key], dtype=float)
            median = np.nanmedian(values.reshape(len(values), -1), axis=0)
            steps = np.asarray(arrays["step"][0]) if "step" in arrays else None
            x = steps if steps is not None and len(steps) == len(median) else np.arange(len(median))
            style = ("-", "--", ":", "-.")[number % 4]
            ax.plot(
                x,
                median,
                style,
                color=colours[number % len(colours)],
                label=key.removeprefix("curve/"),
            )
        _log_scale_if_positive(ax)
        _style(ax, "training step", "median over runs")
        ax.set_title(_cell_label(record, names), fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _base_name(axis: str) -> str:
    """The column an axis reads: ``widths`` for ``widths[0]`` or ``len(widths)``."""
    match = _LENGTH.match(axis) or _INDEXED.match(axis)
    return match["name"] if match else axis


def _compact(value: Any) -> str:
    """A grid value as a short tick label: lists as 512-64-10."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return str(value)


def atlas_coordinates(
    table: Any, x_axis: str, y_axis: str, others: Sequence[str] = ()
) -> tuple[Any, list[Any], list[Any], str]:
    """``table`` with the atlas coordinates of each row: ``_x`` (the value of ``x_axis``) and
    ``_y``, the value of ``y_axis`` joined (" | ") with those of every axis in ``others`` that
    takes several values at one (x, y) point (so a heatmap never pools cells of different
    settings; an axis zipped with x or y adds nothing); the sorted x and y values and the y
    axis' label (the joined names)."""
    table = table.assign(_x=axis_values(table, x_axis), _y=axis_values(table, y_axis))
    used = {_base_name(x_axis), _base_name(y_axis)}
    split = []
    for axis in others:
        if axis in used:
            continue
        values = table.assign(_v=axis_values(table, axis).map(str))
        if values.groupby(["_x", "_y"])["_v"].nunique().max() > 1:
            split.append(axis)
    if not split:
        return table, sorted(table["_x"].unique()), sorted(table["_y"].unique()), y_axis
    raw = [table["_y"], *(axis_values(table, a) for a in split)]
    keys = list(zip(*(column.map(_sortable) for column in raw)))
    labels = [" | ".join(_compact(v) for v in values) for values in zip(*raw)]
    order = dict(sorted(zip(keys, labels)))  # numeric order of the values, not of the labels
    table = table.assign(_y=labels)
    return (
        table,
        sorted(table["_x"].unique()),
        list(dict.fromkeys(order.values())),
        " | ".join([y_axis, *split]),
    )


def _sortable(value: Any) -> tuple:
    """A sort key that orders numbers numerically and lists element by element."""
    if isinstance(value, (list, tuple)):
        return tuple(_sortable(v) for v in value)
    return (0, float(value), "") if isinstance(value, numbers.Real) else (1, 0.0, str(value))


def _heatmap_axes(ax: Any, xs: Sequence[Any], ys: Sequence[Any], x_axis: str, y_axis: str):
    ax.set_xticks(range(len(xs)), [str(x) for x in xs], fontsize=6)
    ax.set_yticks(range(len(ys)), [str(y) for y in ys], fontsize=6)
    _style(ax, x_axis, y_axis)


def _mark(ax: Any, row: int, column: int, text: str) -> None:
    ax.text(
        column,
        row,
        text,
        ha="center",
        va="center",
        fontsize=6,
        color="black",
        bbox={"facecolor": "white", "alpha": 0.6, "lw": 0, "pad": 0.5},
    )


def tightness_atlas_figure(table: Any, x_axis: str, y_axis: str, others: Sequence[str] = ()) -> Any:
    """Heatmaps of the median slack per (x, y) grid point, one per check; the image data of
    each panel is that matrix (rows: sorted y values, joined with the varying ``others`` as in
    ``atlas_coordinates``; columns: sorted x values)."""
    table, xs, ys, y_label = atlas_coordinates(table, x_axis, y_axis, others)
    ids = list(dict.fromkeys(table["check"]))
    fig, axes = panel_grid(len(ids), len(ys))
    for ax, check in zip(axes, ids):
        picked = table[table["check"] == check]
        matrix, marks = atlas_matrix(picked, xs, ys)
        finite = matrix[np.isfinite(matrix) & (matrix > 0)]
        image = np.log10(matrix) if finite.size else matrix
        shown = ax.imshow(image, origin="lower", aspect="auto", cmap="cividis")
        for (row, column), mark in marks.items():
            _mark(ax, row, column, mark)
        _heatmap_axes(ax, xs, ys, x_axis, y_label)
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


INFORMATIVE, UNINFORMATIVE, HOLDS = "informative", "holds, not informative", "holds"


def regime_category(runs: Any) -> tuple[str, str]:
    """The regime of one grid point of one check from its run rows: (category, label).
    INFORMATIVE when at least half of the runs beat the trivial reference; UNINFORMATIVE when
    the hypotheses hold on some run but fewer are informative (HOLDS for a check without a
    trivial reference); otherwise the hypothesis listed first most often among the runs'
    failing hypotheses (the check's own order). The label counts informative / applicable
    runs; it is empty for a failing hypothesis, which the map marks with a short code."""
    live = runs[runs["verdict"] != "vacuous"]
    if len(live):
        flags = live["informative"].dropna()
        if not len(flags):
            return HOLDS, f"{len(live)}/{len(runs)}"
        informative = int(flags.astype(bool).sum())
        category = INFORMATIVE if 2 * informative >= len(runs) else UNINFORMATIVE
        return category, f"{informative}/{len(live)}"
    first = [t.split("; ")[0] for t in runs["failing"] if isinstance(t, str) and t]
    name = max(dict.fromkeys(first), key=first.count) if first else "vacuous"
    return name, ""


def regime_map_figure(table: Any, x_axis: str, y_axis: str, others: Sequence[str] = ()) -> Any:
    """Where each check speaks, one categorical heatmap per check over (x, y)
    (``atlas_coordinates``): informative, holding but not informative, or the hypothesis that
    fails first (``regime_category``), each cell labelled; one legend of the categories."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    table, xs, ys, y_label = atlas_coordinates(table, x_axis, y_axis, others)
    ids = list(dict.fromkeys(table["check"]))
    found = {}
    for key, runs in table.groupby(["check", "_x", "_y"]):
        found[key] = regime_category(runs)
    fixed = [INFORMATIVE, UNINFORMATIVE, HOLDS]
    failing = sorted({c for c, _ in found.values()} - set(fixed))
    categories = fixed + failing
    codes = {name: f"h{i + 1}" for i, name in enumerate(failing)}  # marks name them briefly
    palette = [OKABE_ITO["green"], OKABE_ITO["sky"], OKABE_ITO["blue"]]
    others_colours = [OKABE_ITO[k] for k in ("orange", "vermillion", "purple", "grey")]
    palette += [others_colours[i % len(others_colours)] for i in range(len(failing))]
    cmap = ListedColormap(palette[: len(categories)])
    fig, axes = panel_grid(len(ids), len(ys))
    for ax, check in zip(axes, ids):
        image = np.full((len(ys), len(xs)), np.nan)
        for (name, x, y), (category, label) in found.items():
            if name != check:
                continue
            row, column = ys.index(y), xs.index(x)
            image[row, column] = categories.index(category)
            _mark(ax, row, column, codes.get(category) or label)
        ax.imshow(
            image,
            origin="lower",
            aspect="auto",
            cmap=cmap,
            vmin=-0.5,
            vmax=len(categories) - 0.5,
            interpolation="nearest",
        )
        _heatmap_axes(ax, xs, ys, x_axis, y_label)
        ax.set_title(f"{check.split('.', 1)[-1]}: where it speaks", fontsize=8)
    names = [f"{codes[c]}: fails first: {c}" if c in codes else c for c in categories]
    handles = [Patch(color=palette[i], label=c) for i, c in enumerate(names)]
    fig.legend(handles=handles, fontsize=6, loc="lower center", ncol=min(2, len(handles)))
    inches = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, min(0.5, 0.15 * math.ceil(len(handles) / 2) / inches), 1, 1))
    return fig


def save(fig: Any, stem: Path) -> list[Path]:
    """``stem``.png and ``stem``.pdf; the figure is closed."""
    import matplotlib.pyplot as plt

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths


def _file_label(axis: str) -> str:
    """An axis as part of a file name: widths[0] -> widths_0, len(widths) -> len_widths."""
    return re.sub(r"\W+", "_", axis).strip("_")


def default_axis(table: Any, names: Sequence[str]) -> str:
    """The first grid axis (the seed for a single run); for a list-valued axis, its length when
    the lengths differ (``len(widths)``), else its first element that differs (``widths[0]``)."""
    if not names:
        return "seed"
    name = names[0]
    if not len(table) or not isinstance(table[name].iloc[0], (list, tuple)):
        return name
    values = [tuple(v) for v in table[name]]
    if len({len(v) for v in values}) > 1:
        return f"len({name})"
    varying = [i for i in range(len(values[0])) if len({v[i] for v in values}) > 1]
    return f"{name}[{varying[0] if varying else 0}]"


def stored_figures(
    directory: Path, x_axis: str, y_axis: str | None = None
) -> list[tuple[str, str, Any]]:
    """(file stem, title, figure) of each plot drawn from what the cells stored beyond their
    checks (layer metrics, class-mean matrices, curves), those with data only; ``y_axis``
    splits the head-layer figure into one line per value."""
    candidates = (
        (
            f"head_layers_vs_{_file_label(x_axis)}",
            f"NC1 and NC2 of the head's first linear layer and of the classifier's input "
            f"against {x_axis}" + (f", one line per {y_axis}" if y_axis else ""),
            head_layers_figure(directory, x_axis, y_axis),
        ),
        ("layers", "Per-layer metrics at the end of training", layer_profile_figure(directory)),
        ("class_means", "Class-mean cosine matrices of the head", class_means_figure(directory)),
        ("training_curves", "Curves along training", training_curves_figure(directory)),
    )
    return [candidate for candidate in candidates if candidate[2] is not None]


def only_checks(table: Any, patterns: Sequence[str]) -> Any:
    """The rows of the checks whose id matches a pattern (nc_jax.checks.matches: an id, or a
    prefix ending before a dot); every row when ``patterns`` is empty."""
    if not patterns:
        return table
    picked = table[[matches(check, patterns) for check in table["check"]]]
    if picked.empty:
        known = sorted(set(table["check"]))
        raise ValueError(f"--only {' '.join(patterns)} matches no stored check; stored: {known}")
    return picked


def plot_directory(
    directory: Path,
    x_axis: str | None,
    y_axis: str | None,
    out: Path | None,
    only: Sequence[str] = (),
) -> list[Path]:
    """Every plot of a results directory into ``out`` (default DIR/plots): bound vs ``x_axis``
    (default: the first grid axis, or the seed for a single run), NC1 and NC2 of the head's
    first and last layers against it (one line per value of ``y_axis`` when given), the layer
    profile, the class-mean matrices and the
    training curves when the cells stored them, and the tightness atlas when ``y_axis`` is
    given. ``only``: draw only the checks matching these ids or prefixes (``only_checks``)."""
    if not store.finished_cells(directory):
        raise ValueError(f"RESULTS_DIR {directory}: no finished cells to plot")
    table = only_checks(store.load(directory), only)
    x_axis = x_axis or default_axis(table, store.grid_names(store.read_grid(directory)))
    out = out or directory / "plots"
    label = _file_label(x_axis)
    written = []
    if not table.empty:  # cells with checks
        written += save(bound_vs_axis_figure(table, x_axis), out / f"bound_vs_{label}")
    for name, _, fig in stored_figures(directory, x_axis, y_axis):
        written += save(fig, out / name)
    if y_axis and not table.empty:
        names = store.grid_names(store.read_grid(directory))
        both = f"{label}_{_file_label(y_axis)}"
        atlas = tightness_atlas_figure(table, x_axis, y_axis, names)
        written += save(atlas, out / f"tightness_{both}")
        written += save(regime_map_figure(table, x_axis, y_axis, names), out / f"regime_{both}")
    return written


def main(args: Any) -> int:
    """``nc-jax plot RESULTS_DIR [--x AXIS] [--y AXIS] [--out DIR] [--only ID ...]``."""
    directory = store.require_directory(Path(args.results_dir))
    out = Path(args.out) if args.out else None
    for path in plot_directory(directory, args.x, args.y, out, args.only):
        print(path)
    return 0


def plot_checks(
    paper: str, results: Sequence[CheckResult], arrays: Mapping[str, np.ndarray], path: Path
) -> None:
    """checks.png: (1) measured/bound per check and run (below 1 holds for '<=', above 1 for
    '>='); (2) NC1 of Z_{L-1} and the last balancedness along training (engine logs
    ``layer/...``, mean and range over runs), when logged; (3) the paper's curves
    (arrays ``curve/<name>``, first run), when it has any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {k.removeprefix("curve/"): v for k, v in arrays.items() if k.startswith("curve/")}
    logged = "layer/nc1_trace_ratio" in arrays
    panels = 1 + logged + bool(curves)
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.5), squeeze=False)
    axes = axes[0]
    ids = list(dict.fromkeys(r.theorem_id for r in results))
    colors = {"holds": "tab:green", "violated": "tab:red"}
    for r in results:
        if r.verdict != "vacuous" and r.slack > 0:
            marker = "<" if r.relation == "<=" else ">"
            color = colors[r.verdict]
            face = "none" if r.informative is False else color  # hollow: no better than trivial
            axes[0].scatter(
                r.slack, ids.index(r.theorem_id), marker=marker, edgecolors=color, facecolors=face
            )
    vacuous = {i: sum(r.verdict == "vacuous" for r in results if r.theorem_id == i) for i in ids}
    kinds = {r.theorem_id: r.kind for r in results}
    names = [
        f"{i.removeprefix(paper + '.')} [{kinds[i]}]"
        + (f" ({vacuous[i]} vacuous)" if vacuous[i] else "")
        for i in ids
    ]
    axes[0].axvline(1.0, color="black", lw=0.8)
    axes[0].set_xscale("log")
    axes[0].set_yticks(range(len(ids)), names, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("measured / bound   (<: an upper bound, >: a lower bound)")
    axes[0].set_title(
        "bound vs measured, every run (green holds, red violated;\n"
        "hollow: the bound is no better than its trivial reference)\n"
        "[consequence]: implied by other measurements, its slack is its worth",
        fontsize=10,
    )
    if logged:
        ax = axes[1]
        steps = arrays["step"][0]
        for key, label in (
            ("layer/nc1_trace_ratio", "NC1(Z_{L-1})"),
            ("layer/balancedness", "last-pair balancedness"),
        ):
            values = arrays[key][:, :, -2]  # Z_{L-1}, and the pair (W_{L-1}, W_L)
            ax.semilogy(steps, np.nanmean(values, axis=0), label=label)
            ax.fill_between(steps, np.nanmin(values, axis=0), np.nanmax(values, axis=0), alpha=0.25)
        ax.set_xlabel("training step (engine logs, mean and range over runs)")
        ax.set_title("training: NC1 and balancedness")
        ax.legend()
    if curves:
        ax = axes[-1]
        logged_steps = np.asarray(arrays["step"][0]) if "step" in arrays else None
        for number, (name, values) in enumerate(curves.items()):
            style = ("-", "--", ":", "-.")[number % 4]  # curves that coincide stay visible
            first = np.asarray(values[0])
            first = first[:, None] if first.ndim == 1 else first
            same = logged_steps is not None and len(logged_steps) == len(first)
            x = logged_steps if same else np.arange(len(first))
            for column in range(first.shape[1]):
                suffix = f" {column + 1}" if first.shape[1] > 1 else ""
                ax.semilogy(x, first[:, column], style, label=name + suffix)
        ax.set_xlabel("training step (first run)")
        ax.set_title("curves of the paper's measurement")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
