"""Jacot, Sukenik, Wang, Mondelli, "Wide Neural Networks Trained with Weight Decay Provably
Exhibit Neural Collapse" (ICLR 2025) as an nc_jax paper: the setting and its run function
(setting.py), the float64 measurements (measure.py), the checks (bounds.py) and the instance
families ``nc-jax falsify`` searches (falsify.py).

``nc-jax check jacot2025`` or ``python -m theorems.jacot2025`` runs it; ``PAPER`` is the entry
point registered in pyproject.toml; tables.py holds the tables of the paper's shipped grids
(``PAPER.tables``).
"""

from nc_jax.checks import Paper
from theorems.jacot2025.bounds import THEOREMS
from theorems.jacot2025.examples import EXAMPLES
from theorems.jacot2025.falsify import FAMILIES
from theorems.jacot2025.setting import Setting, run
from theorems.jacot2025.tables import TABLES

PAPER = Paper(
    name="jacot2025",
    title="Jacot, Sukenik, Wang, Mondelli, ICLR 2025",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    families=FAMILIES,
    examples=EXAMPLES,
    quick=dict(
        n_per_class=4,
        widths=(48, 12, 12, 12, 10),
        steps=200,
        log_every=100,
        learning_rates=(2e-3,),
        weight_decay=0.2,
        seeds=(0, 1),
        replay_steps=10,
    ),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
