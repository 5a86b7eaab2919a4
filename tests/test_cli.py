"""End-to-end tests of the nc-jax command line on the embedded data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nc_jax.cli import format_table, main
from nc_jax.results import read_cells


def test_data_describes_the_embedded_digits(capsys):
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "1797" in out


def test_metrics_prints_every_layer_and_writes_json(capsys, tmp_path):
    path = tmp_path / "metrics.json"
    argv = ["metrics", "--n-per-class", "30", "--widths", "64,32", "--out", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "nc1_trace_ratio" in out
    assert "5 (linear, 10)" in out  # 2 ReLU layers + a 3-layer head, the last of width K = 10
    saved = json.loads(path.read_text())
    assert len(saved["metrics"]["nc1_pinv"]) == 5
    # the head is an exactly balanced factorisation: balancedness of linear pairs ~ 0
    balanced = saved["metrics"]["relative_balancedness"][2:4]
    assert max(balanced) < 1e-10


def test_bad_input_exits_2_with_a_message(capsys):
    assert main(["data", "--n-per-class", "100000"]) == 2
    assert "n_per_class" in capsys.readouterr().err
    assert main(["data", "--data-dir", "/tmp"]) == 2  # would be silently ignored: an error
    assert "--data-dir: digits is embedded" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["metrics", "--widths", "64 32"])
    assert usage.value.code == 2
    assert "comma-separated list of int" in capsys.readouterr().err


def test_console_script_module_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "nc_jax.cli", "data", "--dataset", "gaussian"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "gaussian" in done.stdout


def test_format_table_aligns_and_shows_nan_as_dash():
    table = format_table([{"a": "x", "v": float("nan")}, {"a": "yy", "v": 1.23456}], ["v"], "a")
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[1].endswith("-") and lines[2].endswith("1.235")


def test_check_lists_runs_one_theorem_and_rejects_unknown_papers(capsys, tmp_path):
    assert main(["check", "--list"]) == 0
    assert "jacot2025.sec4.recursion" in capsys.readouterr().out
    argv = [
        "check", "jacot2025.sec4", "--results", str(tmp_path), "--n-per-class", "3",
        "--widths", "40,8,8,8,10", "--steps", "100", "--log-every", "50",
        "--learning-rates", "1e-3", "--weight-decay", "0.5", "--seeds", "0",
        "--replay-steps", "5",
    ]  # fmt: skip
    status = main(argv)
    (record,) = read_cells(tmp_path)
    verdicts = {c["theorem_id"]: c["verdict"] for c in record["checks"]}
    assert set(verdicts) == {
        "jacot2025.sec4.recursion",
        "jacot2025.sec4.interpolation",
        "jacot2025.sec4.balancing",
    }
    assert verdicts["jacot2025.sec4.recursion"] == "holds"
    assert verdicts["jacot2025.sec4.interpolation"] == "vacuous"  # (11) needs lambda ~ 1e-3
    assert status == (1 if "violated" in verdicts.values() else 0)  # a claim can fail
    assert main(["check", "smith2030"]) == 2
    assert "no registered paper 'smith2030'" in capsys.readouterr().err


def test_bench_forwards_its_options_to_the_benchmark(monkeypatch):
    import nc_jax.bench.train

    seen = []
    monkeypatch.setattr(nc_jax.bench.train, "main", lambda argv: seen.append(argv) or 0)
    assert main(["bench", "--regime", "small", "--skip-torch"]) == 0
    assert seen == [["--regime", "small", "--skip-torch"]]
