"""Figure 2 (top) of Jacot et al. (ICLR 2025) on real MNIST, and Section 5 as a sweep: does NC2
improve as the linear head deepens, and does the last layer carry the head's conditioning
(kappa(W_L) = c3^(1/L2))?

    python experiments/head_depth.py [--quick | --paper-scale] [--out DIR] [--set KEY=VALUE ...]
    python experiments/head_depth.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/head_depth``; its table is
``theorems.jacot2025.tables.head_depth_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("jacot2025/head_depth", None, summary, "results/head_depth"))
