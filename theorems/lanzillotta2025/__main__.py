"""``python -m theorems.lanzillotta2025``: the same as ``nc-jax check lanzillotta2025``."""

import sys

from nc_jax.checks.runner import main
from theorems.lanzillotta2025 import PAPER

sys.exit(main(PAPER))
