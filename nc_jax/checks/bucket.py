"""The run skeleton every paper shares: lay out the runs of a bucket of settings, take this
process's share, let the paper train and measure them, and split what it returns into one
``CellOutcome`` per setting.

A paper supplies three things (nc_jax.checks.contract, "A paper"):

- ``Setting.runs()``: its per-run grid, one ``RunSpec`` per run (a label, the per-run values
  recorded with it, and optionally a training key: runs of different cells with equal keys are
  one training, measured once per cell, e.g. cells that differ only in their training length);
- ``train_and_measure(settings, runs, context)``: trains the given runs (all of this process's,
  from every setting of the bucket, in order) through ``context`` and returns one ``RunOutcome``
  per run: its float64 quantities, the step at which it diverged, its arrays for plots;
- optionally ``Paper.finish_cell(setting, outcome)`` (nc_jax.checks.contract): a cell's
  summary over all its runs, which the runner applies once the whole cell is in one place.

``run_bucket(settings, context, train_and_measure)`` is then the paper's ``run``. Everything
else (which process trains which run, dropping the quantities of a diverged run, record
indices, stacking per-run arrays into a cell's arrays) happens here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from nc_jax.checks.contract import CellOutcome, RunRecord

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext


@dataclass(frozen=True)
class RunSpec:
    """One run of a setting, as the setting lays it out (``Setting.runs()``).

    Attributes:
        label: how the run is named in tables (e.g. ``seed=0 lr=0.01``).
        params: the per-run values recorded with the run (``RunRecord.params``) and read by the
            paper to train it (seed, learning rate, weight decay, ...).
        key: runs of the bucket with equal keys are one training (None: the run is its own).
    """

    label: str
    params: Mapping[str, Any]
    key: Hashable | None = None

    def __post_init__(self) -> None:
        from nc_jax.results import CHECK_COLUMNS  # here: results imports this package

        taken = sorted(set(self.params) & {"cell", "run", "label", *CHECK_COLUMNS})
        if taken:
            raise ValueError(
                f"run {self.label!r}: per-run value {', '.join(taken)} shares its name with a "
                "column of the results tables (nc_jax.results.load); rename it"
            )


@dataclass(frozen=True)
class PlannedRun:
    """A run of a bucket: its setting's position ``cell``, its ``index`` within the cell
    (``RunRecord.index``), its ``spec`` and the training ``key`` it shares with equal runs."""

    cell: int
    index: int
    spec: RunSpec
    key: Hashable

    @property
    def params(self) -> Mapping[str, Any]:
        return self.spec.params


@dataclass(frozen=True)
class RunOutcome:
    """What training and measuring one run gave.

    Attributes:
        quantities: the run's named float64 quantities (read by the paper's theorems); ignored
            when the run diverged.
        diverged_step: the first logged step at which the engine flagged the run diverged
            (None: it never did).
        arrays: the run's named arrays for plots, without a run axis (a trajectory of shape
            (logs,), a curve, a matrix); a cell's arrays stack them over its runs, NaN where a
            run has none of that name.
    """

    quantities: Mapping[str, float] | None
    diverged_step: int | None = None
    arrays: Mapping[str, Any] = field(default_factory=dict)


class PaperSetting(Protocol):
    """What the run skeleton and the sweep read of a paper's Setting, a frozen dataclass (its
    optional ``cost()`` and ``memory()``: nc_jax.checks.contract)."""

    RUN_FIELDS: ClassVar[tuple[str, ...]]

    def runs(self) -> Sequence[RunSpec]: ...


class TrainAndMeasure(Protocol):
    """A paper's training and measurement of this process's runs of a bucket: one RunOutcome
    per run of ``runs``, in order."""

    def __call__(
        self, settings: Sequence[Any], runs: Sequence[PlannedRun], context: TrainContext
    ) -> Sequence[RunOutcome]: ...


def plan_bucket(settings: Sequence[PaperSetting]) -> list[PlannedRun]:
    """Every run of ``settings``, cell by cell in order; a run without a key gets its own
    ``(cell, index)``."""
    return [
        PlannedRun(cell, index, spec, (cell, index) if spec.key is None else spec.key)
        for cell, setting in enumerate(settings)
        for index, spec in enumerate(setting.runs())
    ]


def process_runs(planned: Sequence[PlannedRun], context: TrainContext) -> list[PlannedRun]:
    """The runs this process trains: ``context.share`` over the distinct training keys (in order
    of first appearance), so that runs sharing a key are trained by one process only."""
    keys = list(dict.fromkeys(run.key for run in planned))
    chosen = {keys[i] for i in context.share(len(keys))}
    return [run for run in planned if run.key in chosen]


def stack_arrays(per_run: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Per-run arrays stacked on a leading run axis: (R, ...) per name, NaN rows (of the shape
    the other runs have) for a run without that name."""
    stacked: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(name for arrays in per_run for name in arrays):
        present = [np.asarray(arrays[name]) for arrays in per_run if name in arrays]
        template = np.full(present[0].shape, np.nan)
        stacked[name] = np.stack([np.asarray(a.get(name, template)) for a in per_run])
    return stacked


def split_arrays(arrays: Mapping[str, Any], count: int) -> list[dict[str, np.ndarray]]:
    """The inverse of ``stack_arrays``: arrays with a leading axis of ``count`` runs, as one dict
    per run."""
    columns = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in columns.items():
        if value.shape[:1] != (count,):
            raise ValueError(f"array {name!r} has shape {value.shape}, not {count} runs first")
    return [{name: value[r] for name, value in columns.items()} for r in range(count)]


