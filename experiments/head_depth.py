"""Section 6 of Jacot et al. (ICLR 2025) as a sweep: does NC2 improve as the linear head
deepens, and does the last layer carry the head's conditioning (kappa(W_L) = c3^(1/L2))?

    python experiments/head_depth.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/head_depth.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep experiments/grids/jacot2025_head_depth.toml`` (L1 = 2 ReLU
layers, a bias-free linear head of depth L2 = 2..5, 8 seeds). Per L2 it prints the medians over
the runs that did not diverge of NC1 and NC2 (kappa of the class means of Z_{L-1}) of the
penultimate layer, kappa(W_L) against c3^(1/L2), the verdicts of the ``sec5.balanced_head``
claim and the NC2 bound's slack and informativeness. The paper's claim "NC2 is more prominent
as the depth of the linear head increases" is read as: the median NC2 decreases with L2; the
table also gives, per pair of depths, the share of seeds on which NC2 decreased (the same seed
initialises networks of different depths, so pairs are matched by seed only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nc_jax import experiment, sweep

GRID = Path(__file__).parent / "grids" / "jacot2025_head_depth.toml"


def _verdicts(checks: pd.DataFrame, check_id: str) -> pd.Series:
    picked = checks[checks["check"] == check_id]
    return picked.groupby("num_linear")["verdict"].apply(
        lambda v: "/".join(str((v == name).sum()) for name in ("holds", "violated", "vacuous"))
    )


def depth_table(directory: Path) -> str:
    """The answer of the head-depth sweep as text (see the module docstring)."""
    runs = sweep.load_runs(directory)
    checks = sweep.load(directory)
    trained = runs[runs["diverged_step"].isna()].copy()
    trained["c3^(1/L2)"] = trained["kappa_head"] ** (1 / trained["num_linear"])
    medians = trained.groupby("num_linear")[
        ["nc1", "kappa_M", "kappa_WL", "c3^(1/L2)", "eps1", "eps2"]
    ].median()
    medians.insert(0, "diverged", runs.groupby("num_linear")["diverged_step"].count())
    medians.insert(0, "runs", runs.groupby("num_linear").size())
    nc2 = checks[checks["check"] == "jacot2025.thm3_1.nc2"]
    medians["NC2 bound slack"] = (
        nc2[nc2["verdict"] != "vacuous"].groupby("num_linear")["slack"].median()
    )
    medians["NC2 bound informative"] = nc2.groupby("num_linear")["informative"].apply(
        lambda f: f"{int(f.fillna(False).sum())}/{len(f)}"
    )
    medians["balanced_head h/v/vac"] = _verdicts(checks, "jacot2025.sec5.balanced_head")
    depths = sorted(trained["num_linear"].unique())
    by_seed = trained.pivot_table(index="seed", columns="num_linear", values="kappa_M")
    pairs = [
        f"L2 {a} -> {b}: NC2 decreased on {int((by_seed[b] < by_seed[a]).sum())}"
        f"/{int((by_seed[b].notna() & by_seed[a].notna()).sum())} seeds"
        for a, b in zip(depths[:-1], depths[1:])
    ]
    median_nc2 = medians["kappa_M"].loc[depths].to_numpy()
    monotone = bool((median_nc2[1:] < median_nc2[:-1]).all())
    answer = (
        "claim 'NC2 improves with a deeper head' (median NC2 decreasing in L2): "
        + ("seen" if monotone else "not seen")
        + f" (median NC2 by L2: {', '.join(f'{v:.3g}' for v in median_nc2)})"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return "\n".join(
            [
                "Per head depth L2: medians over the runs that did not diverge (NC1, NC2 = "
                "kappa(M_{L-1}) of the penultimate layer; kappa(W_L) against c3^(1/L2))",
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
