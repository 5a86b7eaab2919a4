"""Minority collapse in the cross-entropy UFM as a sweep of the imbalance ratio: where do the
minority classes' classifier rows coincide, and does gradient descent reach the optimum the
convex program predicts on both sides of the threshold?

    python experiments/ufm_imbalance.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/ufm_imbalance.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep ufm_imbalance``; its table is
``theorems.ufm_extras.tables.imbalance_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("ufm_imbalance", None, summary, "results/ufm_imbalance"))
