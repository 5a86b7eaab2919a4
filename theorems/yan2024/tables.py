"""The answer of yan2024's shipped grid as text: ``imbalance_table`` reads a finished results
directory of ``nc-jax sweep yan2024/imbalance``; ``TABLES`` registers it on the paper
(``Paper.tables``).

The question: with our stand-in cosine loss towards a fixed multi-centre classifier, do the
features of every class, the rarest included, collapse to the mean of their class's centres as
the imbalance grows; and how far does our all-centre MSE stand-in miss that mean at each theta?
docs/theory/yan2024.md gives the grid's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nc_jax import results

COLLAPSE = "yan2024.e1d.collapse_to_centre_means"
COLUMNS = {
    "nc_ave": "NC_ave",
    "nc_std": "NC_std",
    "nc_tail": "tail class",
    "nc_ave_init": "NC_ave at init",
    "train_loss": "train loss",
    "all_centre_gap_min": "loss (ii) gap min",
    "all_centre_gap_max": "loss (ii) gap max",
}


def imbalance_table(directory: Path) -> str:
    """Per (imbalance ratio, theta): the largest NC_ave, NC_std and tail-class collapse over
    seeds, NC_ave at initialisation, the largest training loss, the all-centre stand-in's gap
    1 - cos(h*, cbar) (smallest and largest class) and the collapse claim's verdicts."""
    keys = ["imbalance_ratio", "theta"]
    table = results.load_runs(directory).groupby(keys)[list(COLUMNS)].max().rename(columns=COLUMNS)
    counts = results.verdict_counts(results.load(directory), COLLAPSE, keys)
    table["collapse h/v/vac"] = counts
    return "\n".join(
        [
            "Per (imbalance ratio n_0/n_{K-1}, theta): the worst seed's per-class collapse "
            "1 - cos(h, cbar_y) (mean and std over classes, the tail class), the training loss, "
            "the all-centre MSE stand-in's gap, and the collapse claim's verdicts",
            table.reset_index().to_string(index=False, float_format=lambda v: f"{v:.3g}"),
        ]
    )


TABLES: dict[str, Callable[[Path], str]] = {"imbalance": imbalance_table}
