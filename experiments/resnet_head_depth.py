"""Figure 5 of Jacot et al. (ICLR 2025) on real MNIST: ResNet20 with a deep linear head, NC1
and NC2 of the classifier's input and of the first linear layer against the head's depth
L2 = 1..5.

    python experiments/resnet_head_depth.py [--paper-scale] [--out DIR] [--set ...]
    python experiments/resnet_head_depth.py --quick       # 20 MNIST images, seconds
    python experiments/resnet_head_depth.py --table DIR   # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/resnet_head_depth``; its table is
``theorems.jacot2025.tables.head_depth_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(
        experiment.main("jacot2025/resnet_head_depth", None, summary, "results/resnet_head_depth")
    )
