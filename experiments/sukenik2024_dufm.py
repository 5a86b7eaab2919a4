"""Súkeník, Mondelli, Lampert (NeurIPS 2024) in kind: is deep neural collapse optimal in the deep
unconstrained features model, and what does gradient descent find instead?

    python experiments/sukenik2024_dufm.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/sukenik2024_dufm.py --table DIR      # the tables of a finished sweep

A thin script over ``nc-jax sweep sukenik2024/dufm``; its table is
``theorems.sukenik2024.tables.dufm_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("sukenik2024/dufm", None, summary, "results/sukenik2024_dufm"))
