"""``python -m theorems.ufm_extras``: the same as ``nc-jax check ufm_extras``."""

import sys

from nc_jax.checks.runner import main
from theorems.ufm_extras import PAPER

sys.exit(main(PAPER))
