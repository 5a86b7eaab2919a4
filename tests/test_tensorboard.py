"""TensorBoard event files of a results directory (nc_jax.tensorboard), read back with
TensorBoard's own reader: the tags, steps and values equal those of the results directory, the
hparams are the cell's coordinates and the run's values, and writing is idempotent, live during
a sweep, and replaced on a check run."""

from __future__ import annotations

import threading
import time

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from nc_jax import results as store
from nc_jax import tensorboard as tb
from nc_jax.cli import main

EVERYTHING = {"scalars": 0, "tensors": 0}  # no reservoir sampling: every event comes back


def read_run(directory) -> EventAccumulator:
    events = EventAccumulator(str(directory), size_guidance=EVERYTHING)
    events.Reload()
    return events


def scalars_of(events: EventAccumulator) -> dict[str, list[tuple[int, float]]]:
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def session_hparams(events: EventAccumulator) -> dict:
    """The hparams of the run's session-start summary, as Python values."""
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    hparams = data.session_start_info.hparams
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in hparams.items()}


def test_tag_of_replaces_what_tensorboard_would():
    assert tb.tag_of("curve/eps2 (engine logs)") == "curve/eps2__engine_logs_"
    assert tb.tag_of("layer/nc1_trace_ratio/layer_2") == "layer/nc1_trace_ratio/layer_2"
    assert tb.tag_of("check/jacot2025.thm3_1.nc1/slack") == "check/jacot2025.thm3_1.nc1/slack"


def test_trajectory_scalars_follow_the_step_array():
    arrays = {
        "step": np.array([[0, 10, 20], [0, 10, 20]]),
        "loss": np.array([[3.0, 2.0, np.nan], [4.0, 1.0, 0.5]]),  # run 0 diverged at step 20
        "layer/nc1": np.arange(12.0).reshape(2, 3, 2),
        "diverged": np.zeros((2, 3), bool),  # not a number: left out
        "gram/layer 1": np.ones((2, 3, 3, 3)),  # no trajectory: four axes
        "curve/x (y)": np.ones((2, 4)),  # another axis than the steps': left out
    }
    got = tb.trajectory_scalars(arrays, 0)
    assert got == [
        tb.Scalar("loss", 0, 3.0),
        tb.Scalar("loss", 10, 2.0),
        tb.Scalar("layer/nc1/layer_1", 0, 0.0),
        tb.Scalar("layer/nc1/layer_1", 10, 2.0),
        tb.Scalar("layer/nc1/layer_1", 20, 4.0),
        tb.Scalar("layer/nc1/layer_2", 0, 1.0),
        tb.Scalar("layer/nc1/layer_2", 10, 3.0),
        tb.Scalar("layer/nc1/layer_2", 20, 5.0),
    ]
    assert [s.value for s in tb.trajectory_scalars(arrays, 1) if s.tag == "loss"] == [4, 1, 0.5]
    assert tb.trajectory_scalars({"loss": arrays["loss"]}, 0) == []  # no steps, no trajectory
    assert tb.final_step({"config": {"steps": 7}}, arrays, 1) == 20
    assert tb.final_step({"config": {"steps": 7}}, {}, 1) == 7


RECORD = {
    "paper": "toy",
    "cell": "0123456789ab",
    "point": {"scale": 2.0, "widths": [4, 2]},
    "config": {"steps": 30},
    "runs": [
        {
            "index": 0,
            "label": "seed=3 lr=0.1",
            "params": {"seed": 3, "learning_rate": 0.1},
            "quantities": {"eps1": 0.25, "r": "inf", "flag": True},
            "diverged_step": None,
        }
    ],
    "checks": [
        {
            "run": 0,
            "theorem_id": "toy.bound",
            "verdict": "holds",
            "slack": 0.5,
            "measured": 1.0,
            "bound": 2.0,
            "hypotheses": [{"name": "h", "holds": True}],
        },
        {
            "run": 0,
            "theorem_id": "toy.other",
            "verdict": "vacuous",
            "slack": "nan",
            "measured": None,
            "bound": 2.0,
            "hypotheses": [{"name": "eps1 < 1", "holds": False}],
        },
    ],
}


def test_final_scalars_hparams_and_verdicts_of_a_record():
    (run,) = RECORD["runs"]
    assert tb.final_scalars(RECORD, run, 30) == [
        tb.Scalar("final/eps1", 30, 0.25),  # inf and a bool are no points
        tb.Scalar("check/toy.bound/slack", 30, 0.5),
        tb.Scalar("check/toy.bound/measured", 30, 1.0),
        tb.Scalar("check/toy.bound/bound", 30, 2.0),
        tb.Scalar("check/toy.other/bound", 30, 2.0),
    ]
    assert tb.hparams_of(RECORD, run) == {
        "paper": "toy",
        "cell": "0123456789ab",
        "scale": 2.0,
        "widths": "[4, 2]",
        "seed": 3,
        "learning_rate": 0.1,
    }
    assert tb.run_directory_name(RECORD, run) == "toy-0123456789ab/seed=3_lr=0.1"
    assert "| toy.other | vacuous | eps1 < 1 |" in tb.verdict_text(RECORD, run)


