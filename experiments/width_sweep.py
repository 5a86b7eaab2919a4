"""Section 4 of Jacot et al. (ICLR 2025) as a width sweep: from which first-layer width on do the
hypotheses hold, and how does each check's slack move with width?

    python experiments/width_sweep.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/width_sweep.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/width``; its table is
``theorems.jacot2025.tables.width_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("jacot2025/width", None, summary, "results/width_sweep"))
