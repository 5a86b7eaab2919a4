"""Test configuration: float64 is enabled so that metrics can be checked to 1e-10 against NumPy;
the Hypothesis profiles (below) keep property tests from flaking on busy CI machines.

Tests that exercise float32 create float32 arrays explicitly.
"""

import os
import tempfile
from pathlib import Path

# The suite is compile-bound (most of its programs run a few steps on tiny data), so XLA's CPU
# backend compiles without LLVM optimisation here: set before JAX starts its backend, inherited
# by the subprocesses the tests start; results agree to rounding, and users' runs are untouched.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

import jax  # noqa: E402
import pytest
from hypothesis import settings

jax.config.update("jax_enable_x64", True)

# One persistent XLA compilation cache for the whole run: the two xdist workers and every
# subprocess a test starts (the CLI, the experiment scripts) compile many identical programs,
# and each compiles once. The variables reach the subprocesses; the cached executables are the
# ones XLA would build, keyed on the program, the flags and the versions.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    str(Path(tempfile.gettempdir()) / f"nc-jax-tests-xla-cache-{os.getuid()}"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update(
    "jax_persistent_cache_min_compile_time_secs",
    float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
)

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

    monkeypatch.setattr(sweep.grid, "get_paper", lambda name: toy_paper.PAPER)
    out = tmp_path / "sweep"
    sweep.sweep(sweep.parse_grid(TOY_GRID), out, progress=False, echo=lambda _: None)
    return out
