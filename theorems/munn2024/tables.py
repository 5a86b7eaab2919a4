"""The answer of munn2024's shipped grid: ``gc_cdnv_table`` reads a finished results directory
of ``nc-jax sweep munn2024/gc_cdnv`` and draws ``gc_cdnv_figure`` into it; ``TABLES`` registers
it on the paper (``Paper.tables``, found by ``nc_jax.sweep.grid_table``).

The question (the paper's claims C1/C2, as read in its captions): do a larger learning rate, a
smaller batch, more weight decay and a larger explicit GC penalty give a lower geometric
complexity of the embedding, and with it a lower CDNV and geometric collapse? Per setting the
medians over seeds, per cell the rank correlation its claims judge, and over the whole sweep
Spearman's rho of GC against each knob and against CDNV (docs/theory/munn2024.md gives the
grid and what we measured).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from nc_jax import results

KNOBS = ("batch_size", "gc_penalty", "learning_rate", "weight_decay")
MEDIANS = ("gc_train", "cdnv_train", "gcol_train", "target_cdnv", "few_shot_accuracy")
CLAIMS = (
    "munn2024.e6e.gc_cdnv",
    "munn2024.e6f.target_cdnv",
    "munn2024.e6f.few_shot",
    "munn2024.e6f.cdnv_few_shot",
)
FIGURE = "gc_cdnv"
EMBEDDING = -2  # the embedding's entry in the per-layer logs (the head's input)


def _cell_label(config: dict[str, Any]) -> str:
    return f"batch {config['batch_size']}, GC penalty {config['gc_penalty']:g}"


def gc_cdnv_figure(directory: Path) -> Any:
    """Left: train GC against train CDNV of the embedding, one point per trained run (log-log),
    one colour per cell. Middle and right, when the runs logged them (``log_gc_samples`` > 0):
    the median over a cell's runs of the embedding's GC and CDNV along training."""
    import matplotlib.pyplot as plt

    cells = sorted(results.read_cells(Path(directory)), key=lambda c: c["index"])
    logged = [results.read_arrays(Path(directory), c["cell"]) for c in cells]
    with_logs = all("layer/gc" in arrays for arrays in logged)
    fig, axes = plt.subplots(1, 3 if with_logs else 1, figsize=(13 if with_logs else 5, 3.8))
    axes = np.atleast_1d(axes)
    for cell, arrays in zip(cells, logged):
        label = _cell_label(cell["config"])
        measured = [r["quantities"] for r in cell["runs"] if r["quantities"]]
        gc = [float(q["gc_train"]) for q in measured]
        axes[0].loglog(gc, [float(q["cdnv_train"]) for q in measured], "o", label=label)
        if with_logs:
            step = np.nanmedian(arrays["step"], axis=0)
            for ax, name in zip(axes[1:], ("layer/gc", "layer/nc1_cdnv")):
                ax.semilogy(step, np.nanmedian(arrays[name][:, :, EMBEDDING], axis=0), label=label)
    axes[0].set(xlabel="train GC of the embedding", ylabel="train CDNV", title="one point per run")
    for ax, title in zip(axes[1:], ("GC along training", "CDNV along training")):
        ax.set(xlabel="step", title=f"{title} (median over runs)")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def gc_cdnv_table(directory: Path) -> str:
    """Per setting (batch, GC penalty, learning rate, weight decay: those the sweep varies) the
    median over seeds of train GC, CDNV, GCol, target CDNV and 5-shot accuracy, its cell's
    Spearman rho(GC, CDNV) and the cell's claim verdicts (holds/violated/vacuous); then rho over
    every trained run of the sweep of GC against each knob, CDNV, target CDNV and accuracy; and
    the path of the figure (``gc_cdnv_figure``, FIGURE .png and .pdf in the directory)."""
    runs = results.load_runs(directory)
    trained = runs[runs["diverged_step"].isna()]
    knobs = [k for k in KNOBS if k in trained and trained[k].nunique() > 1] or ["learning_rate"]
    table = trained.groupby(knobs).agg(
        runs=("seed", "size"), **{name: (name, "median") for name in MEDIANS}
    )
    table["rho(GC,CDNV) cell"] = trained.groupby(knobs)["rho_gc_cdnv"].first()
    checks = results.load(directory)
    for check_id in CLAIMS:
        table[check_id.split(".", 1)[1] + " h/v/vac"] = results.verdict_counts(
            checks, check_id, knobs
        )
    pairs = [(k, trained[k]) for k in knobs] + [(m, trained[m]) for m in MEDIANS[1:]]
    overall = "; ".join(
        f"rho(GC, {name}) = {spearmanr(trained['gc_train'], values).statistic:+.2f}"
        for name, values in pairs
    )
    shown = table.reset_index().to_string(index=False, float_format=lambda v: f"{v:.3g}")
    from nc_jax.plots import save

    saved = save(gc_cdnv_figure(directory), Path(directory) / FIGURE)
    return "\n".join(
        [
            "Per setting: medians over seeds (train GC, CDNV, GCol; target-class CDNV, 5-shot "
            "NCC accuracy), the cell's Spearman rho(GC, CDNV) and its claims' verdicts",
            shown,
            "",
            f"Over all {len(trained)} trained runs: {overall}",
            f"figure: {saved[0]}",
        ]
    )


TABLES: dict[str, Callable[[Path], str]] = {"gc_cdnv": gc_cdnv_table}
