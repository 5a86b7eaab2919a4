"""Test configuration: float64 is enabled so that metrics can be checked to 1e-10 against NumPy;
the Hypothesis profiles (below) keep property tests from flaking on busy CI machines.

Tests that exercise float32 create float32 arrays explicitly.
"""

import os

import jax
import pytest
from hypothesis import settings

jax.config.update("jax_enable_x64", True)

# Property tests: no deadline (2 busy cores make single examples slow, not wrong); under CI
# (CI=true) derandomized, so a run is reproducible and never flakes on a new random draw.
# HYPOTHESIS_PROFILE=dev|ci chooses one explicitly.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
DEFAULT_PROFILE = "ci" if os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or DEFAULT_PROFILE)


TOY_GRID = {
    "paper": "toy",
    "fixed": {"seeds": [0, 1, 2]},
    "grid": {"scale": [1.0, 2.0]},
    "zip": {"size": [10, 20, 40], "violate": [False, True, False], "diverge": [[], [], [0, 1, 2]]},
}


@pytest.fixture
def toy_sweep(tmp_path, monkeypatch):
    """A finished toy-paper sweep (tests/toy_paper.py) of TOY_GRID: 6 cells of 3 runs; the
    size-20 cells are planted violations, every run of the size-40 cells diverged."""
    import toy_paper

    from nc_jax import sweep

    monkeypatch.setattr(sweep, "get_paper", lambda name: toy_paper.PAPER)
    out = tmp_path / "sweep"
    sweep.sweep(sweep.parse_grid(TOY_GRID), out, progress=False, echo=lambda _: None)
    return out
