"""Súkeník, Mondelli, Lampert (NeurIPS 2024) in kind: is deep neural collapse optimal in the deep
unconstrained features model, and what does gradient descent find instead?

    python experiments/sukenik2024_dufm.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/sukenik2024_dufm.py --table DIR      # the tables of a finished sweep

A thin script over ``nc-jax sweep sukenik2024/dufm`` (K in {2, 3, 6, 10},
n = 1, L = 2..5, width 15/30/60, lambda = 0.002/0.004/0.008 on H_1 and every W_l, learning
rate 0.5, 4 seeds, 20000 full-batch GD steps). It prints, per cell, the closed forms L_DNC and
L_SRG / L_DNC, the loss found / L_DNC (best and median over the seeds, the largest objective on
each run's final float64 orbit), the fractions of seeds below DNC (by more than 0.1%) and at DNC
(within 1%, every class-mean rank K), and the median class-mean ranks of the hidden layers; then
the fraction at DNC against the width (their Figure 3 right), the closed-form ratio
L_SRG / L_DNC against r (their Figure 3 left, K = C(r, 2)), and where DNC is and is not beaten.

The paper reports (abstract and figure captions, docs/theory/sukenik2024.md): DNC stops being
optimal as soon as L >= 3 or K >= 3 (the exact conditions are [U] in the notes); in the 4-DUFM
(K = 10, lambda = 0.004, lr 0.5, width 30, 10 runs) gradient descent ends below the DNC loss,
with low-rank intermediate layers; the SRG construction (r = 5: rank 5 before the last ReLU,
K after) beats DNC, its ratio L_SRG / L_DNC falls with r and with L; wider DUFMs reach DNC
more often. We measured: the default check (10 seeds, 15 s on 2 shared CPU cores): every
seed of the 4-DUFM ends below L_DNC = 0.099180, objective / L_DNC from 0.843 to 0.930 (median
0.894, best objective 0.08360), class-mean ranks 5 to 8 in H_2 and H_3, 5 to 7 before the last
ReLU and 10 after, below our SRG construction (0.0904, ratio 0.911) on 8 of 10 seeds. This sweep
(144 cells, 4 min 31 s on 2 CPU cores, init scale 0.5 at L = 5): DNC is never beaten at
K = 2, K = 3 or L = 2 (every seed reaches it); the best found/DNC, median over the cells of a
(K, L), is 0.945 (K = 6, L = 4), 0.891 (K = 6, L = 5), 1.001 (K = 10, L = 3; 0.983 at
lambda = 0.008, width 15), 0.863 (K = 10, L = 4), 0.802 (K = 10, L = 5); the below-DNC claim
is violated where GD optimises but every seed converges to DNC (K = 3, L >= 3; K = 6, L = 3;
7 cells at K = 10, L = 3; a few at width 60); the fraction of seeds at DNC grows with the width
(K = 10, L = 4: 0, 0, 0.33 at widths 15, 30, 60). Details: docs/theory/sukenik2024.md, "Measured".
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nc_jax import experiment, sweep
from nc_jax.models.ufm import dnc_loss
from nc_jax.sweep import grid_path
from theorems.sukenik2024.srg import srg_loss

GRID = grid_path("sukenik2024_dufm")
KEYS = ["num_classes", "depth", "weight_decay", "width"]
SRG_DEPTHS, SRG_R = (3, 4, 5), (3, 4, 5, 6, 7, 8)


def _hidden_ranks(group: pd.DataFrame) -> str:
    """Median post-ReLU class-mean rank of H_2..H_L over the group's runs, e.g. "5 5 10"."""
    depth = int(group["depth"].iloc[0])
    columns = [f"rank_post_{layer}" for layer in range(2, depth + 1)]
    return " ".join(f"{group[c].median():.0f}" for c in columns if c in group) or "-"


def cell_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (K, L, lambda, width) over its trained runs."""
    rows = []
    for key, group in runs.groupby(KEYS):
        rows.append(
            dict(zip(KEYS, key))
            | {
                "runs": len(group),
                "L_DNC": group["L_DNC"].iloc[0],
                "SRG/DNC": group["srg_ratio"].iloc[0],
                "best found/DNC": group["ratio_orbit_max"].min(),
                "median found/DNC": group["ratio_orbit_max"].median(),
                "below DNC": f"{int(group['below_dnc'].sum())}/{len(group)}",
                "at DNC": f"{int(group['reached_dnc'].sum())}/{len(group)}",
                "ranks H_2..H_L": _hidden_ranks(group),
            }
        )
    return pd.DataFrame(rows)


def srg_ratio_table(lam: float = 0.004) -> pd.DataFrame:
    """L_SRG / L_DNC (closed forms, n = 1, every lambda = ``lam``) for K = C(r, 2): rows r,
    columns L (their Figure 3 left)."""
    table = {
        f"L={depth}": [
            srg_loss(r * (r - 1) // 2, 1, depth, lam, lam)
            / dnc_loss(r * (r - 1) // 2, 1, depth, lam, lam).loss
            for r in SRG_R
        ]
        for depth in SRG_DEPTHS
    }
    return pd.DataFrame(table, index=pd.Index(SRG_R, name="r"))


def reach_table(cells: pd.DataFrame) -> str:
    """Fraction of seeds at DNC against the width, per (K, L, lambda) (Figure 3 right)."""
    reached = cells.assign(
        at=[int(s.split("/")[0]) / int(s.split("/")[1]) for s in cells["at DNC"]]
    )
    pivot = reached.pivot_table(
        index=["num_classes", "depth", "weight_decay"], columns="width", values="at"
    )
    return pivot.to_string(float_format=lambda v: f"{v:.2f}")


def verdict_lines(cells: pd.DataFrame) -> list[str]:
    """Where the best run beats DNC (by > 0.1%) and where no run does."""
    beaten = cells[cells["best found/DNC"] <= 1 - 1e-3]
    kept = cells[cells["best found/DNC"] > 1 - 1e-3]
    label = lambda f: sorted({(int(k), int(d)) for k, d in zip(f["num_classes"], f["depth"])})  # noqa: E731
    return [
        f"DNC beaten (some seed below L_DNC) in {len(beaten)}/{len(cells)} cells; (K, L) with a "
        f"beaten cell: {label(beaten)}",
        f"DNC not beaten by any seed in {len(kept)} cells; (K, L) with such a cell: {label(kept)}",
    ]


def dufm_table(directory: Path) -> str:
    """The answer of the sweep as text (module docstring)."""
    runs = sweep.load_runs(directory)
    trained = runs[runs["diverged_step"].isna()]
    diverged = len(runs) - len(trained)
    cells = cell_table(trained)
    return "\n".join(
        [
            "Per cell (found/DNC: the largest objective on each run's final float64 orbit "
            "over L_DNC; at DNC: within 1% and every class-mean rank K; ranks: median "
            f"post-ReLU class-mean ranks of H_2..H_L; {diverged} runs diverged)",
            cells.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
            "",
            "Fraction of seeds at DNC against the width (Figure 3 right in kind)",
            reach_table(cells),
            "",
            "L_SRG / L_DNC, closed forms, n = 1, lambda = 0.004 (Figure 3 left in kind)",
            srg_ratio_table().to_string(float_format=lambda v: f"{v:.4f}"),
            "",
            *verdict_lines(cells),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return experiment.main(
        GRID, dufm_table, argv, __doc__.split("\n\n")[0], "results/sukenik2024_dufm"
    )


if __name__ == "__main__":
    sys.exit(main())
