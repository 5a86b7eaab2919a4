"""``python -m theorems.andriopoulos2024``: the same as ``nc-jax check andriopoulos2024``."""

import sys

from nc_jax.checks.runner import main
from theorems.andriopoulos2024 import PAPER

sys.exit(main(PAPER))
