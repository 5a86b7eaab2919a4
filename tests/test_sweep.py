"""The sweep on a toy paper (no training, so every mechanism is tested in milliseconds): grid
validation before anything runs, buckets, results as a DataFrame, resume, --extend, --shard,
faked multi-host merging, diverged runs as rows, exit statuses of nc-jax sweep."""

from __future__ import annotations

import dataclasses
import stat

import jax
import pytest
import toy_paper

from nc_jax import results, sweep
from nc_jax.checks import Evaluation
from nc_jax.cli import main

GRID = {
    "paper": "toy",
    "fixed": {"seeds": [0, 1, 2]},
    "grid": {"size": [10, 20], "scale": [1.0, 2.0]},
}


@pytest.fixture(autouse=True)
def toy(monkeypatch):
    monkeypatch.setattr(sweep.grid, "get_paper", lambda name: toy_paper.PAPER)
    toy_paper.CALLS.clear()


def _run(grid, directory, **options):
    return sweep.sweep(grid, directory, progress=False, echo=lambda _: None, **options)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GRID, "extra": 1}, "unknown table or key"),
        ({"grid": {"size": [10]}}, 'paper = "jacot2025"'),
        ({**GRID, "fixed": {"sizes": 3}}, r"\[fixed\] sizes is not a setting of toy"),
        ({**GRID, "grid": {"size": []}}, r"\[grid\] size is empty"),
        ({**GRID, "grid": {"size": 10}}, r"\[grid\] size must be a list"),
        ({**GRID, "grid": {"size": [10, 10]}}, "lists a value twice"),
        ({**GRID, "grid": {"scale": ["big"]}}, r"\[grid\] scale must be a float, got 'big'"),
        ({**GRID, "grid": {"scale": [1.0, -1.0]}}, r"\[grid\] scale: must be > 0, got -1.0"),
        ({**GRID, "fixed": {"size": 1}, "grid": {"scale": [1.0]}}, r"\[fixed\] size: must be >= 2"),
        ({**GRID, "fixed": {"size": 5}}, r"in both \[fixed\] and \[grid\]"),
        ({**GRID, "fixed": {"seeds": 3}}, r"\[fixed\] seeds must be a list of int"),
        ({**GRID, "quick": {"colour": 1}}, r"\[quick\] colour is not a setting"),
        ({**GRID, "paper_scale": {"colour": 1}}, r"\[paper_scale\] colour is not a setting"),
        ({**GRID, "zip": {"violate": [True], "diverge": [[0], [1]]}}, "need one length"),
        ({**GRID, "zip": {"size": [10]}}, r"in both \[grid\] and \[zip\]"),
        ({**GRID, "zip": {"violate": [False, False]}}, "combination twice"),
        ({**GRID, "zip": {"violate": [1.5]}}, r"\[zip\] violate must be a bool"),
    ],
)
def test_bad_grids_are_named_before_anything_runs(data, message):
    with pytest.raises(ValueError, match=message):
        sweep.parse_grid(data)
    assert toy_paper.CALLS == []


def test_quick_and_set_override_axes_and_fixed_values():
    data = {**GRID, "quick": {"size": [4], "seeds": [5]}}
    grid = sweep.parse_grid(data, profile="quick", overrides=["scale=[3.0]", "violate=true"])
    assert grid.axes == {"size": [4], "scale": [3.0]}
    assert grid.fixed == {"seeds": [5], "violate": True}
    with pytest.raises(ValueError, match="--set colour"):
        sweep.parse_grid(GRID, overrides=["colour=1"])
    with pytest.raises(ValueError, match="write key=value"):
        sweep.parse_grid(GRID, overrides=["size"])


def test_each_profile_applies_its_own_table_and_a_missing_one_is_named():
    data = {**GRID, "quick": {"size": [4]}, "paper_scale": {"size": [40, 80], "seeds": [7]}}
    assert sweep.parse_grid(data).axes["size"] == [10, 20]  # the full mode
    assert sweep.parse_grid(data, profile="quick").axes["size"] == [4]
    paper_scale = sweep.parse_grid(data, profile="paper_scale")
    assert paper_scale.axes["size"] == [40, 80] and paper_scale.fixed["seeds"] == [7]
    with pytest.raises(ValueError, match=r"--paper-scale: grid has no \[paper_scale\] table"):
        sweep.parse_grid(GRID, profile="paper_scale")
    with pytest.raises(ValueError, match="profile must be one of"):
        sweep.parse_grid(data, profile="huge")


def test_cells_differing_only_in_run_fields_share_a_bucket():
    grid = sweep.parse_grid(GRID)
    planned = sweep.plan(toy_paper.PAPER, grid)
    assert [len(b.cells) for b in planned.buckets] == [2, 2]  # scale is a RUN_FIELD
    assert {c.point["size"] for c in planned.buckets[0].cells} == {10}
    ids = [c.id for c in planned.cells]
    assert len(set(ids)) == 4 and ids == [c.id for c in sweep.plan(toy_paper.PAPER, grid).cells]


