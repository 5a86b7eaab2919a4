"""Lanzillotta, Meier, Hofmann (ICLR 2026), the replay efficiency gap in kind: does a small
replay buffer remove deep forgetting (linear probes) much faster than shallow forgetting (the
network's own head)?

    python experiments/lanzillotta2025_replay.py [--quick] [--out DIR] [--set KEY=VALUE]
    python experiments/lanzillotta2025_replay.py --table DIR   # a finished sweep's table

A thin script over ``nc-jax sweep lanzillotta2025/replay``; its table and figure are
``theorems.lanzillotta2025.tables.replay_table``.
"""

import sys

from nc_jax import experiment

if __name__ == "__main__":
    summary = __doc__.split("\n\n")[0]
    sys.exit(experiment.main("lanzillotta2025/replay", None, summary, "results/lanzillotta2025"))
