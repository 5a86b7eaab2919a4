"""A results directory as TensorBoard event files: one TensorBoard run per cell and run (seed),
its logged trajectories, final quantities and check values as scalars, its setting as hparams.

    nc-jax sweep GRID --out DIR --log-dir LOGS      # written while the sweep runs
    nc-jax check PAPER --log-dir LOGS
    nc-jax export DIR --tensorboard LOGS            # an existing results directory
    tensorboard --logdir LOGS

What a run holds (its directory is ``LOGS/<paper>-<cell>/<run label>``, e.g.
``jacot2025-1a2b3c4d5e6f/seed=0_lr=0.002``):

- every logged trajectory of the cell's arrays (nc_jax.results: an array whose leading two axes
  are those of its ``step`` array, runs x log points) as the scalar of the same name at the
  logged steps; a per-layer trajectory (runs x log points x layers) as ``NAME/layer_l``,
  l = 1..L;
- ``final/NAME``: every float64 quantity measured at the end of training (the per-run
  quantities of the cell record), at the last logged step;
- ``check/ID/slack``, ``check/ID/measured``, ``check/ID/bound``: each check's values on the run
  (those that are numbers), at the last logged step, and a text summary ``verdicts`` with each
  check's verdict and failing hypotheses;
- hparams: the cell's grid coordinates and the run's values (seed, learning rate, ...), with
  the checks' slacks as the metrics of the HParams dashboard.

Tags are names with every character other than letters, digits, ``_ - . /`` made ``_``
(``tag_of``); non-finite values (a diverged trajectory, the slack of a vacuous check) are left
out, since TensorBoard draws nothing for them (the results directory keeps them).

A run's events are written into a temporary directory that is renamed into place when
complete, so a reader never sees half a run and writing again skips the runs already there:
``export`` is idempotent, and ``live_export`` calls it every few seconds while a sweep runs
(curves appear bucket by bucket, as the cells are written; a bucket is one compiled program,
whose trajectories come back when it finishes). The writer is tensorboardX (pure Python, with
only NumPy, protobuf and packaging as dependencies; TensorFlow's writer and CLU's need
TensorFlow). Weights & Biases can take the same directory: ``wandb sync --sync-tensorboard
LOGS``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax import results as store

STEP = "step"  # the array of logged steps (runs x log points) that trajectories align with
TEMPORARY = ".partial-"  # prefix of a run directory being written


def tag_of(name: str) -> str:
    """A name as a TensorBoard tag: every character other than letters, digits, ``_ - . /``
    replaced by ``_`` (the rule TensorBoard's writers apply; ``curve/eps2 (engine logs)`` ->
    ``curve/eps2__engine_logs_``)."""
    return re.sub(r"[^\w\-./]", "_", name)


@dataclass(frozen=True)
class Scalar:
    """One scalar event: its tag, step and value."""

    tag: str
    step: int
    value: float


def run_directory_name(record: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """``<paper>-<cell>/<run label>`` with every character TensorBoard's run selector or a file
    system might mangle (spaces, slashes, ...) replaced by ``_``."""
    label = re.sub(r"[^A-Za-z0-9=.,+-]+", "_", run["label"]).strip("_") or f"run{run['index']}"
    return f"{record['paper']}-{record['cell']}/{label}"


def trajectory_scalars(arrays: Mapping[str, np.ndarray], row: int) -> list[Scalar]:
    """The logged trajectories of run ``row`` (its index along the arrays' leading axis): every
    numeric array whose leading two axes equal those of ``arrays['step']`` (runs x log points),
    at the logged steps; a third axis (layers) gives one tag per layer, ``NAME/layer_l``. No
    ``step`` array: no trajectories."""
    if STEP not in arrays:
        return []
    steps = np.asarray(arrays[STEP])
    scalars = []
    for name, values in arrays.items():
        values = np.asarray(values)
        if name == STEP or values.dtype.kind not in "fiu" or values.shape[:2] != steps.shape:
            continue
        if values.ndim == 2:
            series = {name: values[row]}
        elif values.ndim == 3:
            series = {f"{name}/layer_{k + 1}": values[row, :, k] for k in range(values.shape[2])}
        else:
            continue
        for tag, column in series.items():
            scalars += [
                Scalar(tag_of(tag), int(s), float(v))
                for s, v in zip(steps[row], column)
                if math.isfinite(v)
            ]
    return scalars


def final_step(record: Mapping[str, Any], arrays: Mapping[str, np.ndarray], row: int) -> int:
    """The step the final quantities belong to: the run's last logged step, else the setting's
    ``steps`` (0 when it has none)."""
    if STEP in arrays and np.asarray(arrays[STEP]).shape[1:]:
        return int(np.max(np.asarray(arrays[STEP])[row]))
    return int(record["config"].get("steps", 0))


def _number(value: Any) -> float | None:
    """A stored value as a finite float, or None where it is none (None, a bool, a string, inf
    or nan: TensorBoard draws no point for it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def final_scalars(record: Mapping[str, Any], run: Mapping[str, Any], step: int) -> list[Scalar]:
    """``final/NAME`` for every quantity of ``run`` and ``check/ID/{slack,measured,bound}`` for
    each of its checks' numeric values, all at ``step``."""
    quantities = run["quantities"] or {}
    scalars = [
        Scalar(tag_of(f"final/{name}"), step, number)
        for name, value in quantities.items()
        if (number := _number(value)) is not None
    ]
    for check in record["checks"]:
        if check["run"] != run["index"]:
            continue
        for field in ("slack", "measured", "bound"):
            number = _number(check.get(field))
            if number is not None:
                tag = tag_of(f"check/{check['theorem_id']}/{field}")
                scalars.append(Scalar(tag, step, number))
    return scalars


def hparams_of(record: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The run's hyperparameters: the cell's grid coordinates and the run's own values, each as
    a bool, int, float or string (lists and None as their text)."""
    values = {"paper": record["paper"], "cell": record["cell"], **record["point"], **run["params"]}
    return {
        key: value if isinstance(value, (bool, int, float, str)) else str(value)
        for key, value in values.items()
    }


def verdict_text(record: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """A Markdown table of the run's checks: id, verdict, failing hypotheses."""
    lines = ["| check | verdict | failing |", "| --- | --- | --- |"]
    for check in record["checks"]:
        if check["run"] == run["index"]:
            failing = "; ".join(h["name"] for h in check["hypotheses"] if not h["holds"])
            lines.append(f"| {check['theorem_id']} | {check['verdict']} | {failing} |")
    return "\n".join(lines)


def write_run(
    directory: Path,
    scalars: list[Scalar],
    hparams: Mapping[str, Any],
    text: str,
) -> None:
    """Write one TensorBoard run into ``directory`` (which must not exist): the scalars, the
    hparams (metrics: the checks' slacks) and the verdict text, first into a
    temporary sibling renamed into place at the end (where another process got there first,
    its run is kept)."""
    from tensorboardX import SummaryWriter
    from tensorboardX.summary import hparams as hparams_summaries

    partial = directory.with_name(f"{TEMPORARY}{os.getpid()}-{directory.name}")
    shutil.rmtree(partial, ignore_errors=True)
    metrics = {
        s.tag: s.value for s in scalars if s.tag.startswith("check/") and s.tag.endswith("/slack")
    }
    with SummaryWriter(logdir=str(partial), flush_secs=3600) as writer:
        for scalar in scalars:
            writer.add_scalar(scalar.tag, scalar.value, scalar.step)
        for summary in hparams_summaries(dict(hparams), metrics):
            writer.file_writer.add_summary(summary)
        writer.add_text("verdicts", text, 0)
    try:
        partial.rename(directory)
    except OSError:  # another process (a shard of the same sweep) wrote this run first
        shutil.rmtree(partial, ignore_errors=True)


def export_cell(
    log_dir: Path,
    record: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    replace: bool = False,
) -> int:
    """Write every run of one cell that ``log_dir`` does not hold yet (every run, the old ones
    removed, with ``replace``); returns how many."""
    written = 0
    for row, run in enumerate(record["runs"]):
        target = Path(log_dir) / run_directory_name(record, run)
        if target.exists() and not replace:
            continue
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        scalars = trajectory_scalars(arrays, row)
        scalars += final_scalars(record, run, final_step(record, arrays, row))
        write_run(target, scalars, hparams_of(record, run), verdict_text(record, run))
        written += 1
    return written


def export(
    results_dir: str | Path,
    log_dir: str | Path,
    replace: bool = False,
    cells: Iterable[str] | None = None,
) -> int:
    """Write the TensorBoard runs of the finished cells of ``results_dir`` (only those of
    ``cells``, ids, when given) that ``log_dir`` lacks (all of them, rewritten, with
    ``replace``: a check run that trained its setting anew, or rechecked it); returns the number
    of runs written.

    Raises:
        ValueError: ``results_dir`` is not a results directory (nc_jax.results).
    """
    results_dir = store.require_directory(Path(results_dir))
    chosen = store.finished_cells(results_dir) if cells is None else set(cells)
    written = 0
    for cell in sorted(chosen):
        record = store.read_cell(results_dir, cell)
        runs = [Path(log_dir) / run_directory_name(record, run) for run in record["runs"]]
        if all(path.exists() for path in runs) and not replace:
            continue
        arrays = store.read_arrays(results_dir, cell)
        written += export_cell(Path(log_dir), record, arrays, replace)
    return written


@contextmanager
def live_export(
    results_dir: str | Path, log_dir: str | Path | None, every_s: float = 5.0
) -> Iterator[None]:
    """While the body runs, export the cells ``results_dir`` gains to ``log_dir`` every
    ``every_s`` seconds (a background thread that lists the cell ids and reads only the new
    cells), and every cell once more at the end; nothing when ``log_dir`` is None. The
    directory needs its grid.json before the first export (nc_jax.sweep prepares it first)."""
    if log_dir is None:
        yield
        return
    stop = threading.Event()

    def repeat() -> None:
        seen: set[str] = set()
        while not stop.wait(every_s):
            new = store.finished_cells(Path(results_dir)) - seen
            export(results_dir, log_dir, cells=new)
            seen |= new

    thread = threading.Thread(target=repeat, name="nc-jax tensorboard export", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        export(results_dir, log_dir)