def test_sweep_writes_a_dataframe_and_resumes_without_rerunning(tmp_path):
    grid = sweep.parse_grid(GRID)
    assert _run(grid, tmp_path) == 4
    assert [calls for calls, _, _ in toy_paper.CALLS] == [2, 2]  # one call per bucket
    table = sweep.load(tmp_path)
    assert len(table) == 4 * 3  # cells x runs x checks
    for column in ("cell", "run", "size", "scale", "seed", "check", "verdict", "bound"):
        assert column in table
    assert {"measured", "slack", "diverged", "diverged_step"} <= set(table.columns)
    assert (table["verdict"] == "holds").all()
    assert (table["slack"] == table["measured"] / table["bound"]).all()
    runs = sweep.load_runs(tmp_path)
    assert len(runs) == 12 and {"mean_abs", "std"} <= set(runs.columns)
    assert _run(grid, tmp_path) == 0 and len(toy_paper.CALLS) == 2  # resumed: nothing rerun
    for path in (tmp_path / "cells").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert "4 cells: 4 done, 0 left" in sweep.status(tmp_path)


def test_a_diverged_run_is_a_row_with_its_step(tmp_path):
    grid = sweep.parse_grid({**GRID, "fixed": {"seeds": [0, 1], "diverge": [1]}})
    _run(grid, tmp_path)
    table = sweep.load(tmp_path)
    diverged = table[table["seed"] == 1]
    assert len(diverged) == 4 and diverged["diverged"].all()
    assert (diverged["diverged_step"] == 7).all() and (diverged["verdict"] == "vacuous").all()
    assert diverged["failing"].str.contains("without diverging").all()
    assert (table.loc[table["seed"] == 0, "verdict"] == "holds").all()
    assert "8 runs done" not in sweep.status(tmp_path) and "(4 diverged)" in sweep.status(tmp_path)


def test_another_grid_needs_extend_and_adds_only_new_cells(tmp_path):
    small = sweep.parse_grid({**GRID, "grid": {"size": [10], "scale": [1.0]}})
    assert _run(small, tmp_path) == 1
    bigger = sweep.parse_grid(GRID)
    with pytest.raises(ValueError, match="--extend"):
        _run(bigger, tmp_path)
    assert _run(bigger, tmp_path, extend=True) == 3
    assert sweep.load(tmp_path)["cell"].nunique() == 4


def test_shards_split_the_buckets_and_together_finish_the_sweep(tmp_path):
    grid = sweep.parse_grid(GRID)
    assert sweep.parse_shard("1/2") == (1, 2)
    for bad in ("2/2", "x", "1/0"):
        with pytest.raises(ValueError, match="--shard"):
            sweep.parse_shard(bad)
    assert _run(grid, tmp_path, shard=(0, 2)) == 2
    assert "2 done, 2 left" in sweep.status(tmp_path)
    assert _run(grid, tmp_path, shard=(1, 2)) == 2
    assert sweep.load(tmp_path)["cell"].nunique() == 4


def test_multi_host_processes_train_their_share_and_process_0_merges(tmp_path, monkeypatch):
    reads_the_cell = dataclasses.replace(  # a check that reads a quantity of finish_cell
        toy_paper.BOUND,
        id="toy.cell_runs",
        quantities=("cell_runs",),
        evaluate=lambda q: Evaluation((), 3.0, q["cell_runs"]),
    )
    paper = dataclasses.replace(toy_paper.PAPER, theorems=(toy_paper.BOUND, reads_the_cell))
    monkeypatch.setattr(sweep.grid, "get_paper", lambda name: paper)
    grid = sweep.parse_grid(GRID)
    _run(grid, tmp_path / "single")
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    monkeypatch.setattr(jax, "process_index", lambda: 1)
    assert _run(grid, tmp_path / "multi") == 0  # process 1 writes its parts only
    assert not results.finished_cells(tmp_path / "multi")
    monkeypatch.setattr(jax, "process_index", lambda: 0)
    assert _run(grid, tmp_path / "multi") == 4  # process 0 writes its parts and merges
    assert {(n, p, c) for n, p, c in toy_paper.CALLS} == {(2, 0, 1), (2, 1, 2), (2, 0, 2)}
    single, multi = sweep.load(tmp_path / "single"), sweep.load(tmp_path / "multi")
    columns = ["cell", "run", "seed", "check", "verdict", "measured", "bound"]
    assert single[columns].equals(multi[columns])
    runs = [
        [r["quantities"] for c in sorted(results.read_cells(d), key=lambda c: c["index"])
         for r in c["runs"]]
        for d in (tmp_path / "single", tmp_path / "multi")
    ]  # fmt: skip
    assert runs[0] == runs[1]  # finish_cell saw every run of a cell, not one process's share
    assert {q["cell_runs"] for q in runs[1]} == {3.0}
    assert set(multi.loc[multi["check"] == "toy.cell_runs", "verdict"]) == {"holds"}
    (cell,) = [c for c in results.read_cells(tmp_path / "multi") if c["index"] == 0]
    curve = results.read_arrays(tmp_path / "multi", cell["cell"])["curve/toy"]
    assert curve.shape == (3, 5) and curve[2, 0] == 3  # runs back in order 0, 1, 2


