"""``python -m theorems.sukenik2024``: the same as ``nc-jax check sukenik2024``."""

import sys

from nc_jax.checks.runner import main
from theorems.sukenik2024 import PAPER

sys.exit(main(PAPER))
