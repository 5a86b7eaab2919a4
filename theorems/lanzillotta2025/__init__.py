"""Lanzillotta, Meier, Hofmann, "Heads collapse, features stay: Why Replay needs big buffers"
(ICLR 2026; arXiv 2512.07400) as an nc_jax paper: shallow and deep forgetting under experience
replay, trained task after task (nc_jax.train.continual) and read with linear probes
(nc_jax.metrics.probes). The setting and its run function (setting.py), the float64
measurements (measure.py), the checks (bounds.py) and the replay grid's table and figure
(tables.py); docs/theory/lanzillotta2025.md states every check and convention.

``nc-jax check lanzillotta2025`` or ``python -m theorems.lanzillotta2025`` runs it; ``PAPER``
is the entry point registered in pyproject.toml.
"""

from nc_jax.checks import Paper
from theorems.lanzillotta2025.bounds import THEOREMS
from theorems.lanzillotta2025.examples import EXAMPLES
from theorems.lanzillotta2025.setting import Setting, finish_cell, run
from theorems.lanzillotta2025.tables import TABLES

PAPER = Paper(
    name="lanzillotta2025",
    title="Lanzillotta, Meier, Hofmann, ICLR 2026",
    setting=Setting,
    theorems=THEOREMS,
    run=run,
    finish_cell=finish_cell,
    examples=EXAMPLES,
    quick=dict(
        n_train=40,
        n_test=40,
        widths=(32, 16),
        batch_size=32,
        steps=300,
        buffer_sizes=(0, 4, 40),
        seeds=(0,),
        probe_max_iter=200,
        frozen_steps=20,
        mixture_samples=20000,
    ),
    tables=TABLES,
)

__all__ = ["PAPER", "THEOREMS", "Setting", "run"]
