"""The regime atlas of Jacot et al. (ICLR 2025), Theorem 3.1: where does each bound become
informative, which hypothesis fails first where it does not, by what factor is Section 4's
condition (11) conservative, and at what rate does each bound follow its measurement?

    python experiments/regime_atlas.py [--quick | --paper-scale] [--out DIR] [--set KEY=VALUE]
    python experiments/regime_atlas.py --table DIR     # the tables of a finished sweep
    nc-jax plot DIR --x weight_decay --y steps         # the atlas figures (heatmaps)

A thin script over ``nc-jax sweep jacot2025/regime_atlas`` (data, N,
first width n1, weight decay and training time; theorems/jacot2025/atlas.py computes what is
printed). It prints:
1. per cell: eps1 / s_K(Y), eps2, r, the two terms of Psi (fit r eps1 / (s_K(Y) - eps1) and
   balance r sqrt(n_{L-1} eps2)) and the larger, the share of runs holding each hypothesis in
   the atlas' order (eps1 < s_K(Y), H4, (11), n1 >= N, stable GD, s_K(A)^2 > e, converged),
   the first failing one, and per Theorem 3.1 check 'informative/applicable runs';
2. per check, where it speaks: the cells where it is informative on most runs, and the largest
   eps1 / s_K(Y) among them against the smallest among the cells where it applies but is not;
3. per (data, N, n1, steps), the largest weight decay that still reaches H1-H4 against the one
   condition (11) allows, and their ratio;
4. the log-log fits of measured against bound over the runs where each bound applies (converged
   runs and all), with a 95% interval on the slope, and eps1 against lambda.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nc_jax import experiment
from nc_jax.sweep import grid_path
from theorems.jacot2025 import atlas

GRID = grid_path("jacot2025_regime_atlas")
CHECKS = (
    "within_mass",
    "nc1",
    "nc2",
    "nc3",
    "nc2_c3",
    "nc3_c3",
    "head_to_last",
    "head_to_last_composite",
)
GROUP = ["dataset", "n_per_class", "n1", "steps"]


def _cells(directory: Path) -> pd.DataFrame:
    frame = atlas.atlas_frame(directory)
    frame.insert(2, "n1", frame.pop("widths").map(lambda w: w[0]))
    return frame


def where_informative(frame: pd.DataFrame) -> pd.DataFrame:
    """Per Theorem 3.1 check: cells where it is informative on at least half of the runs,
    cells where it applies but is not, and the fit eps1 / s_K(Y) that separates them."""
    rows = []
    for check in CHECKS:
        if check not in frame:
            continue
        shares = frame[check].map(_share)
        informative = frame[shares >= 0.5]
        applies = frame[(shares < 0.5) & (frame[check] != "vacuous")]
        rows.append(
            {
                "check": check,
                "informative cells": len(informative),
                "applies, not informative": len(applies),
                "vacuous cells": int((frame[check] == "vacuous").sum()),
                "largest eps1/s_K(Y) informative": informative["eps1/s_K(Y)"].max(),
                "smallest eps1/s_K(Y) not informative": applies["eps1/s_K(Y)"].min(),
            }
        )
    return pd.DataFrame(rows)


def _share(text: str) -> float:
    """'3/4' -> 0.75; 'vacuous' -> NaN."""
    if not isinstance(text, str) or "/" not in text:
        return np.nan
    informative, applies = (int(part) for part in text.split("/"))
    return informative / applies


def atlas_tables(directory: Path) -> str:
    """The four tables of the module docstring, as text."""
    frame = _cells(directory)
    runs = atlas.trained_runs(directory)
    runs["n1"] = runs["n1"].astype(int)
    factor = atlas.condition_11_factor(runs, GROUP)
    with pd.option_context("display.width", 250, "display.max_columns", 60):
        return "\n\n".join(
            [
                "Per cell (medians over the trained runs; hypothesis columns: share of runs "
                "where it holds; a check's column: informative / applicable runs):\n"
                + frame.to_string(index=False, float_format=lambda v: f"{v:.3g}"),
                "Where each Theorem 3.1 bound speaks (a cell counts as informative when at "
                "least half of its runs are):\n"
                + where_informative(frame).to_string(index=False, float_format="{:.3g}".format),
                "Condition (11) against the weight decays that reach H1-H4 (eps1 < s_K(Y) and "
                "H4 on most runs):\n" + factor.to_string(index=False, float_format="{:.3g}".format),
                "Rates: log(measured) = a + b log(bound) over the runs where the bound applies "
                f"({atlas.RATE_CONFIDENCE:.0%} interval on b; constant = exp(a)):\n"
                + atlas.rate_table(directory).to_string(index=False, float_format="{:.3g}".format),
            ]
        )


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.split("\n\n")[0]
    return experiment.main(GRID, atlas_tables, argv, summary, "results/regime_atlas")


if __name__ == "__main__":
    sys.exit(main())
