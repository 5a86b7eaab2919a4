"""``python -m theorems.zhu2021``: the same as ``nc-jax check zhu2021``."""

import sys

from nc_jax.checks.runner import main
from theorems.zhu2021 import PAPER

sys.exit(main(PAPER))
