"""The run skeleton every paper shares (nc_jax.checks.bucket): which process trains which run,
runs that share a training, diverged runs, the cells' stacked arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    cell_values,
    diverged_steps,
    first_diverged,
    learning_rate_seed_runs,
    measured_outcomes,
    outcomes_by_kind,
    plan_bucket,
    process_runs,
    run_bucket,
    run_values,
    split_arrays,
    stack_arrays,
)


@dataclass(frozen=True)
class _Share:
    """A context's share alone: process ``index`` of ``count`` (TrainContext.share's rule)."""

    index: int = 0
    count: int = 1

    def share(self, num_runs: int) -> np.ndarray:
        return np.arange(self.index, num_runs, self.count)


@dataclass(frozen=True)
class _Setting:
    seeds: tuple[int, ...]
    steps: int = 10
    weight_decay: float = 0.1

    def runs(self) -> list[RunSpec]:
        # runs of different lengths share their training, as jacot2025's do
        return [RunSpec(f"seed={s}", {"seed": s}, key=(s, self.weight_decay)) for s in self.seeds]


def _echo(settings, runs, context):
    """A paper that 'trains' each run to its seed: quantity = seed, arrays of its length."""
    return [
        RunOutcome(
            {"seed": float(run.params["seed"])},
            None if run.params["seed"] != 13 else 5,
            {"curve": np.full(settings[run.cell].steps, run.params["seed"], float)},
        )
        for run in runs
    ]


def test_the_common_grid_is_learning_rate_major():
    specs = learning_rate_seed_runs((0.1, 0.2), (0, 1))
    assert [s.label for s in specs] == [
        "seed=0 lr=0.1",
        "seed=1 lr=0.1",
        "seed=0 lr=0.2",
        "seed=1 lr=0.2",
    ]
    assert specs[3].params == {"seed": 1, "learning_rate": 0.2} and specs[3].key is None


def test_plan_gives_each_run_its_cell_index_and_key():
    planned = plan_bucket([_Setting((0, 1)), _Setting((1, 2), steps=20)])
    assert [(r.cell, r.index, r.key) for r in planned] == [
        (0, 0, (0, 0.1)), (0, 1, (1, 0.1)), (1, 0, (1, 0.1)), (1, 1, (2, 0.1))
    ]  # fmt: skip
    keyless = plan_bucket([type("S", (), {"runs": lambda self: [RunSpec("a", {"x": 1})]})()])
    assert keyless[0].key == (0, 0)


def test_runs_that_share_a_training_go_to_one_process():
    planned = plan_bucket([_Setting((0, 1)), _Setting((1, 2), steps=20)])  # keys 0, 1, 2
    first, second = (process_runs(planned, _Share(i, 2)) for i in (0, 1))
    assert [(r.cell, r.index) for r in first] == [(0, 0), (1, 1)]  # keys 0 and 2
    assert [(r.cell, r.index) for r in second] == [(0, 1), (1, 0)]  # key 1, in both cells
    assert len(first) + len(second) == len(planned)


def test_run_bucket_splits_into_cells_and_drops_a_diverged_runs_quantities():
    settings = [_Setting((0, 13)), _Setting((2,), steps=4)]
    cells = run_bucket(settings, _Share(), _echo)
    assert [[r.index for r in c.runs] for c in cells] == [[0, 1], [0]]
    first = cells[0]
    assert first.runs[0].quantities == {"seed": 0.0} and first.runs[0].diverged_step is None
    assert first.runs[1].quantities is None and first.runs[1].diverged_step == 5
    assert first.runs[1].label == "seed=13" and first.runs[1].params == {"seed": 13}
    assert first.arrays["curve"].shape == (2, 10) and cells[1].arrays["curve"].shape == (1, 4)
    np.testing.assert_array_equal(first.arrays["curve"][1], np.full(10, 13.0))


def test_a_process_without_runs_trains_nothing():
    def never(*_):
        raise AssertionError("a process without runs must not train")

    settings = [_Setting((0,)), _Setting((1,))]
    empty = run_bucket(settings, _Share(5, 6), never)
    assert [len(c.runs) for c in empty] == [0, 0] and empty[0].arrays == {}


def test_a_paper_returning_the_wrong_number_of_outcomes_is_an_error():
    with pytest.raises(ValueError, match="returned 1 outcomes for 2 runs"):
        run_bucket([_Setting((0, 1))], _Share(), lambda s, runs, c: _echo(s, runs[:1], c))


def test_stack_pads_missing_arrays_with_nan_and_split_inverts_it():
    stacked = stack_arrays([{"a": [1.0, 2.0], "b": 3.0}, {"a": [4.0, 5.0]}])
    np.testing.assert_array_equal(stacked["a"], [[1.0, 2.0], [4.0, 5.0]])
    assert stacked["b"][0] == 3.0 and np.isnan(stacked["b"][1])
    split = split_arrays({"a": stacked["a"]}, 2)
    np.testing.assert_array_equal(split[1]["a"], [4.0, 5.0])
    with pytest.raises(ValueError, match="not 3 runs first"):
        split_arrays({"a": stacked["a"]}, 3)


def test_values_per_run_from_params_and_from_their_settings():
    settings = [_Setting((0, 1), weight_decay=0.1), _Setting((2,), weight_decay=0.3)]
    planned = plan_bucket(settings)
    (seeds,) = run_values(planned, "seed")
    np.testing.assert_array_equal(seeds, [0, 1, 2])
    np.testing.assert_array_equal(cell_values(settings, planned, "weight_decay"), [0.1, 0.1, 0.3])


def test_diverged_steps_are_the_first_flagged_log():
    trajectory = {
        "step": np.array([[0, 10, 20], [0, 10, 20]]),
        "diverged": np.array([[False, True, True], [False, False, False]]),
    }
    assert diverged_steps(trajectory) == [10, None]


def test_measured_outcomes_measure_only_the_runs_that_did_not_diverge():
    measured = []

    def measure(r):
        measured.append(r)
        return {"x": float(r)}

    arrays = [{"a": np.zeros(2)}, {"a": np.ones(2)}, {"a": np.full(2, 2.0)}]
    outcomes = measured_outcomes([None, 40, None], measure, arrays)
    assert measured == [0, 2]
    assert [o.quantities for o in outcomes] == [{"x": 0.0}, None, {"x": 2.0}]
    assert [o.diverged_step for o in outcomes] == [None, 40, None]
    assert outcomes[1].arrays["a"][0] == 1.0 and measured_outcomes([None], measure)[0].arrays == {}


def test_first_diverged_takes_the_first_training_that_flagged_a_run():
    assert first_diverged([None, 10, None], [5, 20, None]) == [5, 10, None]
    assert first_diverged([None, 3]) == [None, 3]


def test_outcomes_by_kind_measures_each_kind_together_in_the_runs_order():
    kinds = ["a", "b", "a", "c", "b"]
    runs = [
        PlannedRun(0, i, RunSpec(f"r{i}", {"run_kind": k, "i": i}), i) for i, k in enumerate(kinds)
    ]
    calls = []

    def measure(kind):
        def fn(kept):
            calls.append((kind, [r.params["i"] for r in kept]))
            return [RunOutcome({"i": float(r.params["i"])}) for r in kept]

        return fn

    outcomes = outcomes_by_kind(runs, "run_kind", {k: measure(k) for k in ("a", "b", "c", "d")})
    assert [o.quantities["i"] for o in outcomes] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert calls == [("a", [0, 2]), ("b", [1, 4]), ("c", [3])]  # "d" has no runs: not called
    with pytest.raises(ValueError, match=r"kind \['c'\]"):
        outcomes_by_kind(runs, "run_kind", {"a": measure("a"), "b": measure("b")})
    with pytest.raises(ValueError, match="1 outcomes for 2 runs"):
        outcomes_by_kind(
            runs[:3], "run_kind", {"a": lambda kept: [RunOutcome(None)], "b": measure("b")}
        )


@pytest.mark.parametrize("name", ["kind", "check", "verdict", "cell", "run", "label"])
def test_a_per_run_value_may_not_take_a_results_column_name(name):
    """results.load puts the run's values beside the check's columns: a value named like one
    would be silently overwritten there (lanzillotta2025's run kind once was)."""
    with pytest.raises(ValueError, match=f"per-run value {name} shares its name"):
        RunSpec("r", {name: 1, "seed": 0})
    assert RunSpec("r", {"run_kind": "replay", "seed": 0}).params["seed"] == 0
