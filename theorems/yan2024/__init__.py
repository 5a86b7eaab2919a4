"""Yan et al., "Neural Collapse To Multiple Centers For Imbalanced Data" (NeurIPS 2024, NCMC)
as an nc_jax paper: the setting and its run function (setting.py), the float64 measurements
(measure.py) and the checks (bounds.py); the centres live in nc_jax.metrics.centres, the
collapse metric in nc_jax.metrics.alignment, the long-tail pieces in nc_jax.models.long_tail.

``nc-jax check yan2024`` or ``python -m theorems.yan2024`` runs it; ``PAPER`` is the entry point
registered in pyproject.toml.
"""

from nc_jax.checks import Paper
from theorems.yan2024.bounds import THEOREMS
from theorems.yan2024.examples import EXAMPLES
from theorems.yan2024.setting import Setting, run
from theorems.yan2024.tables import TABLES

PAPER = Paper(
    name="yan2024",
    title="Yan et al., NeurIPS 2024 (Neural Collapse To Multiple Centers)",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    examples=EXAMPLES,
    quick=dict(steps=1000, seeds=(0,)),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
