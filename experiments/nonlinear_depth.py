"""Figure 3 of Jacot et al. (ICLR 2025) on real MNIST: do the ReLU layers become more linear
(less negative) and more balanced as the non-linear part deepens?

    python experiments/nonlinear_depth.py [--quick | --paper-scale] [--out DIR] [--set ...]
    python experiments/nonlinear_depth.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/nonlinear_depth`` (L1 = 4, 6,
.., 12 ReLU layers, an L2 = 3 linear head, weight decay 0.016 / L per sample, the paper's two
learning rates, 4 seeds). From the layer metrics the engine logged at the end of training, per
learning rate and L1 and over the runs that did not diverge: the mean and the smallest
negativity ||min(H_l, 0)||_op / ||H_l||_op of the ReLU layers, and the mean and smallest
relative balancedness ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op / max(||W_l||, ||W_{l+1}||)^2 of the
pairs inside the non-linear part (l = 1..L1-1; the scale-free form, since the paper's
normalisation is not known to us); then Theorem 3.1's regime per cell. The paper's claim is read
as: both means decrease as L1 grows.

The paper reports (Figure 3 of the camera-ready: MLPs on MNIST of non-linear depth 4..12,
learning rate 0.001 and 0.002, weight decay 0.016 / L): the ReLU layers less negative and more
balanced as the non-linear part deepens. We measured (the embedded MNIST sample, N = 200,
lambda = 0.016 N / L, eta = 7.5e-5 and 1.5e-4, 24000 steps, 4 seeds, 17 min 4 s on 2 CPU
cores): not seen; both means rise with depth instead. Mean negativity 0.61, 0.60, 0.62, 0.64,
0.65 (eta = 7.5e-5) and 0.40, 0.41, 0.45, 0.52, 0.49 (1.5e-4) for L1 = 4..12; mean relative
balancedness 0.78 to 0.81 and 0.51 to 0.71. These networks stop at eta lambda t = 0.38 to 1.6
(eps2 0.43 to 1.23; the deeper ones get the smaller weight decay), while the paper speaks of
converged networks: the trend of a training budget, not a refutation.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from nc_jax import experiment, results, sweep
from nc_jax.sweep import grid_path
from theorems.jacot2025.regime import regime_table

GRID = grid_path("jacot2025_nonlinear_depth")


def _nonlinear_depth(config: dict) -> int:
    """L1 of a cell's setting: its layers minus its linear head."""
    return len(config["widths"]) - config["num_linear"]


def _layer_summaries(directory: Path) -> pd.DataFrame:
    """One row per trained run: its learning rate, L1 and the mean / min negativity and
    relative balancedness of its non-linear part at the last log."""
    rows = []
    for record in results.read_cells(directory):
        arrays = results.read_arrays(directory, record["cell"])
        depth = _nonlinear_depth(record["config"])
        negativity = np.asarray(arrays["layer/negativity"])[:, -1, :depth]
        balance = np.asarray(arrays["layer/relative_balancedness"])[:, -1, : depth - 1]
        rates = {run["index"]: run["params"]["learning_rate"] for run in record["runs"]}
        for run, trained in enumerate(arrays["diverged"][:, -1] == 0):
            if not trained:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rows.append(
                    {
                        "learning_rate": rates[run],
                        "L1": depth,
                        "negativity mean": np.nanmean(negativity[run]),
                        "negativity min": np.nanmin(negativity[run]),
                        "balancedness mean": np.nanmean(balance[run]),
                        "balancedness min": np.nanmin(balance[run]),
                    }
                )
    return pd.DataFrame(rows)


def depth_table(directory: Path) -> str:
    """The answer of the non-linear-depth sweep as text (see the module docstring)."""
    runs = sweep.load_runs(directory)
    depths = {r["cell"]: _nonlinear_depth(r["config"]) for r in results.read_cells(directory)}
    runs["L1"] = runs["cell"].map(depths)
    keys = ["learning_rate", "L1"]
    summaries = _layer_summaries(directory)
    table = summaries.groupby(keys).median()
    table.insert(0, "trained", summaries.groupby(keys).size())
    table.insert(0, "runs", runs.groupby(keys).size())
    claims = []
    for rate, rows in table.groupby(level="learning_rate"):
        means = rows[["negativity mean", "balancedness mean"]]
        trends = {
            name: "decreasing"
            if bool((np.diff(means[name].to_numpy()) < 0).all())
            else "not monotone"
            for name in means.columns
        }
        claims.append(
            f"learning rate {rate:g}: claim 'deeper non-linear part: ReLU layers less negative "
            "and more balanced': " + ", ".join(f"{name} {trend}" for name, trend in trends.items())
        )
    return "\n".join(
        [
            "Per learning rate and non-linear depth L1: medians over the trained runs of the "
            "non-linear part's negativity and relative balancedness at the end of training",
            table.to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            *claims,
            "",
            regime_table(directory),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return experiment.main(
        GRID, depth_table, argv, __doc__.split("\n\n")[0], "results/nonlinear_depth"
    )


if __name__ == "__main__":
    sys.exit(main())
