"""The layout of nc_jax.sweep: its modules import one another only downward (no cycle, none
imports the package back), the Ray executor only from grid, planning and execute; every module
imports without Ray and without starting a JAX backend; both executors are an Executor."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from nc_jax import sweep

PACKAGE = Path(sweep.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _sweep_imports(name: str) -> set[str]:
    """The nc_jax.sweep modules that module ``name`` imports anywhere (module level, functions,
    TYPE_CHECKING blocks); "" stands for the package itself."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .x import y
                base = ".".join(["nc_jax.sweep", *filter(None, [base])])
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "nc_jax.sweep":
                found.add("")
            elif target.startswith("nc_jax.sweep."):
                found.add(target.split(".")[2])
    return {module for module in found if module in MODULES or module == ""}


def test_the_modules_import_only_downward():
    graph = {name: _sweep_imports(name) for name in MODULES}
    assert not [name for name, imported in graph.items() if "" in imported]  # not the package
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle among nc_jax.sweep modules: {error.args[1]}")
    assert set(order) == set(MODULES)
    assert graph["ray"] <= {"grid", "planning", "execute"}
    assert "ray" not in graph["local"] and "local" not in graph["ray"]


def test_every_module_imports_without_ray_or_a_jax_backend():
    """Importing any submodule runs the package's __init__ first, so each is imported afresh
    (every nc_jax.sweep module dropped from sys.modules before) in one new interpreter where
    ``import ray`` fails. No JAX backend may start: a Ray worker configures JAX after importing
    nc_jax.sweep.ray."""
    script = f"""
import importlib, sys
sys.modules["ray"] = None
for name in {MODULES!r}:
    for loaded in [m for m in sys.modules if m == "nc_jax.sweep" or m.startswith("nc_jax.sweep.")]:
        del sys.modules[loaded]
    module = importlib.import_module("nc_jax.sweep." + name)
    assert module.__name__ == "nc_jax.sweep." + name
from jax._src import xla_bridge
assert not xla_bridge.backends_are_initialized(), "a JAX backend started on import"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_executors_are_picked_by_name_through_the_protocol():
    local = sweep.make_executor("local", [], None, 4, False)
    ray = sweep.make_executor("ray", [], "host:6379", 4, False)
    assert isinstance(local, sweep.LocalExecutor) and isinstance(ray, sweep.RayExecutor)
    assert all(isinstance(e, sweep.Executor) for e in (local, ray))
    assert ray.address == "host:6379" and ray.run_group == local.run_group == 4
    with pytest.raises(ValueError, match="--executor must be local or ray, got 'dask'"):
        sweep.make_executor("dask", [], None, None, True)
    assert set(sweep.EXECUTORS) == {"local", "ray"}
