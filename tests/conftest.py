"""Test configuration: float64 is enabled so that metrics can be checked to 1e-10 against NumPy.

Tests that exercise float32 create float32 arrays explicitly.
"""

import jax
import pytest

jax.config.update("jax_enable_x64", True)


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
