"""Layers that only point down: reading results (nc_jax.results, the plots, the report) and the
command line's start-up never import the training engine, and ``import nc_jax`` imports neither
the engine nor PyTorch. Checked in a fresh interpreter, where nothing else has imported them
yet. (A paper package, loaded to evaluate its checks, may still import the engine.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

READERS = "import nc_jax.results, nc_jax.plots, nc_jax.report"


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


@pytest.mark.parametrize("statement", ["import nc_jax", READERS, "import nc_jax.cli"])
def test_reading_results_imports_no_training_code(statement):
    modules = _imported_after(statement)
    assert not any(m == "nc_jax.train" or m.startswith("nc_jax.train.") for m in modules)
    assert "nc_jax.checks.context" not in modules
    assert "torch" not in modules


def test_the_training_context_still_loads_on_first_use():
    modules = _imported_after("from nc_jax.checks import TrainContext")
    assert {"nc_jax.checks.context", "nc_jax.train"} <= modules
