"""Figure 2 (top) of Jacot et al. (ICLR 2025) on real MNIST, and Section 5 as a sweep: does NC2
improve as the linear head deepens, and does the last layer carry the head's conditioning
(kappa(W_L) = c3^(1/L2))?

    python experiments/head_depth.py [--quick | --paper-scale] [--out DIR] [--set KEY=VALUE ...]
    python experiments/head_depth.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/head_depth`` (L1 = 5 ReLU
layers, a bias-free linear head of depth L2 = 1..5, the paper's two weight decays, 5 seeds).
Per weight decay and L2 it prints the medians over the runs that did not diverge of NC1
(tr S_W / tr S_B) and NC2 (kappa of the class means) of the last layer the classifier reads
(Z_{L-1}, measured in float64) and of the first linear layer (Z_{L1+1}, from the engine's last
layer log; at L2 = 1 it is the output), kappa(W_L) against c3^(1/L2), the verdicts of the
``sec5.balanced_head`` claim and the NC2 bound's slack and informativeness; then Theorem 3.1's
regime per cell. L2 = 1 is the paper's baseline but outside Theorem 3.1 and Section 5 (their
checks are vacuous there). The paper's claim "NC2 is more prominent as the depth of the linear
head increases" is read, per weight decay, as: the median NC2 of Z_{L-1} decreases with L2; the
table also gives, per pair of depths, the share of seeds on which it decreased (the same seed
initialises networks of different depths, so pairs are matched by seed only).

The paper reports (Figure 2, top, of the camera-ready: an MLP with 5 non-linear layers on MNIST,
linear depth 1..5, weight decay 0.001 and 0.004): NC2 more prominent as the head deepens, with
overlapping bands. We measured (the embedded MNIST sample, N = 200, lambda = 0.2 and 0.8, eta =
1.5e-4, 28000 steps, 5 seeds, 23 min 17 s on 2 CPU cores): seen at both weight decays and on
every seed at every step of depth: the median NC2 of Z_{L-1} is 4.41, 2.17, 1.75, 1.64, 1.54
(lambda = 0.2) and 2.89, 1.94, 1.66, 1.55, 1.44 (lambda = 0.8) for L2 = 1..5; the first linear
layer's NC2 rises instead (2.2 to 4.2 for L2 = 2..5); NC1 of Z_{L-1} falls with depth at
lambda = 0.2 (0.064 to 6e-4) and stays near 0.002 at 0.8.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nc_jax import experiment, plots, results, sweep
from nc_jax.sweep import grid_path
from theorems.jacot2025.regime import regime_table

GRID = grid_path("jacot2025_head_depth")
KEYS = ["weight_decay", "num_linear"]  # a row of the table: (lambda, L2)
FIRST_LINEAR = {"layer/nc1_trace_ratio first": "NC1 first linear"}
FIRST_LINEAR |= {"layer/nc2_kappa first": "NC2 first linear"}


def first_linear_layer(directory: Path) -> pd.DataFrame:
    """One row per trained run that logged its layer metrics: weight_decay, num_linear (L2) and
    NC1 / NC2 of the first linear layer Z_{L1+1} at the engine's last log
    (``plots.head_layer_values``, the values the Figure 2 plot draws)."""
    values = plots.head_layer_values(directory, "num_linear", by="weight_decay")
    if values.empty:
        return pd.DataFrame(columns=[*KEYS, *FIRST_LINEAR.values()])
    values = values.rename(columns={"_x": "num_linear", "_by": "weight_decay", **FIRST_LINEAR})
    return values[[*KEYS, *FIRST_LINEAR.values()]]


def _medians(runs: pd.DataFrame, checks: pd.DataFrame, directory: Path) -> pd.DataFrame:
    """Per (weight decay, L2): runs, diverged runs, and the medians over the trained runs of the
    table's columns (see the module docstring)."""
    trained = runs[runs["diverged_step"].isna()].copy()
    trained["c3^(1/L2)"] = trained["kappa_head"] ** (1 / trained["num_linear"])
    trained = trained.rename(columns={"nc1": "NC1 last", "kappa_M": "NC2 last"})
    first = first_linear_layer(directory)
    medians = trained.groupby(KEYS)[["NC1 last", "NC2 last"]].median()
    medians = medians.join(first.groupby(KEYS)[list(FIRST_LINEAR.values())].median())
    medians = medians.join(
        trained.groupby(KEYS)[["kappa_WL", "c3^(1/L2)", "eps1", "eps2"]].median()
    )
    everything = runs.groupby(KEYS)
    medians = medians.reindex(everything.size().index)  # depths where every run diverged
    medians.insert(0, "diverged", everything["diverged_step"].count())
    medians.insert(0, "runs", everything.size())
    nc2 = checks[checks["check"] == "jacot2025.thm3_1.nc2"]
    medians["NC2 bound slack"] = nc2[nc2["verdict"] != "vacuous"].groupby(KEYS)["slack"].median()
    medians["NC2 bound informative"] = nc2.groupby(KEYS)["informative"].apply(
        lambda f: f"{int(f.fillna(False).sum())}/{len(f)}"
    )
    medians["balanced_head h/v/vac"] = results.verdict_counts(
        checks, "jacot2025.sec5.balanced_head", KEYS
    )
    return medians


