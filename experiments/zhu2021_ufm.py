"""Zhu et al. (NeurIPS 2021) on the cross-entropy UFM, swept across the threshold: does gradient
descent from random starts reach the closed-form global minimiser, and how fast?

    python experiments/zhu2021_ufm.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/zhu2021_ufm.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep zhu2021/ufm``; its table is
``theorems.zhu2021.tables.ufm_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("zhu2021/ufm", None, summary, "results/zhu2021_ufm"))