def assert_runs_equal_results(results_dir, log_dir):
    """Every run of every cell: its TensorBoard scalars are the results directory's values
    (float32, as TensorBoard stores them), its hparams its coordinates and values."""
    records = store.read_cells(results_dir)
    assert records
    for record in records:
        arrays = store.read_arrays(results_dir, record["cell"])
        for row, run in enumerate(record["runs"]):
            events = read_run(log_dir / tb.run_directory_name(record, run))
            got = scalars_of(events)
            step = int(arrays["step"][row, -1])
            want = {}
            for name, values in arrays.items():
                numeric = values.dtype.kind in "fiu"
                if name != "step" and numeric and values.shape == arrays["step"].shape:
                    pairs = zip(arrays["step"][row], values[row])
                    want[tb.tag_of(name)] = [(int(s), v) for s, v in pairs if np.isfinite(v)]
            for name, value in (run["quantities"] or {}).items():
                if isinstance(value, float) and np.isfinite(value):
                    want[tb.tag_of(f"final/{name}")] = [(step, value)]
            for check in record["checks"]:
                if check["run"] == run["index"] and np.isfinite(float(check["slack"])):
                    want[f"check/{check['theorem_id']}/slack"] = [(step, float(check["slack"]))]
            for tag, points in want.items():
                assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
                np.testing.assert_array_equal(
                    [v for _, v in got[tag]], np.float32([v for _, v in points]), err_msg=tag
                )
            assert session_hparams(events) == tb.hparams_of(record, run)
            assert events.Tensors("verdicts/text_summary")


def test_a_sweep_with_a_log_dir_writes_every_run(toy_sweep, tmp_path, monkeypatch):
    import toy_paper
    from conftest import TOY_GRID

    from nc_jax import sweep

    monkeypatch.setattr(sweep.grid, "get_paper", lambda name: toy_paper.PAPER)
    logs = tmp_path / "logs"
    sweep.sweep(sweep.parse_grid(TOY_GRID), toy_sweep, progress=False, echo=print, log_dir=logs)
    runs = sorted(p.relative_to(logs).as_posix() for p in logs.glob("*/*"))
    records = store.read_cells(toy_sweep)
    assert runs == sorted(tb.run_directory_name(r, run) for r in records for run in r["runs"])
    assert len(runs) == 18  # 6 cells x 3 seeds, diverged runs included (their trajectories)
    assert_runs_equal_results(toy_sweep, logs)
    diverged = [r for r in records if r["runs"][0]["diverged_step"] is not None][0]
    events = read_run(logs / tb.run_directory_name(diverged, diverged["runs"][0]))
    assert not [t for t in events.Tags()["scalars"] if t.startswith("final/")]


def test_export_is_idempotent_and_names_a_bad_directory(toy_sweep, tmp_path, capsys):
    logs = tmp_path / "logs"
    assert main(["export", str(toy_sweep), "--tensorboard", str(logs)]) == 0
    assert "wrote 18 TensorBoard runs" in capsys.readouterr().out
    before = sorted(p.stat().st_mtime_ns for p in logs.rglob("events.out.tfevents.*"))
    assert tb.export(toy_sweep, logs) == 0  # nothing new
    assert sorted(p.stat().st_mtime_ns for p in logs.rglob("events.out.tfevents.*")) == before
    assert tb.export(toy_sweep, logs, replace=True) == 18
    assert_runs_equal_results(toy_sweep, logs)
    assert not list(logs.glob("*/.partial-*"))
    assert main(["export", str(tmp_path), "--tensorboard", str(logs)]) == 2
    assert "RESULTS_DIR" in capsys.readouterr().err


def test_live_export_writes_cells_while_the_body_runs(toy_sweep, tmp_path):
    """A results directory filled cell by cell (a copy of the toy sweep's, written by the body)
    shows its first cell in the log directory before the body ends."""
    records = store.read_cells(toy_sweep)
    target = tmp_path / "live"
    store.write_grid(target, store.read_grid(toy_sweep))
    logs = tmp_path / "logs"
    seen_during = threading.Event()
    with tb.live_export(target, logs, every_s=0.05):
        first = records[0]
        store.write_cell(target, first, store.read_arrays(toy_sweep, first["cell"]))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not seen_during.is_set():
            if (logs / tb.run_directory_name(first, first["runs"][-1])).is_dir():
                seen_during.set()
            time.sleep(0.02)
        for record in records[1:]:
            store.write_cell(target, record, store.read_arrays(toy_sweep, record["cell"]))
    assert seen_during.is_set()
    assert len(list(logs.glob("*/*"))) == 18  # the final export wrote the rest


def test_a_check_with_a_log_dir_replaces_its_runs(tmp_path):
    """A check writes its runs; a recheck of the same results rewrites them (same names)."""
    results, logs = tmp_path / "results", tmp_path / "logs"
    quick = ["check", "zhu2021", "--quick", "--steps", "60", "--log-every", "30"]
    assert main([*quick, "--results", str(results), "--log-dir", str(logs)]) in (0, 1)
    (record,) = store.read_cells(results)
    assert_runs_equal_results(results, logs)
    recheck = ["check", "zhu2021", "--recheck", "--results", str(results)]
    assert main([*recheck, "--log-dir", str(logs)]) in (0, 1)
    assert len(list(logs.glob("*/*"))) == len(record["runs"])
    assert_runs_equal_results(results, logs)
