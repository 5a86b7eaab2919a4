"""Munn, Dherin, Gonzalvo (NeurIPS 2024): do a larger learning rate, a smaller batch, more weight
decay and a larger GC penalty give a lower geometric complexity and with it a lower CDNV?

    python experiments/munn2024_gc_cdnv.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/munn2024_gc_cdnv.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep munn2024/gc_cdnv``; its table is
``theorems.munn2024.tables.gc_cdnv_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("munn2024/gc_cdnv", None, summary, "results/munn2024_gc_cdnv"))