def diverged_steps(trajectory: Mapping[str, Any]) -> list[int | None]:
    """Per run, the first logged step at which the engine flagged it diverged (None: never).

    Args:
        trajectory: engine logs with ``step`` and ``diverged`` of shape (R, logs).
    """
    flagged = np.asarray(trajectory["diverged"], bool)
    steps = np.asarray(trajectory["step"])
    return [
        int(steps[r, np.argmax(flagged[r])]) if flagged[r].any() else None
        for r in range(flagged.shape[0])
    ]


def measured_outcomes(
    diverged: Sequence[int | None],
    measure: Callable[[int], Mapping[str, float]],
    arrays: Sequence[Mapping[str, Any]] | None = None,
) -> list[RunOutcome]:
    """One RunOutcome per run r, in order: a run that diverged (``diverged[r]``, its step; None
    where it did not) is not measured; any other gets ``measure(r)``, its quantities. ``arrays``
    (per run, None: none) go with both."""
    per_run = arrays if arrays is not None else [{}] * len(diverged)
    return [
        RunOutcome(None, step, per_run[r])
        if step is not None
        else RunOutcome(measure(r), None, per_run[r])
        for r, step in enumerate(diverged)
    ]


def first_diverged(*trainings: Sequence[int | None]) -> list[int | None]:
    """Per run, the step at which it diverged in the first of several trainings of the same runs
    that flagged it (``diverged_steps`` of each; None: no training did)."""
    return [next((s for s in steps if s is not None), None) for steps in zip(*trainings)]


def outcomes_by_kind(
    runs: Sequence[PlannedRun],
    key: str,
    measure: Mapping[str, Callable[[list[PlannedRun]], Sequence[RunOutcome]]],
) -> list[RunOutcome]:
    """Outcomes of runs of several kinds, in the runs' order: the runs whose ``params[key]`` is
    a kind are measured together by ``measure[kind]`` (those runs in order -> one outcome each,
    e.g. one compiled program per kind); a kind with no runs is not called.

    Raises:
        ValueError: a run of a kind ``measure`` does not name, or a kind's function returning
            a number of outcomes other than its number of runs.
    """
    unknown = {run.params[key] for run in runs} - set(measure)
    if unknown:
        raise ValueError(f"runs of kind {sorted(unknown)} ({key}): known {sorted(measure)}")
    outcomes: list[RunOutcome | None] = [None] * len(runs)
    for kind, fn in measure.items():
        members = [i for i, run in enumerate(runs) if run.params[key] == kind]
        if not members:
            continue
        measured = fn([runs[i] for i in members])
        if len(measured) != len(members):
            raise ValueError(f"{kind}: {len(measured)} outcomes for {len(members)} runs")
        for i, outcome in zip(members, measured):
            outcomes[i] = outcome
    return outcomes  # type: ignore[return-value]  # every run has one: its kind is known


def cell_outcomes(
    num_cells: int, runs: Sequence[PlannedRun], outcomes: Sequence[RunOutcome]
) -> list[CellOutcome]:
    """One CellOutcome per cell from this process's runs and their outcomes (same order): a
    RunRecord per run (no quantities where it diverged) and the cell's stacked arrays."""
    if len(outcomes) != len(runs):
        raise ValueError(
            f"train_and_measure returned {len(outcomes)} outcomes for {len(runs)} runs"
        )
    cells: list[CellOutcome] = []
    for cell in range(num_cells):
        members = [(run, out) for run, out in zip(runs, outcomes) if run.cell == cell]
        records = [
            RunRecord(
                run.index,
                run.spec.label,
                dict(run.spec.params),
                None if out.diverged_step is not None else dict(out.quantities or {}),
                out.diverged_step,
            )
            for run, out in members
        ]
        cells.append(CellOutcome(records, stack_arrays([out.arrays for _, out in members])))
    return cells


def run_bucket(
    settings: Sequence[PaperSetting],
    context: TrainContext,
    train_and_measure: TrainAndMeasure,
) -> list[CellOutcome]:
    """A paper's ``run``: this process's share of the bucket's runs trained and measured by
    ``train_and_measure``, then split into one CellOutcome per setting (a paper's cross-run
    summary, ``Paper.finish_cell``, is applied by the runner on whole cells)."""
    mine = process_runs(plan_bucket(settings), context)
    outcomes = train_and_measure(settings, mine, context) if mine else []
    return cell_outcomes(len(settings), mine, outcomes)


def run_values(runs: Sequence[PlannedRun], *names: str) -> tuple[np.ndarray, ...]:
    """Per-run values of ``runs`` read from their params, one (R,) array per name (e.g.
    ``run_values(runs, "learning_rate", "seed")``)."""
    return tuple(np.asarray([run.params[name] for run in runs]) for name in names)


def cell_values(settings: Sequence[Any], runs: Sequence[PlannedRun], name: str) -> np.ndarray:
    """Per run, the field ``name`` of its own setting (a per-cell value such as a weight decay
    that differs between the cells of a bucket), (R,)."""
    return np.asarray([getattr(settings[run.cell], name) for run in runs])


def learning_rate_seed_runs(learning_rates: Sequence[float], seeds: Sequence[int]) -> list[RunSpec]:
    """The common grid: one run per (learning rate, seed), learning rate major, labelled
    ``seed=S lr=LR`` and recording both."""
    return [
        RunSpec(f"seed={seed} lr={lr:g}", {"seed": int(seed), "learning_rate": float(lr)})
        for lr in learning_rates
        for seed in seeds
    ]
