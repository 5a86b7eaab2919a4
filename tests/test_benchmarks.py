"""The benchmark scripts run end to end at small sizes: their reports are complete and their
numbers consistent with each other (the timings themselves are not compared with anything)."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
METRIC_ROWS = (
    "nc_jax float64 (Gram forms, jit)",
    "nc_jax float32 (Gram forms, jit)",
    "NumPy float64, d x d + np.linalg.pinv",
    "NumPy float64, d x d + rank-(K-1) pinv",
)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_benchmark_runs_and_is_exact(capsys):
    result = _load("bench_metrics").main(
        ["--dim", "48", "--samples", "120", "--classes", "4", "--repeats", "1"]
    )
    out = capsys.readouterr().out
    seconds = [result[f"seconds_{k}"] for k in ("ours64", "ours32", "naive", "reference")]
    assert all(math.isfinite(s) and s > 0 for s in seconds)
    assert result["max_rel_err64"] < 1e-10
    assert result["max_rel_err32"] < 1e-3
    # every row printed: seconds, speed-up over the naive NumPy row, error, metric, NC1 pinv
    rows = {}
    for line in out.splitlines():
        for name in METRIC_ROWS:
            if line.startswith(name):
                rows[name] = line[len(name) :].split()
    assert list(rows) == list(METRIC_ROWS)
    naive = result["seconds_naive"]
    for name, row_seconds in zip(METRIC_ROWS, seconds):
        printed, speedup = float(rows[name][0]), float(rows[name][1].rstrip("x"))
        assert printed == pytest.approx(row_seconds, abs=5e-4)
        assert speedup == pytest.approx(naive / row_seconds, rel=1e-3, abs=0.05)
    assert float(rows[METRIC_ROWS[2]][1].rstrip("x")) == 1.0  # the naive row against itself
    assert float(rows[METRIC_ROWS[3]][2]) == 0.0  # the reference against itself
    reference = result["nc1_pinv_reference"]
    nc1 = {name: float(rows[name][-1]) for name in METRIC_ROWS}
    assert math.isfinite(reference) and reference > 0
    assert nc1[METRIC_ROWS[3]] == pytest.approx(reference, rel=1e-4)  # printed to 5 digits
    assert nc1[METRIC_ROWS[0]] == pytest.approx(reference, rel=1e-4)
    assert nc1[METRIC_ROWS[1]] == pytest.approx(reference, rel=1e-3)
    overall = re.search(r"NumPy implementation: ([0-9.]+)x", out)
    assert float(overall[1]) == pytest.approx(naive / result["seconds_ours64"], rel=1e-3, abs=0.05)


def test_training_benchmark_script_is_the_command_line_benchmark():
    from nc_jax.bench import train

    assert _load("bench_train").main is train.main
