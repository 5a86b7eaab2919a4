"""Layers that only point down, read from the source: every import of nc_jax and theorems (at
module level, inside functions, under TYPE_CHECKING) goes to a module of the same layer or a
lower one, and the module graph has no cycle. Reading results (``nc-jax plot``, ``nc-jax
report``) imports no training code, checked by running the commands in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lowest first: a module may import modules of its own layer or of a lower one. A name is a
# module or a package prefix (the longest listed prefix decides).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("nc_jax", "nc_jax.io", "nc_jax.validation", "nc_jax.progress", "nc_jax.exits"),
    ("nc_jax.metrics", "nc_jax.models", "nc_jax.data", "nc_jax.examples"),
    ("nc_jax.train",),
    ("nc_jax.checks.contract", "nc_jax.checks.fields", "nc_jax.checks.options"),
    ("nc_jax.results", "nc_jax.checks.validate", "nc_jax.falsify"),
    ("nc_jax.checks", "nc_jax.checks.bucket", "nc_jax.checks.context"),
    ("nc_jax.plots", "nc_jax.report", "nc_jax.tensorboard"),
    ("nc_jax.checks.runner",),
    ("nc_jax.sweep",),
    ("nc_jax.experiment",),
    ("nc_jax.bench",),  # imported by the command line only, lazily (tests/test_layers.py)
    ("nc_jax.cli",),
    ("theorems",),  # papers: anything of nc_jax, never another paper
)


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("nc_jax", "theorems"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that ``import name`` loads (its longest existing prefix)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                owner = _owner(target, modules)
                if owner is not None and owner != module:
                    edges[module].add(owner)
    return edges


def _layer(module: str) -> int:
    best, rank = "", None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, rank = name, index
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def _paper(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "theorems" and len(parts) > 1 else None


def _upward(modules: dict[str, Path]) -> list[str]:
    return sorted(
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, targets in _imports(modules).items()
        for b in targets
        if _layer(b) > _layer(a)
    )


def _cycle(modules: dict[str, Path]) -> list[str] | None:
    """A cycle of the module graph (its modules, the first repeated at the end), or None."""
    edges = _imports(modules)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                return [*path, module, target]
            if target not in state and (cycle := visit(target, [*path, module])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(modules):
        if module not in state and (cycle := visit(module, [])):
            return cycle
    return None


def test_every_import_points_down_or_sideways():
    upward = _upward(_modules())
    assert not upward, "\n".join(upward)


def test_the_module_graph_has_no_cycle():
    cycle = _cycle(_modules())
    assert cycle is None, " -> ".join(cycle)


def test_no_paper_imports_another():
    crossing = [
        (a, b)
        for a, targets in _imports(_modules()).items()
        for b in targets
        if _paper(a) and _paper(b) and _paper(a) != _paper(b)
    ]
    assert not crossing


def test_a_planted_upward_import_and_a_planted_cycle_are_found(tmp_path):
    """results importing the runner is an upward arrow; the runner imports results: a cycle."""
    planted = tmp_path / "results.py"
    planted.write_text("def f():\n    from nc_jax.checks.runner import main\n")
    modules = _modules() | {"nc_jax.results": planted}
    assert _upward(modules) == ["nc_jax.results (layer 4) imports nc_jax.checks.runner (layer 7)"]
    cycle = _cycle(modules)
    assert cycle is not None and "nc_jax.results" in cycle and "nc_jax.checks.runner" in cycle


TRAINING = ("nc_jax.train", "nc_jax.checks.context", "optax", "flax", "torch", "theorems")


def test_plot_and_report_run_without_importing_training_code(toy_sweep, tmp_path):
    for command in (
        ["plot", str(toy_sweep), "--out", str(tmp_path / "plots")],
        ["report", str(toy_sweep), "--output", str(tmp_path / "report.html")],
    ):
        code = (
            "import sys; from nc_jax.cli import main; status = main(" + repr(command) + "); "
            "print(' '.join(sorted(sys.modules))); sys.exit(status)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        loaded = done.stdout.split()[-1:] and done.stdout.strip().splitlines()[-1].split()
        training = [m for m in loaded if m.startswith(TRAINING)]
        assert not training, (command[0], training)
    assert (tmp_path / "report.html").is_file() and any((tmp_path / "plots").iterdir())
