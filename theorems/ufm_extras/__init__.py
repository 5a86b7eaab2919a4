"""Three additions to the unconstrained features model as an nc_jax paper: the nearest simplex
ETF in closed form (docs/theory/ufm_extras.md, Markou et al. NeurIPS 2024), Hadamard initialisation
of
the cross-entropy UFM and its reduction to singular values (E3, Garrod, Keating,
Thrampoulidis), and the UFM with imbalanced classes (its convex optimum and minority collapse,
derived in docs/theory/ufm_extras.md). The setting and run function (setting.py), the float64
measurements (measure.py), the solvers (stiefel.py, hadamard.py, imbalance.py) and the checks
(bounds.py).

``nc-jax check ufm_extras`` or ``python -m theorems.ufm_extras`` runs it; ``PAPER`` is the entry
point registered in pyproject.toml; tables.py holds the tables of the paper's shipped grids
(``PAPER.tables``).
"""

from nc_jax.checks import Paper
from theorems.ufm_extras.bounds import THEOREMS
from theorems.ufm_extras.examples import EXAMPLES
from theorems.ufm_extras.setting import Setting, run
from theorems.ufm_extras.tables import TABLES

PAPER = Paper(
    name="ufm_extras",
    title="UFM extras: nearest simplex ETF (Markou et al. 2024), Hadamard initialisation "
    "(Garrod et al.), imbalanced classes",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    examples=EXAMPLES,
    quick=dict(steps=200, log_every=50, seeds=(0,)),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
