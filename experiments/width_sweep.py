"""Section 4 of Jacot et al. (ICLR 2025) as a width sweep: from which first-layer width on do the
hypotheses hold, and how does each check's slack move with width?

    python experiments/width_sweep.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/width_sweep.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/width``: it runs (or resumes)
the sweep, then prints per first-layer width n1 the measured eps1, eps2, r (medians over the runs
that did not diverge), the share of runs on which each hypothesis holds (Theorem 3.1's
eps1 < s_K(Y) and H4, Section 4's n1 >= N, the pyramidal widths, s_min(Z_1(theta_0)) > 0), and
the median slack (measured / bound) of every Theorem 3.1 check with its count of non-vacuous
runs. Assumption 4.2 (a smooth activation with sigma' in [gamma, 1]) never holds in this grid:
the MLP uses ReLU, as the paper's experiments do (the table says so unless a run's activation
is the smooth one).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nc_jax import experiment, sweep
from nc_jax.sweep import grid_path

GRID = grid_path("jacot2025_width")
THM31 = ("within_mass", "nc1", "nc2", "nc3", "head_to_last", "head_to_last_composite")


def hypotheses(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run, whether each hypothesis holds (bool columns)."""
    half_centred = np.sqrt((runs["K"] - 1) * runs["N"] / (4 * runs["K"]))
    return pd.DataFrame(
        {
            "eps1<s_K(Y)": runs["eps1"] < runs["s_K_Y"],
            "H4": runs["eps1"] <= half_centred,
            "n1>=N": runs["n1"] >= runs["N"],
            "pyramidal": runs["pyramidal"] == 1.0,
            "s_min(Z1)>0": runs["lambda_F_init"] > 0,
        }
    )


def width_table(directory: Path) -> str:
    """The answer of the width sweep as text (see the module docstring)."""
    runs = sweep.load_runs(directory)
    checks = sweep.load(directory)
    runs["n1"] = runs["widths"].map(lambda w: w[0])
    checks["n1"] = checks["widths"].map(lambda w: w[0])
    trained = runs[runs["diverged_step"].isna()]
    held = hypotheses(trained).groupby(trained["n1"]).mean()
    rows = []
    for n1, group in runs.groupby("n1"):
        ok = trained[trained["n1"] == n1]
        row = {
            "n1": n1,
            "runs": len(group),
            "diverged": int(group["diverged_step"].notna().sum()),
            "eps1": ok["eps1"].median(),
            "s_K(Y)": ok["s_K_Y"].median(),
            "eps2": ok["eps2"].median(),
            "r": ok["r"].median(),
        }
        row |= (
            {name: f"{share:.0%}" for name, share in held.loc[n1].items()}
            if n1 in held.index
            else {}
        )
        rows.append(row)
    table = pd.DataFrame(rows).set_index("n1")
    slacks = {}
    for name in THM31:
        picked = checks[checks["check"] == f"jacot2025.thm3_1.{name}"]
        informative = picked[picked["verdict"] != "vacuous"]
        median = informative.groupby("n1")["slack"].median()
        counted = informative.groupby("n1").size()
        slacks[name] = {
            n1: f"{median[n1]:.3g} ({counted[n1]})" if n1 in median.index else "vacuous"
            for n1 in sorted(checks["n1"].unique())
        }
    slack_table = pd.DataFrame(slacks).rename_axis("n1")
    verdicts = checks.groupby(["n1", "verdict"]).size().unstack(fill_value=0)
    answer = where_hypotheses_hold(held)
    lines = [
        "Per first-layer width: medians over the runs that did not diverge, and the share of "
        "those runs on which each hypothesis holds",
        table.to_string(float_format=lambda v: f"{v:.3g}"),
        "",
        "Theorem 3.1 checks: median slack measured / bound over non-vacuous runs (their count)",
        slack_table.to_string(),
        "",
        "verdicts of every check, all runs",
        verdicts.to_string(),
        "",
        answer,
    ]
    if not (runs.get("smooth_activation", pd.Series([0.0])) == 1.0).any():
        lines.append(
            "Assumption 4.2 (smooth activation, sigma' in [gamma, 1]) fails at every width: "
            "the network's activation is not the smooth one (ReLU in this grid)."
        )
    return "\n".join(lines)


def where_hypotheses_hold(held: pd.DataFrame) -> str:
    """One line per hypothesis: the widths at which it holds on every trained run, and the
    share at the others (``held``: widths x hypotheses, shares of runs)."""
    lines = ["Where each hypothesis holds on every trained run:"]
    for name in held.columns:
        everywhere = [n1 for n1 in held.index if held.loc[n1, name] == 1]
        others = [f"{n1} ({held.loc[n1, name]:.0%})" for n1 in held.index if n1 not in everywhere]
        text = ", ".join(map(str, everywhere)) if everywhere else "no width"
        lines.append(f"  {name}: n1 = {text}" + (f"; not at {', '.join(others)}" if others else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return experiment.main(GRID, width_table, argv, __doc__.split("\n\n")[0], "results/width_sweep")


if __name__ == "__main__":
    sys.exit(main())
