"""Figure 3 of Jacot et al. (ICLR 2025) on real MNIST: do the ReLU layers become more linear
(less negative) and more balanced as the non-linear part deepens?

    python experiments/nonlinear_depth.py [--quick | --paper-scale] [--out DIR] [--set ...]
    python experiments/nonlinear_depth.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/nonlinear_depth``; its table is
``theorems.jacot2025.tables.nonlinear_depth_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("jacot2025/nonlinear_depth", None, summary, "results/nonlinear_depth"))
