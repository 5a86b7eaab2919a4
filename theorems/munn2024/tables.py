"""The answer of munn2024's shipped grid as text: ``gc_cdnv_table`` reads a finished results
directory of ``nc-jax sweep munn2024/gc_cdnv``; ``TABLES`` registers it on the paper
(``Paper.tables``, found by ``nc_jax.sweep.grid_table``).

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

from scipy.stats import spearmanr

from nc_jax import results

KNOBS = ("batch_size", "gc_penalty", "learning_rate", "weight_decay")
MEDIANS = ("gc_train", "cdnv_train", "gcol_train", "target_cdnv", "few_shot_accuracy")
CLAIMS = ("munn2024.e6e.gc_cdnv", "munn2024.e6f.target_cdnv", "munn2024.e6f.few_shot")


def gc_cdnv_table(directory: Path) -> str:
    """Per setting (batch, GC penalty, learning rate, weight decay: those the sweep varies) the
    median over seeds of train GC, CDNV, GCol, target CDNV and 5-shot accuracy, its cell's
    Spearman rho(GC, CDNV) and the cell's claim verdicts (holds/violated/vacuous); then rho over
    every trained run of the sweep of GC against each knob, CDNV, target CDNV and accuracy."""
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
    return "\n".join(
        [
            "Per setting: medians over seeds (train GC, CDNV, GCol; target-class CDNV, 5-shot "
            "NCC accuracy), the cell's Spearman rho(GC, CDNV) and its claims' verdicts",
            shown,
            "",
            f"Over all {len(trained)} trained runs: {overall}",
        ]
    )


TABLES: dict[str, Callable[[Path], str]] = {"gc_cdnv": gc_cdnv_table}
