"""``python -m theorems.wang2025``: the same as ``nc-jax check wang2025``."""

import sys

from nc_jax.checks.runner import main
from theorems.wang2025 import PAPER

sys.exit(main(PAPER))
