"""Sukenik, Lampert, Mondelli (2025) in kind: does neural collapse of a regularised LayerNorm
ResNet (or transformer) grow with its depth, and does its objective approach the limit model's
optimum J*?

    python experiments/sukenik2025_depth.py [--transformer] [--quick] [--out DIR] [--set K=V ...]
    python experiments/sukenik2025_depth.py --table DIR      # the table of a finished sweep

A thin script over ``nc-jax sweep sukenik2025/depth``, or with ``--transformer`` over ``nc-jax
sweep sukenik2025/transformer_depth`` (into results/sukenik2025_transformer_depth by default);
the table of both is ``theorems.sukenik2025.tables.depth_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    args = sys.argv[1:]
    transformer = "--transformer" in args
    name = "sukenik2025/transformer_depth" if transformer else "sukenik2025/depth"
    summary = __doc__.split("\n\n")[0] + " (--transformer: the pre-LN transformer grid)"
    argv = [arg for arg in args if arg != "--transformer"]
    sys.exit(experiment.main(name, argv, summary, "results/" + name.replace("/", "_")))
