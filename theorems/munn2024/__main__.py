"""``python -m theorems.munn2024``: the same as ``nc-jax check munn2024``."""

import sys

from nc_jax.checks.runner import main
from theorems.munn2024 import PAPER

sys.exit(main(PAPER))
