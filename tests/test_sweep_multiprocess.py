"""A real two-process JAX job on this machine (the coordinator on 127.0.0.1, CPU devices): each
process trains its share of the runs of every bucket and process 0 merges the cells; the result
equals a one-process sweep of the same grid."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from nc_jax import sweep

GRID = """
paper = "jacot2025"
[fixed]
n_per_class = 3
steps = 20
log_every = 10
replay_steps = 2
learning_rates = [1e-3]
weight_decay = 0.5
seeds = [0, 1, 2]
[grid]
widths = [[12, 10, 10, 10, 10]]
"""  # head widths >= K = 10: the conditioning numbers are finite and compared below


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(grid, out):
    return [
        sys.executable,
        "-m",
        "nc_jax.cli",
        "sweep",
        str(grid),
        "--out",
        str(out),
        "--no-progress",
    ]


@pytest.mark.slow  # two JAX processes, about 50 s; tests/test_sweep.py fakes the multi-host merge
def test_two_jax_processes_share_the_runs_and_process_0_merges(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    single = subprocess.run(
        _command(grid, tmp_path / "single"), capture_output=True, text=True, timeout=300
    )
    assert single.returncode in (0, 1), single.stderr  # 1: a violated claim, not a crash
    address = f"127.0.0.1:{_free_port()}"
    processes = [
        subprocess.Popen(
            _command(grid, tmp_path / "multi"),
            env={
                **os.environ,
                "NC_JAX_DISTRIBUTED": "1",
                "JAX_COORDINATOR_ADDRESS": address,
                "NC_JAX_NUM_PROCESSES": "2",
                "NC_JAX_PROCESS_ID": str(index),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    for p, (_, err) in zip(processes, outputs):
        assert p.returncode in (0, 1), err  # 1 would be a violated bound, not a crash
    parts = sorted(path.name for path in (tmp_path / "multi" / "parts" / "cells").iterdir())
    assert len(parts) == 2 and parts[0].endswith(".p0.json") and parts[1].endswith(".p1.json")
    columns = ["cell", "run", "seed", "check", "verdict"]
    one, two = sweep.load(tmp_path / "single"), sweep.load(tmp_path / "multi")
    assert one[columns].equals(two[columns])
    # the runs trained in batches of another size: equal up to float32 reassociation (the
    # recursion residual is itself float64 rounding noise, so it is left out)
    values = one["check"] != "jacot2025.sec4.recursion"
    assert np.allclose(one["measured"][values], two["measured"][values], rtol=1e-3)
