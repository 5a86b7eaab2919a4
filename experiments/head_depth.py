"""Figure 2 of Jacot et al. (ICLR 2025) in kind, and Section 5 as a sweep: does NC2 improve as
the linear head deepens, and does the last layer carry the head's conditioning
(kappa(W_L) = c3^(1/L2))?

    python experiments/head_depth.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/head_depth.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep experiments/grids/jacot2025_head_depth.toml`` (L1 = 2 ReLU
layers, a bias-free linear head of depth L2 = 1..5, 8 seeds). Per L2 it prints the medians over
the runs that did not diverge of NC1 (tr S_W / tr S_B) and NC2 (kappa of the class means) of
the last layer the classifier reads (Z_{L-1}, measured in float64) and of the first linear layer
(Z_{L1+1}, from the engine's last layer log; at L2 = 1 it is the output), kappa(W_L) against
c3^(1/L2), the verdicts of the ``sec5.balanced_head`` claim and the NC2 bound's slack and
informativeness. L2 = 1 is the paper's baseline but outside Theorem 3.1 and Section 5 (their
checks are vacuous there). The paper's claim "NC2 is more prominent as the depth of the linear
head increases" is read as: the median NC2 of Z_{L-1} decreases with L2; the table also gives,
per pair of depths, the share of seeds on which it decreased (the same seed initialises networks
of different depths, so pairs are matched by seed only).

The paper reports (Figure 2: an MLP on MNIST, linear depth 1..5): NC2 more prominent as the
head deepens, with overlapping bands. We measured (digits, 8 seeds, 2 min 53 s on 2 CPU cores):
the median NC2 of Z_{L-1} falls 2.64, 1.87, 1.65, 1.50, 1.41 for L2 = 1..5, on every trained
seed at every step; the first linear layer's NC2 rises instead (1.87, 2.48, 2.89, 3.12 for
L2 = 2..5); NC1 worsens slightly with depth (0.026 to 0.034 for L2 = 2..5).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nc_jax import experiment, plots, results, sweep

GRID = Path(__file__).parent / "grids" / "jacot2025_head_depth.toml"
FIRST_LINEAR = {"layer/nc1_trace_ratio first": "NC1 first linear"}
FIRST_LINEAR |= {"layer/nc2_kappa first": "NC2 first linear"}


def first_linear_layer(directory: Path) -> pd.DataFrame:
    """One row per trained run that logged its layer metrics: num_linear (L2) and NC1 / NC2 of
    the first linear layer Z_{L1+1} at the engine's last log (``plots.head_layer_values``, the
    values the Figure 2 plot draws)."""
    values = plots.head_layer_values(directory, "num_linear")
    if values.empty:
        return pd.DataFrame(columns=["num_linear", *FIRST_LINEAR.values()])
    return values.rename(columns={"_x": "num_linear", **FIRST_LINEAR})[
        ["num_linear", *FIRST_LINEAR.values()]
    ]


def depth_table(directory: Path) -> str:
    """The answer of the head-depth sweep as text (see the module docstring)."""
    runs = sweep.load_runs(directory)
    checks = sweep.load(directory)
    trained = runs[runs["diverged_step"].isna()].copy()
    trained["c3^(1/L2)"] = trained["kappa_head"] ** (1 / trained["num_linear"])
    trained = trained.rename(columns={"nc1": "NC1 last", "kappa_M": "NC2 last"})
    first = first_linear_layer(directory)
    medians = trained.groupby("num_linear")[["NC1 last", "NC2 last"]].median()
    medians = medians.join(first.groupby("num_linear")[list(FIRST_LINEAR.values())].median())
    medians = medians.join(
        trained.groupby("num_linear")[["kappa_WL", "c3^(1/L2)", "eps1", "eps2"]].median()
    )
    medians = medians.reindex(sorted(runs["num_linear"].unique()))  # depths where all diverged
    medians.insert(0, "diverged", runs.groupby("num_linear")["diverged_step"].count())
    medians.insert(0, "runs", runs.groupby("num_linear").size())
    nc2 = checks[checks["check"] == "jacot2025.thm3_1.nc2"]
    medians["NC2 bound slack"] = (
        nc2[nc2["verdict"] != "vacuous"].groupby("num_linear")["slack"].median()
    )
    medians["NC2 bound informative"] = nc2.groupby("num_linear")["informative"].apply(
        lambda f: f"{int(f.fillna(False).sum())}/{len(f)}"
    )
    medians["balanced_head h/v/vac"] = results.verdict_counts(
        checks, "jacot2025.sec5.balanced_head", "num_linear"
    )
    depths = sorted(trained["num_linear"].unique())
    by_seed = trained.pivot_table(index="seed", columns="num_linear", values="NC2 last")
    pairs = [
        f"L2 {a} -> {b}: NC2 decreased on {int((by_seed[b] < by_seed[a]).sum())}"
        f"/{int((by_seed[b].notna() & by_seed[a].notna()).sum())} seeds"
        for a, b in zip(depths[:-1], depths[1:])
    ]
    median_nc2 = medians["NC2 last"].loc[depths].to_numpy()
    monotone = len(median_nc2) > 1 and bool((median_nc2[1:] < median_nc2[:-1]).all())
    answer = (
        "claim 'NC2 improves with a deeper head' (median NC2 of Z_{L-1} decreasing in L2): "
        + ("seen" if monotone else "not seen")
        + f" (median NC2 by L2: {', '.join(f'{v:.3g}' for v in median_nc2)})"
    )
    return "\n".join(
        [
            "Per head depth L2: medians over the runs that did not diverge (last = Z_{L-1}, "
            "the classifier's input; first linear = Z_{L1+1}; NC1 = tr S_W / tr S_B, NC2 = "
            "kappa of the class means; kappa(W_L) against c3^(1/L2))",
            medians.rename_axis("L2").to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            *pairs,
            answer,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return experiment.main(GRID, depth_table, argv, __doc__.split("\n\n")[0], "results/head_depth")


if __name__ == "__main__":
    sys.exit(main())
