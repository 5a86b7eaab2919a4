"""Section 5.2 of Jacot et al. (ICLR 2025) as a sweep: how close does GD get to the edge of
stability (eta lambda_max(NTK) -> 2) before it diverges, and what do the Section 5.2 bound and
the Section 4 balancing claim say there?

    python experiments/learning_rate.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/learning_rate.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/learning_rate`` (the default
network, 32 seeds per learning rate). Per learning rate: the divergence rate, the median and
largest eta lambda_max(NTK) of the trained networks (lambda_max by a converged Lanczos iteration),
the median head conditioning c3, the ``sec5_2.edge_of_stability`` verdicts (holds / violated /
vacuous), how many of its bounds beat the untrained network's c3 (informative), and the
``sec4.balancing`` claim's verdicts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from nc_jax import experiment, results, sweep
from nc_jax.sweep import grid_path

GRID = grid_path("jacot2025_learning_rate")
EDGE = "jacot2025.sec5_2.edge_of_stability"


def learning_rate_table(directory: Path) -> str:
    """The answer of the learning-rate sweep as text (see the module docstring)."""
    runs = sweep.load_runs(directory)
    checks = sweep.load(directory)
    trained = runs[runs["diverged_step"].isna()]
    table = pd.DataFrame(
        {
            "runs": runs.groupby("learning_rate").size(),
            "diverged": runs.groupby("learning_rate")["diverged_step"].count(),
        }
    )
    table["divergence rate"] = (table["diverged"] / table["runs"]).map(lambda v: f"{v:.0%}")
    grouped = trained.groupby("learning_rate")
    table["eta lambda_max median"] = grouped["stability_product"].median()
    table["eta lambda_max max"] = grouped["stability_product"].max()
    table["c3 median"] = grouped["kappa_head"].median()
    table["eps1 median"] = grouped["eps1"].median()
    table["eps2 median"] = grouped["eps2"].median()
    edge = checks[checks["check"] == EDGE]
    table["EoS bound h/v/vac"] = results.verdict_counts(checks, EDGE, "learning_rate")
    table["EoS slack median"] = (
        edge[edge["verdict"] != "vacuous"].groupby("learning_rate")["slack"].median()
    )
    table["EoS informative"] = edge.groupby("learning_rate")["informative"].apply(
        lambda f: int(f.fillna(False).sum())
    )
    table["balancing claim h/v/vac"] = results.verdict_counts(
        checks, "jacot2025.sec4.balancing", "learning_rate"
    )
    return "\n".join(
        [
            "Per learning rate (eta lambda_max: the trained networks' stability product; "
            "GD is stable below 2)",
            table.to_string(float_format=lambda v: f"{v:.4g}"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return experiment.main(
        GRID, learning_rate_table, argv, __doc__.split("\n\n")[0], "results/learning_rate"
    )


if __name__ == "__main__":
    sys.exit(main())
