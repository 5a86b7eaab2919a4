"""Benchmark: training throughput of the engine against PyTorch (see nc_jax.bench.train).

Usage: python experiments/bench_train.py [--regime small|wide|all] [--repeats 3] [--skip-torch]
"""

from __future__ import annotations

import sys

from nc_jax.bench.train import main

if __name__ == "__main__":
    sys.exit(main())
