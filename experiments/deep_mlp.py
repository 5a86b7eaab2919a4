"""Figure 1 of Jacot et al. (ICLR 2025) on real MNIST: NC1, NC2, balancedness and negativity of
every layer of a 9-layer MLP (5 ReLU layers, a linear head of 4), and the class-mean matrices of
the head.

    python experiments/deep_mlp.py [--quick | --paper-scale] [--out DIR] [--set KEY=VALUE ...]
    python experiments/deep_mlp.py --table DIR      # the table of a finished run

A thin script over ``nc-jax sweep jacot2025/deep_mlp``; its table is
``theorems.jacot2025.tables.deep_mlp_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("jacot2025/deep_mlp", None, summary, "results/deep_mlp"))
