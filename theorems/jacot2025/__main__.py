"""``python -m theorems.jacot2025``: the same as ``nc-jax check jacot2025``."""

import sys

from nc_jax.checks.runner import main
from theorems.jacot2025 import PAPER

sys.exit(main(PAPER))
