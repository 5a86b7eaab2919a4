"""The answer of wang2025's shipped grid as text: ``imbalance_table`` reads a finished results
directory of ``nc-jax sweep wang2025/imbalance``; ``TABLES`` registers it on the paper
(``Paper.tables``).

The question: on the long-tailed CE UFM, does the tail classes' alignment cos(w_k, mu_k - mu_c)
fall below the head classes' as the imbalance ratio grows (the abstract's misalignment, in our
per-class form), and does our stand-in regulariser restore it? docs/theory/wang2025.md gives the
grid's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nc_jax import results

CHECKS = ("wang2025.e5c.tail_misalignment", "wang2025.e5d.alignment_restored")
COLUMNS = {
    "align_head_plain": "head",
    "align_tail_plain": "tail",
    "align_head_samples_plain": "head (sample centre)",
    "align_tail_samples_plain": "tail (sample centre)",
    "align_tail_aligned": "tail, regularised",
    "nc3_plain": "NC3 distance",
}


def imbalance_table(directory: Path) -> str:
    """Per imbalance ratio: the mean over seeds of the head and tail alignments (class-mean
    centre, and the sample-mean centre beside them), the regularised tail alignment, the NC3
    distance, the largest spread over seeds of the plain tail alignment, and the verdicts
    (holds/violated/vacuous) of the two alignment claims."""
    runs = results.load_runs(directory)
    grouped = runs.groupby("imbalance_ratio")
    table = grouped[list(COLUMNS)].mean().rename(columns=COLUMNS)
    table["tail spread over seeds"] = grouped["align_tail_plain"].agg(lambda v: v.max() - v.min())
    checks = results.load(directory)
    for check_id in CHECKS:
        counts = results.verdict_counts(checks, check_id, ["imbalance_ratio"])
        table[check_id.split(".")[-1] + " h/v/vac"] = counts
    return "\n".join(
        [
            "Per imbalance ratio n_0/n_{K-1}: mean alignment cos(w_k, mu_k - centre) of the head "
            "and tail halves (plain training; the class-mean centre, then the sample-mean one), "
            "the tail with our regulariser, the NC3 distance, and the claims' verdicts",
            table.reset_index().to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
    )


TABLES: dict[str, Callable[[Path], str]] = {"imbalance": imbalance_table}
