"""Andriopoulos, Dong, Guo, Zhao, Ross, "The Prevalence of Neural Collapse in Neural
Multivariate Regression" (NeurIPS 2024) as an nc_jax paper: neural regression collapse
NRC1-NRC3 on trained MLPs with and without weight decay, and the regression UFM's closed-form
optimum against gradient descent. The data (data.py), the setting and its run function
(setting.py), the float64 measurements (measure.py) and the checks (bounds.py);
docs/theory/andriopoulos2024.md states every check and convention.

``nc-jax check andriopoulos2024`` or ``python -m theorems.andriopoulos2024`` runs it; ``PAPER``
is the entry point registered in pyproject.toml; tables.py holds the tables of the paper's
shipped grids (``PAPER.tables``).
"""

from nc_jax.checks import Paper
from theorems.andriopoulos2024.bounds import THEOREMS
from theorems.andriopoulos2024.examples import EXAMPLES
from theorems.andriopoulos2024.setting import Setting, run
from theorems.andriopoulos2024.tables import TABLES

PAPER = Paper(
    name="andriopoulos2024",
    title="Andriopoulos, Dong, Guo, Zhao, Ross, NeurIPS 2024",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    examples=EXAMPLES,
    quick=dict(
        num_samples=40,
        widths=(16, 16),
        steps=200,
        log_every=100,
        learning_rate=0.05,
        weight_decays=(0.0, 0.3),
        seeds=(0,),
        ufm_seeds=(0,),
        ufm_width=6,
        ufm_steps=2000,
    ),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
