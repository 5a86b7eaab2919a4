"""The answer of ufm_extras' shipped grid as text: ``imbalance_table`` reads a finished results
directory of ``nc-jax sweep ufm_imbalance`` (a grid of this paper whose name does not start
with the paper's, so its short name is its whole name); ``TABLES`` registers it on the paper
(``Paper.tables``, found by ``nc_jax.sweep.grid_table``).

Minority collapse in the cross-entropy UFM as a sweep of the imbalance ratio: where do the
minority classes' classifier rows coincide, and does gradient descent reach the optimum the
convex program predicts on both sides of the threshold? The grid: K = 4, two majority classes
of R samples, two minority classes of one; lambda = 0.04; 2 seeds per R.

We measured (full grid, 24 runs, 3 min 13 s wall on the shared 2-core machine): the smallest
minority cosine rises -0.333 (R = 1, the simplex ETF), -0.188, 0.029, 0.223, 0.435, 0.707,
0.890 (R = 2..11) and is 1 from R = 12 on (spread 8e-7 at R = 12, 0 to rounding from R = 20),
trained and optimal alike; the convex program's threshold is R* = 11.50, so collapse is seen
from R = 12 on the grid. GD reaches F* to 3e-15 (relative) at every R. The class means move away
from a simplex ETF as R grows (nearest-ETF distance 0, 6e-4, 9e-4, 6e-4, 6e-3, 0.045, 0.13 for
R = 1..11, then 0.37 at R = 12 and 0.44 at R = 40).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from nc_jax import results

COLUMNS = {
    "minority_cos": "cos minority",
    "minority_cos_optimum": "cos minority (optimum)",
    "minority_spread": "spread",
    "minority_spread_optimum": "spread (optimum)",
    "objective_gap": "(F - F*)/F*",
    "means_etf_distance": "ETF dist. means",
    "classifier_etf_distance": "ETF dist. W",
}
COLLAPSE_TOLERANCE = 1e-3


def measured_threshold(trained: pd.DataFrame) -> float:
    """The smallest R from which on every trained run has minority spread <= 1e-3 (inf when
    the last R does not collapse)."""
    collapsed = trained.groupby("imbalance_ratio")["minority_spread"].max() <= COLLAPSE_TOLERANCE
    ratios = list(collapsed.index)
    for position, ratio in enumerate(ratios):
        if collapsed.iloc[position:].all():
            return float(ratio)
    return math.inf


def imbalance_table(directory: Path) -> str:
    """The answer of the imbalance sweep as text: per R the medians over the runs that did not
    diverge of the smallest cosine and the spread (max ||w_i - w_j|| / max ||w_k||) of the
    minority classifier rows, trained and at the convex optimum, the objective's relative gap
    to the optimum F*, the nearest-ETF distances of the class means and of the classifier rows,
    and the verdicts of the ``imbalance.*`` claims; then the measured threshold (the smallest R
    whose trained runs all have spread <= 1e-3) against the convex program's R*."""
    runs = results.load_runs(directory)
    checks = results.load(directory)
    trained = runs[runs["diverged_step"].isna()]
    table = trained.groupby("imbalance_ratio")[list(COLUMNS)].median().rename(columns=COLUMNS)
    table.insert(0, "diverged", runs.groupby("imbalance_ratio")["diverged_step"].count())
    table.insert(0, "runs", runs.groupby("imbalance_ratio").size())
    for name in ("optimum", "geometry", "minority_collapse"):
        table[f"{name} h/v/vac"] = results.verdict_counts(
            checks, f"ufm_extras.imbalance.{name}", "imbalance_ratio"
        )
    solver = float(trained["collapse_threshold"].median())
    seen = measured_threshold(trained)
    answer = (
        f"minority collapse (trained spread <= {COLLAPSE_TOLERANCE:g} from then on): from R = "
        f"{seen:g} on the grid; the convex program's threshold R* = {solver:.4g}"
    )
    return "\n".join(
        [
            "Per imbalance ratio R = n_majority / n_minority: medians over the runs that did "
            "not diverge (minority rows of the classifier W; optimum: the convex program)",
            table.rename_axis("R").to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            answer,
        ]
    )


TABLES: dict[str, Callable[[Path], str]] = {"ufm_imbalance": imbalance_table}
