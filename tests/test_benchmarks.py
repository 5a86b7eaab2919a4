"""The benchmark scripts run end to end at small sizes (their timings are not asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_benchmark_runs_and_is_exact(capsys):
    result = _load("bench_metrics").main(["--dim", "48", "--samples", "120", "--classes", "4"])
    assert "speed-up" in capsys.readouterr().out
    assert result["max_rel_err64"] < 1e-10
    assert result["max_rel_err32"] < 1e-3
