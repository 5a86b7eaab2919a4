"""Sukenik, Lampert, Mondelli, "Neural Collapse is Globally Optimal in Deep Regularized ResNets
and Transformers" (arXiv 2505.15239, 2025) as an nc_jax paper: the limit model's closed forms
(closed_form.py), the setting and its run function (setting.py), the float64 measurements
(measure.py) and the checks (bounds.py). docs/theory/sukenik2025.md states every formula.

``nc-jax check sukenik2025`` or ``python -m theorems.sukenik2025`` runs it; ``PAPER`` is the
entry point registered in pyproject.toml; tables.py holds the tables of the paper's shipped
grids (``PAPER.tables``).
"""

from nc_jax.checks import Paper
from theorems.sukenik2025.bounds import THEOREMS
from theorems.sukenik2025.examples import EXAMPLES
from theorems.sukenik2025.setting import Setting, finish_cell, run
from theorems.sukenik2025.tables import TABLES

PAPER = Paper(
    name="sukenik2025",
    title="Sukenik, Lampert, Mondelli, arXiv 2505.15239 (2025)",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    finish_cell=finish_cell,
    examples=EXAMPLES,
    quick=dict(
        n_per_class=3,
        width=12,
        depths=(1, 2, 4),
        steps=60,
        log_every=30,
        seeds=(0, 1),
        learning_rate=0.1,
    ),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
