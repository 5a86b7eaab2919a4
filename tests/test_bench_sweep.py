"""The sweep benchmark on a tiny grid, through the command line: its numbers are consistent with
each other and printed as computed (the timings themselves are not compared with targets).
Marked slow to keep CI short: ``python -m pytest -m slow`` runs it."""

from __future__ import annotations

import math
import re

import pytest

from nc_jax.bench import sweep as bench_sweep
from nc_jax.cli import main

OVERRIDES = [
    "steps=20", "log_every=10", "replay_steps=1", "n_per_class=2",
    "widths=[[12,8,8,8,10],[16,8,8,8,10]]", "seeds=[[0,1]]",
]  # fmt: skip
NUMBER = r"([0-9.]+)"


@pytest.mark.slow
def test_bench_sweep_reports_consistent_times_for_every_width(monkeypatch, capsys):
    computed = []
    run = bench_sweep.run_benchmark
    monkeypatch.setattr(
        bench_sweep, "run_benchmark", lambda o: computed.append(run(o)) or computed[0]
    )
    argv = ["bench", "sweep"] + [item for o in OVERRIDES for item in ("--set", o)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    (report,) = computed
    assert (report["networks"], report["buckets"], report["cells"]) == (4, 2, 2)
    engine, rows = report["engine"], report["widths"]
    assert [row["width"] for row in rows] == [12, 16]
    assert sum(row["engine"] * row["networks"] for row in rows) == pytest.approx(engine)
    for row in rows:
        assert row["networks"] == 2 and row["engine"] > 0
        assert math.isfinite(row["gflop"]) and row["gflop"] > 0
    assert rows[0]["gflop"] < rows[1]["gflop"]  # a wider first layer costs more
    for name in ("cold", "warm"):
        timed = report[name]
        wall, training = timed["wall"], timed["training"]
        for value in (wall, training, timed["compiling"]):
            assert math.isfinite(value) and value > 0  # in-memory caches cleared: it traced
        # the trainings (TrainContext.on_trained) lie inside the cells' wall times, inside the
        # sweep
        cells = sum(row[name] * row["networks"] for row in rows)
        assert training <= cells <= wall
        summary = re.search(
            rf"sweep, {name} compilation cache: wall {NUMBER} s = {NUMBER} networks/min.*\n"
            rf"  compiling {NUMBER} s = {NUMBER}% of the wall time.*\n"
            rf"  sweep / engine = {NUMBER}x overall, {NUMBER}x for the training alone",
            out,
        )
        assert summary is not None, out
        assert float(summary[1]) == pytest.approx(wall, abs=0.05)
        assert float(summary[2]) == pytest.approx(4 / wall * 60, abs=0.5)
        assert float(summary[4]) == pytest.approx(100 * timed["compiling"] / wall, abs=0.5)
        assert float(summary[5]) == pytest.approx(wall / engine, abs=5e-3)
        assert float(summary[6]) == pytest.approx(training / engine, abs=5e-3)
    # the warm run read what the cold one compiled: less time compiling
    assert report["warm"]["compiling"] < report["cold"]["compiling"]
    table = [line.split() for line in out.splitlines() if re.match(r"\s+1[26] ", line)]
    assert [[float(v) for v in line] for line in table] == [
        pytest.approx(
            [r["width"], r["networks"], r["cold"], r["warm"], r["engine"], r["gflop"]], abs=5e-3
        )
        for r in rows
    ]
