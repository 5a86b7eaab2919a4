"""The sweep benchmark's report on a tiny grid (the timings themselves are not asserted).
Marked slow (23 s) to keep CI under 15 minutes: ``python -m pytest -m slow`` runs it."""

from __future__ import annotations

import pytest

from nc_jax.cli import main


@pytest.mark.slow
def test_bench_sweep_reports_throughput_compile_share_and_the_engine_ratio(capsys):
    overrides = [
        "steps=20", "log_every=10", "replay_steps=1", "n_per_class=2",
        "widths=[[12,8,8,8,10]]", "seeds=[[0,1]]",
    ]  # fmt: skip
    argv = ["bench", "sweep"] + [item for o in overrides for item in ("--set", o)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "sweep: 2 networks, 1 widths, 1 cells" in out
    for text in ("networks/min", "of the wall time (target < 10%)", "sweep / engine = "):
        assert text in out
    assert len([line for line in out.splitlines() if line.strip().startswith("12 ")]) == 1
