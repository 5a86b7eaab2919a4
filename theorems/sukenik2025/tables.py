"""The answer of sukenik2025's shipped grids as text: ``depth_table`` reads a finished results
directory of ``nc-jax sweep sukenik2025/depth`` or ``nc-jax sweep
sukenik2025/transformer_depth``; ``TABLES`` registers it for both on the paper
(``Paper.tables``, found by ``nc_jax.sweep.grid_table``).

Sukenik, Lampert, Mondelli (2025) in kind: does neural collapse of a regularised LayerNorm
ResNet (or transformer) grow with its depth, and does its objective approach the limit model's
optimum J*?

depth: LN-ResNets (L-RN1) of width 32 at depths L = 1, 2, 4, 8, 16 on the embedded digits,
cross entropy, weight decay lambda in {0.02, 0.05, 0.1} (the grid axis), 3 seeds. We measured
(2 min 12 s on 2 shared CPU cores): the exponent a, mean +- std over 3 seeds, at
lambda = 0.02 / 0.05 / 0.1 is 0.20 +- 0.10 / 0.31 +- 0.03 / 0.33 +- 0.01 for NC1,
0.16 +- 0.14 / 0.25 +- 0.03 / 0.23 +- 0.06 for NC2, -0.08 +- 0.16 / 0.03 +- 0.01 /
0.11 +- 0.16 for NC3 and 0.02 +- 0.16 / 0.14 +- 0.05 / 0.17 +- 0.02 for the gap. NC1 and NC2
fall on every seed; at lambda = 0.02 the depth-16 networks train worse and the NC3 and gap
claims fail on 2 of 3 seeds. objective >= J* holds everywhere, with the median gap at
L = 16 at 11% of J* (lambda = 0.05 and 0.1).

transformer_depth: pre-LN transformers of width 32 (8 tokens of 8 pixels, mean pooling, one
linear head) at L = 1, 2, 4, 8, lambda in {0.05, 0.1}, 3 seeds, 400 full-batch Adam steps; the
same table. We measured (3 min 18 s on 2 CPU cores shared with another job): the exponent a at
lambda = 0.05 / 0.1 is 0.17 +- 0.16 / 0.37 +- 0.13 for NC1, -0.13 +- 0.04 / -0.04 +- 0.01 for
NC2 (it rises with depth on every seed), -0.02 +- 0.14 / 0.28 +- 0.22 for NC3 and
-0.22 +- 0.11 / -0.01 +- 0.04 for the gap; objective >= J* holds everywhere (the ball
hypothesis), but every objective is 2 to 2.9 times J* and still falling: the trends are those
of the training budget (docs/theory/sukenik2025.md, "The transformer").

Figures: ``nc-jax plot DIR --x weight_decay`` (bound vs measured per check: J* against the best
objective, the exponents against 0) and the training curves (the objective of every depth
against J* along training, per cell).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from nc_jax import results
from theorems.sukenik2025.measure import METRICS


def per_depth(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (lambda, depth, seed): nc1, nc2, nc3, gap and gap / J* of that network."""
    rows = []
    for _, run in runs.iterrows():
        depths = sorted(
            int(c.split("=")[1].rstrip("]")) for c in run.index if c.startswith("nc1[L=")
        )
        for depth in depths:
            if pd.isna(run.get(f"nc1[L={depth}]")):
                continue
            row = {"lambda": run["weight_decay"], "L": depth, "seed": run["seed"]}
            row |= {name: run[f"{name}[L={depth}]"] for name in METRICS}
            row["gap / J*"] = row["gap"] / run["J_star"]
            rows.append(row)
    return pd.DataFrame(rows)


def exponent_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per lambda and metric: mean and std over seeds of the fitted exponent a, the mean of
    the per-seed standard errors and the seeds with a > 0."""
    rows = []
    for lam, group in runs.groupby("weight_decay"):
        for name in METRICS:
            exponents = group[f"{name}_exponent"].astype(float)
            rows.append(
                {
                    "lambda": lam,
                    "metric": name,
                    "a mean": exponents.mean(),
                    "a std": exponents.std(ddof=1) if len(exponents) > 1 else np.nan,
                    "mean se": group[f"{name}_exponent_se"].astype(float).mean(),
                    "a > 0": f"{int((exponents > 0).sum())}/{len(exponents)}",
                }
            )
    return pd.DataFrame(rows)


def depth_table(directory: Path) -> str:
    """The answer of a depth sweep as text: per lambda and depth the median over seeds of NC1,
    NC2, NC3 of the LN features and of the gap objective(L) - J* (also relative to J*); per
    lambda and metric the exponent a of the per-seed power law fit metric ~ c L^(-a), as mean
    +- standard deviation over the seeds (the paper's rate is unknown to us: this is the
    measured one), the mean of its per-seed standard errors, and the verdicts of the trend
    claims and of the lower bound objective >= J* (the module docstring gives the grids and
    what we measured)."""
    runs = results.load_runs(directory)
    checks = results.load(directory)
    trained = runs[runs["diverged_step"].isna()]
    networks = per_depth(trained)
    medians = networks.groupby(["lambda", "L"])[[*METRICS, "gap / J*"]].median()
    verdicts = {
        check: results.verdict_counts(checks, check, "weight_decay")
        for check in dict.fromkeys(checks["check"])
    }
    float_format = lambda v: f"{v:.4g}"  # noqa: E731
    return "\n".join(
        [
            f"{len(runs)} seed profiles, {len(runs) - len(trained)} diverged",
            "Per lambda and depth L: medians over seeds (NC of the LN features; "
            "gap = objective(L) - J*)",
            medians.to_string(float_format=float_format),
            "",
            "Fitted exponent a of metric ~ c L^(-a) per seed: mean +- std over seeds",
            exponent_summary(trained).to_string(index=False, float_format=float_format),
            "",
            "Verdicts (holds/violated/vacuous) per lambda:",
            pd.DataFrame(verdicts).to_string(),
        ]
    )


TABLES: dict[str, Callable[[Path], str]] = {
    "depth": depth_table,
    "transformer_depth": depth_table,
}
