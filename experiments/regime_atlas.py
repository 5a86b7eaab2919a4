"""The regime atlas of Jacot et al. (ICLR 2025), Theorem 3.1: where does each bound become
informative, which hypothesis fails first where it does not, by what factor is Section 4's
condition (11) conservative, and at what rate does each bound follow its measurement?

    python experiments/regime_atlas.py [--quick | --paper-scale] [--out DIR] [--set KEY=VALUE]
    python experiments/regime_atlas.py --table DIR     # the tables of a finished sweep
    nc-jax plot DIR --x weight_decay --y steps         # the atlas figures (heatmaps)

A thin script over ``nc-jax sweep jacot2025/regime_atlas``; its table is
``theorems.jacot2025.tables.atlas_tables``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("jacot2025/regime_atlas", None, summary, "results/regime_atlas"))
