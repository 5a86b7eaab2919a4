"""Layers that only point down: reading results (nc_jax.results, the plots, the report) and the
command line's start-up never import the training engine, and ``import nc_jax`` imports neither
the engine nor PyTorch. Checked in a fresh interpreter, where nothing else has imported them
yet. (A paper package, loaded to evaluate its checks, may still import the engine.) Neither the
core nor the sweep imports the benchmarks (nc_jax.bench), and nc_jax.train's modules form layers
with no import cycle."""

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


@pytest.mark.parametrize(
    "statement",
    ["import nc_jax", "import nc_jax.cli", "import nc_jax.sweep", "import nc_jax.checks.runner"],
)
def test_the_core_imports_neither_the_benchmarks_nor_pytorch(statement):
    """The benchmarks (nc_jax.bench) load only when ``nc-jax bench`` runs; PyTorch only with
    their PyTorch rows."""
    modules = _imported_after(statement)
    assert not any(m == "nc_jax.bench" or m.startswith("nc_jax.bench.") for m in modules)
    assert "torch" not in modules


def test_the_training_context_still_loads_on_first_use():
    modules = _imported_after("from nc_jax.checks import TrainContext")
    assert {"nc_jax.checks.context", "nc_jax.train"} <= modules


# nc_jax.train's modules, each importing only modules listed before it
TRAIN_LAYERS = (
    "losses",
    "checkpoint",
    "cache",
    "config",
    "optim",
    "step",
    "devices",
    "programs",
    "loop",
    "continual",
    "continual_readout",
)


def test_the_training_modules_import_only_the_layers_below_them():
    import ast
    from pathlib import Path

    import nc_jax.train

    package = Path(nc_jax.train.__file__).parent
    assert {p.stem for p in package.glob("*.py")} == {*TRAIN_LAYERS, "__init__"}
    for rank, name in enumerate(TRAIN_LAYERS):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {
            node.module.removeprefix("nc_jax.train.")
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nc_jax.train")
        }
        assert "nc_jax.train" not in imported, name  # the package itself imports every layer
        assert imported <= set(TRAIN_LAYERS[:rank]), (name, imported)
