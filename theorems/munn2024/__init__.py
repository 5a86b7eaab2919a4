"""Munn, Dherin, Gonzalvo, "The Impact of Geometric Complexity on Neural Collapse in Transfer
Learning" (NeurIPS 2024) as an nc_jax paper: the geometric complexity (GC) of a tanh MLP's
embedding against its CDNV, our Poincare stand-in for the paper's Proposition 4.1, the GC
estimators, our Chebyshev stand-in for its NCC bounds, and the paper's empirical claims on
sweeps and transfer to held-out classes. The setting and its run function (setting.py), the
float64 measurements (measure.py), the checks (bounds.py) and the table of the shipped
GC-vs-CDNV sweep (tables.py); docs/theory/munn2024.md states every check and convention.

``nc-jax check munn2024`` or ``python -m theorems.munn2024`` runs it; ``PAPER`` is the entry
point registered in pyproject.toml.
"""

from nc_jax.checks import Paper
from theorems.munn2024.bounds import THEOREMS
from theorems.munn2024.examples import EXAMPLES
from theorems.munn2024.setting import Setting, finish_cell, run
from theorems.munn2024.tables import TABLES

PAPER = Paper(
    name="munn2024",
    title="Munn, Dherin, Gonzalvo, NeurIPS 2024",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    finish_cell=finish_cell,
    examples=EXAMPLES,
    quick=dict(
        num_classes=6,
        source_classes=4,
        n_per_class=40,
        eval_per_class=40,
        widths=(16, 8),
        batch_size=32,
        gc_penalty=1e-3,
        learning_rates=(0.05, 0.2),
        weight_decays=(0.0,),
        seeds=(0, 1),
        steps=200,
        log_every=100,
        estimator_draws=40,
        estimator_batch=8,
        episodes=10,
    ),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
