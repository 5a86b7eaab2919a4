"""Section 5.2 of Jacot et al. (ICLR 2025) as a sweep: how close does GD get to the edge of
stability (eta lambda_max(NTK) -> 2) before it diverges, and what do the Section 5.2 bound and
the Section 4 balancing claim say there?

    python experiments/learning_rate.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/learning_rate.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/learning_rate``; its table is
``theorems.jacot2025.tables.learning_rate_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("jacot2025/learning_rate", None, summary, "results/learning_rate"))
