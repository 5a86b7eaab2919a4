"""Súkeník, Mondelli, Lampert, "Neural collapse vs. low-rank bias: Is deep neural collapse
really optimal?" (NeurIPS 2024) as an nc_jax paper: the deep unconstrained features model
(L-DUFM) trained by gradient descent (setting.py), the DNC and SRG configurations and their
closed-form losses (srg.py), the float64 measurements (measure.py) and the checks (bounds.py).

``nc-jax check sukenik2024`` or ``python -m theorems.sukenik2024`` runs it; ``PAPER`` is the
entry point registered in pyproject.toml; tables.py holds the tables of the paper's shipped
grids (``PAPER.tables``). Theory: docs/theory/sukenik2024.md.
"""

from nc_jax.checks import Paper
from theorems.sukenik2024.bounds import THEOREMS
from theorems.sukenik2024.examples import EXAMPLES
from theorems.sukenik2024.setting import Setting, finish_cell, run
from theorems.sukenik2024.tables import TABLES

PAPER = Paper(
    name="sukenik2024",
    title="Súkeník, Mondelli, Lampert, NeurIPS 2024",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    finish_cell=finish_cell,
    examples=EXAMPLES,
    quick=dict(width=20, steps=6000, log_every=1000, seeds=(0, 1, 2)),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