def test_cli_sweep_exit_statuses_and_status(tmp_path, capsys):
    path = tmp_path / "grid.toml"
    path.write_text('paper = "toy"\n[fixed]\nseeds = [0]\n[grid]\nsize = [10, 20]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 0
    assert "toy.mean_abs" in capsys.readouterr().out
    assert main(["sweep", "--status", str(out)]) == 0
    assert "2 cells: 2 done, 0 left" in capsys.readouterr().out
    argv = ["sweep", str(path), "--out", str(tmp_path / "v"), "--no-progress"]
    assert main([*argv, "--set", "violate=true"]) == 1
    path.write_text('paper = "toy"\n[grid]\nsize = [10, 1]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "bad")]) == 2
    assert "[grid] size: must be >= 2" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # nothing ran, nothing written
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    assert main(["sweep", "--status", str(tmp_path / "nothing")]) == 2
    assert "not a results directory" in capsys.readouterr().err


class _Device:
    platform, device_kind = "gpu", "fake"

    def __init__(self, free: int) -> None:
        self.free = free

    def memory_stats(self) -> dict:
        return {"bytes_limit": self.free, "bytes_in_use": 0}


def test_run_groups_follow_the_free_memory(monkeypatch):
    grid = sweep.parse_grid(GRID)
    bucket = sweep.plan(toy_paper.PAPER, grid).buckets[0]  # 2 cells x 3 runs
    assert sweep.choose_run_group(bucket, [_Device(10**9)], None) is None  # no memory(): all
    monkeypatch.setattr(toy_paper.Setting, "memory", lambda self: 100.0, raising=False)
    assert sweep.choose_run_group(bucket, [_Device(10**9)], None) is None  # everything fits
    assert sweep.choose_run_group(bucket, [_Device(400)], None) == 2  # half of 400 B / 100 B
    assert sweep.choose_run_group(bucket, [_Device(400), _Device(400)], None) == 4
    assert sweep.choose_run_group(bucket, [_Device(400)], 5) == 5  # --run-group wins


def test_distributed_initialisation_only_when_asked():
    assert sweep.maybe_initialize_distributed({}) is False
    with pytest.raises(ValueError, match="JAX_COORDINATOR_ADDRESS"):
        sweep.maybe_initialize_distributed({"NC_JAX_DISTRIBUTED": "1", "NC_JAX_PROCESS_ID": "0"})


def test_zipped_axes_move_together_times_the_product(tmp_path):
    """[zip] axes (e.g. widths and num_linear) vary together: 2 x 2 grid points x 2 rows."""
    data = {**GRID, "fixed": {}, "zip": {"seeds": [[0, 1], [5]], "violate": [False, True]}}
    grid = sweep.parse_grid(data)
    everything = sweep.cells(toy_paper.PAPER, grid)
    assert len(everything) == 8
    pairs = {(tuple(c.point["seeds"]), c.point["violate"]) for c in everything}
    assert pairs == {((0, 1), False), ((5,), True)}
    assert list(everything[0].point) == ["size", "scale", "seeds", "violate"]
    _run(grid, tmp_path)
    table = sweep.load(tmp_path)
    assert {"seeds", "violate"} <= set(table.columns)
    violated = table[table["verdict"] == "violated"]
    assert set(violated["violate"]) == {True} and set(violated["seed"]) == {5}
    assert _run(grid, tmp_path) == 0  # resumes: the same grid, nothing left
    assert "8 cells: 8 done" in sweep.status(tmp_path)


def test_an_empty_results_directory_loads_as_an_empty_table(tmp_path):
    results.write_grid(tmp_path, {"paper": "toy", "fixed": {}, "axes": {"size": [10]}})
    table = sweep.load(tmp_path)
    assert len(table) == 0 and {"cell", "size", "check", "verdict", "slack"} <= set(table.columns)
    assert "informative" in results.summarize(table) and "informative" in table.columns
    assert len(sweep.load_runs(tmp_path)) == 0


def test_the_estimate_comes_from_the_first_buckets_own_chunks(monkeypatch):
    planned = sweep.plan(toy_paper.PAPER, sweep.parse_grid(GRID))
    clock = iter([0.0, 5.0, 6.0, 8.0])  # start, chunk 1 (with compilation), chunk 2, bucket end
    monkeypatch.setattr(sweep.estimate.time, "perf_counter", lambda: next(clock))
    said = []
    estimator = sweep.Estimator(planned.buckets, set(), said.append)
    estimator.chunk(3)  # run-steps per chunk: the toy has no steps, 6 runs x 1 step per bucket
    estimator.chunk(3)
    assert estimator.compile_s == 4.0  # 5 s first chunk - 1 s steady chunk
    assert said and said[0].startswith("estimated time (training only): 12 s")
    estimator.bucket_done()
    assert estimator.measure_s == pytest.approx(2 / 6)
    assert said[1].startswith("estimated time left: 8 s")  # 4 + 6 / 3 + 6 x 1/3: bucket 2
