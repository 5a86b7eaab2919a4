"""``python -m theorems.sukenik2025``: the same as ``nc-jax check sukenik2025``."""

import sys

from nc_jax.checks.runner import main
from theorems.sukenik2025 import PAPER

sys.exit(main(PAPER))