def _nc2_trend(trained: pd.DataFrame, medians: pd.DataFrame, decay: float) -> list[str]:
    """At one weight decay: per pair of consecutive depths, on how many seeds NC2 of Z_{L-1}
    decreased, and the paper's claim read on the medians."""
    mine = trained[trained["weight_decay"] == decay]
    depths = sorted(mine["num_linear"].unique())
    by_seed = mine.pivot_table(index="seed", columns="num_linear", values="kappa_M")
    pairs = [
        f"  L2 {a} -> {b}: NC2 decreased on {int((by_seed[b] < by_seed[a]).sum())}"
        f"/{int((by_seed[b].notna() & by_seed[a].notna()).sum())} seeds"
        for a, b in zip(depths[:-1], depths[1:])
    ]
    median_nc2 = medians.loc[decay, "NC2 last"].loc[depths].to_numpy()
    monotone = len(median_nc2) > 1 and bool((median_nc2[1:] < median_nc2[:-1]).all())
    return [
        f"weight decay lambda = {decay:g}: claim 'NC2 improves with a deeper head' (median NC2 "
        "of Z_{L-1} decreasing in L2): "
        + ("seen" if monotone else "not seen")
        + f" (median NC2 by L2: {', '.join(f'{v:.3g}' for v in median_nc2)})",
        *pairs,
    ]


def depth_table(directory: Path) -> str:
    """The answer of the head-depth sweep as text (see the module docstring)."""
    decay = {r["cell"]: r["config"]["weight_decay"] for r in results.read_cells(directory)}
    runs, checks = sweep.load_runs(directory), sweep.load(directory)
    runs["weight_decay"] = runs["cell"].map(decay)  # also where it is fixed, not a grid axis
    checks["weight_decay"] = checks["cell"].map(decay)
    medians = _medians(runs, checks, directory)
    trained = runs[runs["diverged_step"].isna()]
    trends = [
        line
        for decay in sorted(trained["weight_decay"].unique())
        for line in _nc2_trend(trained, medians, decay)
    ]
    return "\n".join(
        [
            "Per weight decay lambda and head depth L2: medians over the runs that did not "
            "diverge (last = Z_{L-1}, the classifier's input; first linear = Z_{L1+1}; NC1 = "
            "tr S_W / tr S_B, NC2 = kappa of the class means; kappa(W_L) against c3^(1/L2))",
            medians.rename_axis(["lambda", "L2"]).to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            *trends,
            "",
            regime_table(directory),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return experiment.main(GRID, depth_table, argv, __doc__.split("\n\n")[0], "results/head_depth")


if __name__ == "__main__":
    sys.exit(main())
