"""Where the networks of a results directory stand against Theorem 3.1's regime: per cell, the
fit eps1 / s_K(Y), the head's balancedness eps2 and, per Theorem 3.1 check, on how many runs
its bound applies (hypotheses hold) and beats the trivial reference (docs/theory/jacot2025.md,
"Informative or not"). The paper's grid tables (tables.py) print it under their own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nc_jax import results

THEOREM_3_1 = "jacot2025.thm3_1."


def informative_share(runs: pd.DataFrame) -> str:
    """'informative/applies' over the runs of one check in one cell; 'vacuous' when the bound
    applies to none of them."""
    applies = runs["verdict"] != "vacuous"
    if not applies.any():
        return "vacuous"
    informative = int(runs.loc[applies, "informative"].fillna(False).astype(bool).sum())
    return f"{informative}/{int(applies.sum())}"


def regime_frame(directory: Path) -> pd.DataFrame:
    """One row per cell (its grid axes first): trained runs, the medians over them of
    eps1 / s_K(Y) and eps2, and per Theorem 3.1 check 'informative/applies'
    (``informative_share``)."""
    axes = results.grid_names(results.read_grid(directory))
    runs = results.load_runs(directory)
    checks = results.load(directory)
    trained = runs[runs["diverged_step"].isna()]
    rows = []
    for cell, members in runs.groupby("cell", sort=False):
        fit = trained[trained["cell"] == cell]
        row = {key: members[key].iloc[0] for key in axes}
        row["trained"] = f"{len(fit)}/{len(members)}"
        ratio = (fit["eps1"] / fit["s_K_Y"]).astype(float) if len(fit) else pd.Series([np.nan])
        row["eps1/s_K(Y)"] = f"{ratio.median():.3g}"
        row["eps2"] = f"{fit['eps2'].astype(float).median():.3g}" if len(fit) else "nan"
        mine = checks[(checks["cell"] == cell) & checks["check"].str.startswith(THEOREM_3_1)]
        for check, verdicts in mine.groupby("check", sort=False):
            row[check.removeprefix(THEOREM_3_1)] = informative_share(verdicts)
        rows.append(row)
    return pd.DataFrame(rows)


def regime_table(directory: Path) -> str:
    """``regime_frame`` as text, with a line that says how to read it."""
    frame = regime_frame(directory)
    return "\n".join(
        [
            "Theorem 3.1's regime per cell (medians over the trained runs; a check's column: "
            "runs where its bound is informative / runs where its hypotheses hold, 'vacuous' "
            "when they hold on none):",
            frame.to_string(index=False),
        ]
    )
