"""Andriopoulos et al. (NeurIPS 2024), the weight-decay experiment in kind: do NRC1-NRC3 of a
trained MLP emerge with weight decay and stay away without it?

    python experiments/andriopoulos2024_weight_decay.py [--quick] [--out DIR] [--set KEY=VALUE]
    python experiments/andriopoulos2024_weight_decay.py --table DIR   # a finished sweep's table

A thin script over ``nc-jax sweep andriopoulos2024/weight_decay``; its table is
``theorems.andriopoulos2024.tables.weight_decay_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(
        experiment.main(
            "andriopoulos2024/weight_decay", None, summary, "results/andriopoulos2024_wd"
        )
    )
