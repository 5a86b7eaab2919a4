"""Zhu, Ding, Zhou, Li, You, Sulam, Qu, "A Geometric Analysis of Neural Collapse with
Unconstrained Features" (NeurIPS 2021) as an nc_jax paper: the cross-entropy UFM's global
minimisers in closed form (closed_form.py), the setting and its run function (setting.py), the
float64 measurements (measure.py) and the checks (bounds.py).

``nc-jax check zhu2021`` or ``python -m theorems.zhu2021`` runs it; ``PAPER`` is the entry point
registered in pyproject.toml; tables.py holds the tables of the paper's shipped grids
(``PAPER.tables``).
"""

from nc_jax.checks import Paper
from theorems.zhu2021.bounds import THEOREMS
from theorems.zhu2021.examples import EXAMPLES
from theorems.zhu2021.setting import Setting, run
from theorems.zhu2021.tables import TABLES

PAPER = Paper(
    name="zhu2021",
    title="Zhu, Ding, Zhou, Li, You, Sulam, Qu, NeurIPS 2021",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    examples=EXAMPLES,
    quick=dict(seeds=(0, 1), steps=4000, log_every=1000),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
