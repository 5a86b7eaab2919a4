"""Súkeník, Mondelli, Lampert (NeurIPS 2024), the real-data run in kind: does a ResNet20 with a
deep ReLU head, trained with DUFM-like regularisation, end at deep neural collapse or below it
with low-rank head layers?

    python experiments/sukenik2024_resnet.py --set 'data_dir="DIR"' [--out DIR] [--set ...]
    python experiments/sukenik2024_resnet.py --quick      # digits as 8x8 images
    python experiments/sukenik2024_resnet.py --table DIR  # the tables of a finished run

A thin script over ``nc-jax sweep sukenik2024/resnet``; its table is
``theorems.sukenik2024.tables.resnet_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("sukenik2024/resnet", None, summary, "results/sukenik2024_resnet"))
