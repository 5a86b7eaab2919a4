"""The answer of lanzillotta2025's shipped grid: ``replay_table`` reads a finished results
directory of ``nc-jax sweep lanzillotta2025/replay`` and draws the replay forgetting figure
(``replay_figure``: deep and shallow forgetting against the buffer fraction, one panel per
dataset) into it; ``TABLES`` registers the table on the paper (``Paper.tables``).

The paper (CIFAR-100, Tiny-ImageNet, CUB; ResNet-18 from scratch, buffers 0-10% of the data):
a few percent of replay flattens deep forgetting, while shallow forgetting needs a buffer close
to the whole data set (the "replay efficiency gap"). Our grid: 2 Gaussian tasks of 5 classes
(D = 20) and embedded MNIST in 5 tasks of 2 digits, an MLP, b samples per class in the buffer
(docs/theory/lanzillotta2025.md, "The replay figure", for the numbers measured).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax import results

COLUMNS = {
    "buffer_fraction": "buffer fraction",
    "forgetting_deep": "F_deep",
    "forgetting_shallow": "F_shallow",
    "first_task_probe_final": "A*_T1 (probe)",
    "first_task_final": "A_T1 (own head)",
    "snr_retained": "SNR retained",
    "nc3_cos": "NC3 cos",
    "train_accuracy_min": "min train acc",
    "forgetting_se": "forgetting SE",
}
CLAIMS = {
    "lanzillotta2025.replay.efficiency_gap": "gap h/v/vac",
    "lanzillotta2025.replay.snr_retained": "SNR h/v/vac",
    "lanzillotta2025.lda.buffer_below_own_head": "LDA<head h/v/vac",
}
FIGURE = "replay_forgetting"
PANELS = ["dataset", "heads"]  # one figure panel, and one block of the table, per pair


def _with_panels(frame: Any) -> Any:
    """``frame`` with the columns that split the table and the figure: ``dataset`` (a results
    directory whose grid has no dataset axis, e.g. one ``nc-jax check``, gets one named "grid")
    and ``heads`` ("single" or "multi", from the runs' ``multi_head``)."""
    if "dataset" not in frame:
        frame["dataset"] = "grid"
    frame["heads"] = np.where(frame["multi_head"] == 1, "multi", "single")
    return frame


def _replay_runs(directory: Path) -> Any:
    runs = _with_panels(results.load_runs(directory))
    return runs[(runs["run_kind"] == "replay") & runs["diverged_step"].isna()]


def replay_figure(directory: Path) -> Any:
    """Mean F_deep and F_shallow over seeds against the buffer fraction b / n_train (symlog
    axis: b = 0 included), one panel per dataset and kind of head (single head first, one
    shared y axis), error bars the spread over seeds."""
    import matplotlib.pyplot as plt

    runs = _replay_runs(directory)
    panels = sorted(runs.groupby(PANELS).groups, key=lambda p: (p[0], p[1] != "single"))
    size = (4.5 * len(panels), 3.6)
    fig, axes = plt.subplots(1, len(panels), figsize=size, squeeze=False, sharey=True)
    for ax, (dataset, heads) in zip(axes[0], panels):
        chosen = (runs["dataset"] == dataset) & (runs["heads"] == heads)
        grouped = runs[chosen].groupby("buffer_fraction")
        for column, label in (
            ("forgetting_deep", "deep (probe)"),
            ("forgetting_shallow", "shallow (own head)"),
        ):
            mean, spread = grouped[column].mean(), grouped[column].std().fillna(0.0)
            ax.errorbar(mean.index, mean.values, yerr=spread.values, marker="o", label=label)
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_xlabel("buffer fraction b / n (per class)")
        ax.set_ylabel("forgetting of earlier tasks")
        ax.set_title(f"{dataset}, {'one head per task' if heads == 'multi' else 'single head'}")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _remaining(kind: str, none: Any, full: Any, small: Any, noise: float) -> str:
    """What buffers of at most 10% leave of the forgetting F(0) - F(full) that a full buffer
    removes, as a span of fractions over buffer sizes; or that there is nothing to remove beyond
    ``noise`` (3 standard errors of a difference of two forgetting values)."""
    removable = none[f"F_{kind}"] - full[f"F_{kind}"]
    if not removable > noise:
        return f"no removable {kind} forgetting beyond test noise ({removable:.3g} < {noise:.2g})"
    fractions = (small[f"F_{kind}"] - full[f"F_{kind}"]) / removable
    span = f"{fractions.min():.0%} to {fractions.max():.0%}" if len(fractions) else "-"
    return f"{span} of the removable {kind} forgetting ({removable:.3g})"


def replay_table(directory: Path) -> str:
    """Per dataset and buffer size: means over seeds of the buffer fraction, F_deep, F_shallow,
    the first task's final probe and own-head accuracies, the SNR retained and the lowest train
    accuracy at a task's end; the verdicts of the two claims; the efficiency gap read on the
    means (the remaining fraction of the forgetting a full buffer removes, for buffers of at
    most 10%). Draws ``replay_figure`` into the directory (FIGURE .png and .pdf)."""
    from nc_jax.plots import save

    runs = _replay_runs(directory)
    checks = results.load(directory)
    checks = checks.drop(columns=[c for c in PANELS if c in checks]).merge(
        runs[["cell", "run", *PANELS]], on=["cell", "run"]
    )
    rows = [*PANELS, "buffer_size"]
    table = runs.groupby(rows)[list(COLUMNS)].mean().rename(columns=COLUMNS)
    for check_id, name in CLAIMS.items():
        table[name] = results.verdict_counts(checks, check_id, rows)
    lines = [
        "Replay: means over seeds (F = A_jj - A_Tj averaged over the earlier tasks j)",
        table.to_string(float_format=lambda v: f"{v:.3g}"),
        "",
    ]
    for (dataset, heads), part in table.groupby(level=PANELS):
        sizes = part.index.get_level_values("buffer_size")
        fractions = part["buffer fraction"]
        if 0 not in sizes or fractions.max() < 1:
            continue
        none, full = part[sizes == 0].iloc[0], part[fractions == fractions.max()].iloc[0]
        small = part[(fractions > 0) & (fractions <= 0.1)]
        noise = 3 * 2**0.5 * part["forgetting SE"].max()
        deep, shallow = (_remaining(k, none, full, small, noise) for k in ("deep", "shallow"))
        lines.append(f"{dataset}, {heads} head: buffers of 0-10% leave {deep}; {shallow}")
    saved = save(replay_figure(directory), Path(directory) / FIGURE)
    lines.append(f"figure: {saved[0]}")
    return "\n".join(lines)


TABLES: dict[str, Callable[[Path], str]] = {"replay": replay_table}
