"""Figure 5 of Jacot et al. (ICLR 2025) on real MNIST: ResNet20 with a deep linear head, NC1
and NC2 of the classifier's input and of the first linear layer against the head's depth
L2 = 1..5.

    python experiments/resnet_head_depth.py [--paper-scale] [--out DIR] [--set ...]
    python experiments/resnet_head_depth.py --quick       # 20 MNIST images, seconds
    python experiments/resnet_head_depth.py --table DIR   # the table of a finished sweep

A thin script over ``nc-jax sweep jacot2025/resnet_head_depth`` with the
table of experiments/head_depth.py (the same questions, the backbone a ResNet20 instead of ReLU
layers; the head's input is the pooled backbone output). The full mode is sized for the 2-core
CPU (half-width ResNet20, 50 images, 2 seeds, 1800 steps: 29 min 59 s); we measured NC2 of the
classifier's input 19.8, 11.4, 6.1, 3.8, 11.1 at L2 = 1..5 (medians over 2 seeds; the deepest
head is the least fitted after 1800 steps), and with --set steps=2400 15.3, 8.5, 4.0, 3.2, 3.5.
The paper reports (Figure 5, appendix: ResNet20 on MNIST, linear depth varied; Figure 2,
bottom, of the camera-ready: the same on CIFAR-10, 1..6 linear layers, weight decay 0.001,
learning rate 0.001): NC2 more prominent with a deeper head. With
``--set 'dataset="cifar10"' --set 'data_dir="DIR"'`` and local CIFAR-10 pickles the same script
runs Figure 2, bottom.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from nc_jax import experiment
from nc_jax.sweep import grid_path

HERE = Path(__file__).parent
GRID = grid_path("jacot2025_resnet_head_depth")


def _head_depth_script():
    """experiments/head_depth.py as a module (its table serves both head-depth sweeps)."""
    spec = importlib.util.spec_from_file_location("head_depth", HERE / "head_depth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    table = _head_depth_script().depth_table
    summary = __doc__.split("\n\n")[0]
    return experiment.main(GRID, table, argv, summary, "results/resnet_head_depth")


if __name__ == "__main__":
    sys.exit(main())
