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
}
FIGURE = "replay_forgetting"


def _with_dataset(frame: Any) -> Any:
    """``frame`` with a dataset column (a results directory whose grid has no dataset axis,
    e.g. one ``nc-jax check``, gets one named "grid")."""
    if "dataset" not in frame:
        frame["dataset"] = "grid"
    return frame


def _replay_runs(directory: Path) -> Any:
    runs = _with_dataset(results.load_runs(directory))
    return runs[(runs["kind"] == "replay") & runs["diverged_step"].isna()]


def replay_figure(directory: Path) -> Any:
    """Mean F_deep and F_shallow over seeds against the buffer fraction b / n_train (symlog
    axis: b = 0 included), one panel per dataset, error bars the spread over seeds."""
    import matplotlib.pyplot as plt

    runs = _replay_runs(directory)
    datasets = sorted(runs["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        grouped = runs[runs["dataset"] == dataset].groupby("buffer_fraction")
        for column, label in (
            ("forgetting_deep", "deep (probe)"),
            ("forgetting_shallow", "shallow (own head)"),
        ):
            mean, spread = grouped[column].mean(), grouped[column].std().fillna(0.0)
            ax.errorbar(mean.index, mean.values, yerr=spread.values, marker="o", label=label)
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_xlabel("buffer fraction b / n (per class)")
        ax.set_ylabel("forgetting of earlier tasks")
        ax.set_title(dataset)
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
    checks = _with_dataset(results.load(directory))
    checks = checks[checks["kind"] == "replay"]  # the rows are replay runs
    table = runs.groupby(["dataset", "buffer_size"])[list(COLUMNS)].mean().rename(columns=COLUMNS)
    for check_id, name in CLAIMS.items():
        table[name] = results.verdict_counts(checks, check_id, ["dataset", "buffer_size"])
    lines = [
        "Replay: means over seeds (F = A_jj - A_Tj averaged over the earlier tasks j)",
        table.to_string(float_format=lambda v: f"{v:.3g}"),
        "",
    ]
    for dataset, part in table.groupby(level="dataset"):
        sizes = part.index.get_level_values("buffer_size")
        fractions = part["buffer fraction"]
        if 0 not in sizes or fractions.max() < 1:
            continue
        none, full = part[sizes == 0].iloc[0], part[fractions == fractions.max()].iloc[0]
        small = part[(fractions > 0) & (fractions <= 0.1)]
        noise = 3 * 2**0.5 * part["forgetting SE"].max()
        deep, shallow = (_remaining(k, none, full, small, noise) for k in ("deep", "shallow"))
        lines.append(f"{dataset}: buffers of 0-10% leave {deep}; {shallow}")
    saved = save(replay_figure(directory), Path(directory) / FIGURE)
    lines.append(f"figure: {saved[0]}")
    return "\n".join(lines)


TABLES: dict[str, Callable[[Path], str]] = {"replay": replay_table}
