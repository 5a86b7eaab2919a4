"""Test configuration: float64 is enabled so that metrics can be checked to 1e-10 against NumPy.

Tests that exercise float32 create float32 arrays explicitly.
"""

import jax

jax.config.update("jax_enable_x64", True)
