"""Test configuration: float64 is enabled so that metrics can be checked to 1e-10 against NumPy;
the Hypothesis profiles (below) keep property tests from flaking on busy CI machines; one
persistent compilation cache serves the whole run.

Tests that exercise float32 create float32 arrays explicitly.
"""

import os
import shutil
import tempfile
from pathlib import Path

# Many tests compile the same small programs (a tiny setting of a paper, the metric log): JAX's
# persistent compilation cache, shared by both pytest-xdist workers and every subprocess a test
# starts (they inherit the environment), compiles each once per run. Set before jax is imported;
# one directory per pytest run (the workers' parent), so a run never reads another's entries;
# NC_JAX_TEST_CACHE=0 turns it off.
RUN = os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()
TEST_CACHE = Path(tempfile.gettempdir()) / f"nc-jax-tests-{RUN}"
if os.environ.get("NC_JAX_TEST_CACHE", "1") != "0":
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(TEST_CACHE))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

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


def pytest_sessionfinish(session):
    """The run's compilation cache is removed by the process that named it (the xdist
    controller, or the only process)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(TEST_CACHE, ignore_errors=True)
