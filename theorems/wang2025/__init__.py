"""Wang, Gao, Xie, "Space Alignment Matters: The Missing Piece for Inducing Neural Collapse in
Long-Tailed Learning" (AAAI 2026, arXiv 2512.07844) as an nc_jax paper: the setting and its run
function (setting.py), the float64 measurements (measure.py) and the checks (bounds.py); the
shared long-tail pieces live in nc_jax.metrics.alignment and nc_jax.models.long_tail.

``nc-jax check wang2025`` or ``python -m theorems.wang2025`` runs it; ``PAPER`` is the entry
point registered in pyproject.toml; tables.py holds the table of its shipped grid
(``PAPER.tables``).
"""

from nc_jax.checks import Paper
from theorems.wang2025.bounds import THEOREMS
from theorems.wang2025.examples import EXAMPLES
from theorems.wang2025.setting import Setting, run
from theorems.wang2025.tables import TABLES

PAPER = Paper(
    name="wang2025",
    title="Wang, Gao, Xie, AAAI 2026 (arXiv 2512.07844)",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    examples=EXAMPLES,
    quick=dict(seeds=(0,)),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
