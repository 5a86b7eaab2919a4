"""``python -m theorems.yan2024``: the same as ``nc-jax check yan2024``."""

import sys

from nc_jax.checks.runner import main
from theorems.yan2024 import PAPER

sys.exit(main(PAPER))
