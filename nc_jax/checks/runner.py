"""The generic check runner: a paper (handed in, never imported by name) on one setting.

``main(paper, argv)`` is ``nc-jax check PAPER`` and ``python -m theorems.PAPER``: it builds the
options from the paper's Setting (nc_jax.checks.options), trains and measures the runs through
``paper.run``, evaluates every selected theorem on every run, prints a summary per check first,
then one row per check and run that is violated or vacuous (every run with ``--verbose``),
writes the results directory (nc_jax.results: the same format as a sweep, a grid without axes;
every row in ``checks.txt``) and ``checks.png``, and returns the exit status of nc_jax.exits
(0 holds or vacuous, 1 violated, 2 bad usage, 3 a bug).

``--recheck`` re-evaluates the theorems on the quantities stored in an existing results
directory (no training), e.g. after a bound's code changed.

``main_all(papers, argv)`` is ``nc-jax check all``: every registered paper's default setting, one
after another, each into its own results directory, then one summary table of every check and the
wall time of every paper; exit status 1 if any check is violated, else 3 if a paper failed with an
error (the other papers still run), else 0.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nc_jax import exits
from nc_jax import results as store
from nc_jax.checks.contract import (
    CellOutcome,
    CheckResult,
    Hypothesis,
    Paper,
    RunRecord,
    Theorem,
    check,
    select,
    setting_runs,
)
from nc_jax.checks.options import (
    add_compilation_cache_flag,
    add_log_dir_flag,
    add_setting_options,
    flag,
    given_options,
    make_setting,
    setting_to_data,
)
from nc_jax.plots import plot_checks
from nc_jax.progress import progress_bars
from nc_jax.tensorboard import export as export_tensorboard

if TYPE_CHECKING:  # the engine loads only where a context is built
    from nc_jax.checks.context import TrainContext

NOT_DIVERGED = "the run trained without diverging"


def versions() -> dict[str, str]:
    """Versions of jax, jaxlib, nc-jax and Python, for every results record."""
    out = {"python": platform.python_version()}
    for package in ("jax", "jaxlib", "nc-jax"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def environment() -> dict[str, Any]:
    """What decides whether two results are comparable, for every results record: the float32
    matmul precision in force (JAX's default is TF32 on recent NVIDIA GPUs), whether float64 is
    on globally (JAX_ENABLE_X64), the XLA flags, the platform, device kind and count, and
    whether the persistent compilation cache is on (it does not change results; recorded so
    that a reader can tell)."""
    import jax

    devices = jax.local_devices()
    return {
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "x64": bool(jax.config.jax_enable_x64),
        "xla_flags": os.environ.get("XLA_FLAGS", "").strip(),
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "compilation_cache": "on" if jax.config.jax_enable_compilation_cache else "off",
    }


def device_kind() -> str:
    """The kind of the first local device and the number of local devices, e.g. 'cpu x 2'."""
    import jax

    devices = jax.local_devices()
    return f"{devices[0].device_kind} x {len(devices)}"


def run_paper(paper: Paper, settings: Sequence[Any], context: TrainContext) -> list[CellOutcome]:
    """``paper.run`` on settings of one bucket, with its answer checked against the contract;
    on one process each cell is whole and gets ``paper.finish_cell`` (a multi-host job's parts
    get it after the merge, ``finish_merged``)."""
    outcomes = paper.run(list(settings), context)
    if len(outcomes) != len(settings):
        raise TypeError(
            f"paper {paper.name}: run returned {len(outcomes)} outcomes "
            f"for {len(settings)} settings"
        )
    if paper.finish_cell is None or context.process_count > 1:
        return outcomes
    return [paper.finish_cell(s, outcome) for s, outcome in zip(settings, outcomes)]


def finish_merged(
    paper: Paper, setting: Any, record: Mapping[str, Any], arrays: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A cell merged from a multi-host job's parts, as one process would have written it:
    ``paper.finish_cell`` over all its runs, then its checks evaluated again. Returns the record
    and the arrays (unchanged without a ``finish_cell``)."""
    if paper.finish_cell is None:
        return dict(record), dict(arrays)
    outcome = paper.finish_cell(setting, CellOutcome(store.decode_runs(record), dict(arrays)))
    pairs = evaluate_runs(paper.theorems, outcome.runs)
    merged = dict(record, runs=store.encode_runs(outcome.runs), checks=check_records(pairs))
    return merged, dict(outcome.arrays)


def diverged_result(theorem: Theorem, run: RunRecord) -> CheckResult:
    """A run that diverged has no measurement: every check on it is vacuous, and says why."""
    failing = Hypothesis(NOT_DIVERGED, float(run.diverged_step or 0), 0.0, "<=")
    return CheckResult(
        theorem_id=theorem.id,
        label=run.label,
        kind=theorem.kind,
        provenance=theorem.provenance,
        relation=theorem.relation,
        verdict="vacuous",
        bound=math.nan,
        measured=math.nan,
        slack=math.nan,
        hypotheses=(failing,),
        extras={},
        informative=None if theorem.kind != "consequence" else False,
    )


def evaluate_runs(
    theorems: Sequence[Theorem], runs: Sequence[RunRecord]
) -> list[tuple[int, CheckResult]]:
    """Every theorem on every run: (run index, result), theorem-major."""
    return [
        (
            run.index,
            diverged_result(t, run)
            if run.quantities is None
            else check(t, run.quantities, run.label),
        )
        for t in theorems
        for run in runs
    ]


def theorem_records(theorems: Sequence[Theorem]) -> dict[str, dict[str, str]]:
    return {
        t.id: {
            "reference": t.reference,
            "statement": t.statement,
            "kind": t.kind,
            "provenance": t.provenance,
            "confidence": t.confidence,
            "relation": t.relation,
            "trivial": t.trivial,
        }
        for t in theorems
    }


def cell_record(
    paper: Paper,
    setting: Any,
    index: int,
    axes: Sequence[str],
    runs: Sequence[RunRecord],
    theorems: Sequence[Theorem],
    wall_time_s: float,
    pairs: Sequence[tuple[int, CheckResult]] | None = None,
) -> dict[str, Any]:
    """The JSON record of one finished cell (nc_jax.results); ``pairs`` are the check results
    of ``evaluate_runs(theorems, runs)`` when the caller already has them."""
    config = setting_to_data(setting)
    return {
        "cell": store.cell_id(paper.name, config),
        "index": index,
        "paper": paper.name,
        "paper_title": paper.title,
        "config": config,
        "point": {key: config[key] for key in axes},
        "runs": store.encode_runs(runs),
        "checks": check_records(pairs if pairs is not None else evaluate_runs(theorems, runs)),
        "theorems": theorem_records(theorems),
        "wall_time_s": wall_time_s,
        "versions": versions(),
        "device": device_kind(),
        "environment": environment(),
    }


def check_records(pairs: Sequence[tuple[int, CheckResult]]) -> list[dict[str, Any]]:
    """(run index, result) pairs as the JSON check records of a cell."""
    return [{"run": run, **result.to_json()} for run, result in pairs]


ROWS_FILE = "checks.txt"  # every check and run of a results directory, as --verbose prints


def format_results(results: Sequence[CheckResult], verbose: bool = False) -> str:
    """The summary first (one row per check), then one row per check and run: every run with
    ``verbose``, else only the violated and vacuous ones (those a reader looks into)."""
    shown = list(results) if verbose else [r for r in results if r.verdict != "holds"]
    lines = [format_summary(results)]
    if shown and not verbose:
        lines += [
            "",
            f"violated or vacuous: {len(shown)} of the {len(results)} per-run checks "
            f"(--verbose prints them all; {ROWS_FILE} in the results directory holds them)",
        ]
    if shown:
        lines += ["", format_rows(shown)]
    return "\n".join(lines)


def format_rows(results: Sequence[CheckResult]) -> str:
    """One row per check and run: its kind, run, verdict, bound, measured value, slack, trivial
    reference, whether informative and the failing hypotheses."""
    w = max((len(r.theorem_id) for r in results), default=5)
    lines = [
        f"{'check':<{w}} {'kind':<11} {'run':<20} {'verdict':<9} {'bound':>11} {'measured':>11} "
        f"{'slack':>9} {'trivial':>11} {'inform.':>7}  failing hypothesis"
    ]
    for r in results:
        failing = "; ".join(h.describe() for h in r.failing)
        informative = {True: "yes", False: "no", None: "-"}[r.informative]
        lines.append(
            f"{r.theorem_id:<{w}} {r.kind:<11} {r.label:<20} {r.verdict:<9} {r.bound:>11.4g} "
            f"{r.measured:>11.4g} {r.slack:>9.3g} {r.trivial:>11.4g} {informative:>7}  {failing}"
        )
    return "\n".join(lines)


def write_rows(directory: Path, results: Sequence[CheckResult]) -> None:
    """Every check and run of ``results`` as text in ``directory`` (ROWS_FILE)."""
    (directory / ROWS_FILE).write_text(format_rows(results) + "\n")


def format_summary(results: Sequence[CheckResult]) -> str:
    """Per check: its kind, how many runs hold, are violated, are vacuous, are informative, the
    range of the slack and the most common failing hypothesis (nc_jax.results.summarize, the
    same table a sweep prints)."""
    import pandas as pd

    columns = ["check", "kind", "verdict", "slack", "informative", "failing"]
    rows = [
        (
            r.theorem_id,
            r.kind,
            r.verdict,
            r.slack,
            r.informative,
            "; ".join(h.name for h in r.failing),
        )
        for r in results
    ]
    return store.summarize(pd.DataFrame(rows, columns=columns))


def build_parser(paper: Paper, prog: str) -> argparse.ArgumentParser:
    """The options of ``nc-jax check PAPER``: the runner's, then one per Setting field."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Train the setting of {paper.title} and check its theorems.",
        epilog=exits.EPILOG,
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="ID", help="check id or prefix (repeat)"
    )
    parser.add_argument(
        "--results",
        default=f"results/{paper.name}",
        help="results directory (default: %(default)s)",
    )
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="re-evaluate the checks on the quantities stored in --results (no training)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the paper's quick setting (seconds of training, far from its regime); options "
        "given beside it override it",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help=f"print every check of every run after the summary (default: the violated and "
        f"vacuous ones; every row is in {ROWS_FILE} in --results)",
    )
    add_compilation_cache_flag(parser)
    add_log_dir_flag(parser)
    add_setting_options(parser, paper.setting)
    return parser


def recheck(paper: Paper, directory: Path, theorems: Sequence[Theorem]) -> list[CheckResult]:
    """Re-evaluate ``theorems`` on every stored cell of ``directory`` and rewrite the records."""
    grid = store.read_grid(directory)
    if grid.get("paper") != paper.name:
        raise ValueError(
            f"--results {directory} holds results of {grid.get('paper')!r}, not {paper.name!r}"
        )
    everything = []
    for record in store.read_cells(directory):
        pairs = evaluate_runs(theorems, store.decode_runs(record))
        record["checks"] = check_records(pairs)
        record["theorems"] = theorem_records(theorems)
        store.write_cell(directory, record, store.read_arrays(directory, record["cell"]))
        everything += [result for _, result in pairs]
    write_rows(directory, everything)
    return everything


def check_setting(
    paper: Paper,
    setting: Any,
    directory: Path,
    theorems: Sequence[Theorem],
    progress: bool = True,
) -> list[CheckResult]:
    """Train and measure one setting, check it, write ``directory`` (a grid without axes)."""
    if (directory / store.GRID_FILE).is_file() and store.read_grid(directory).get("axes"):
        raise ValueError(
            f"--results {directory} holds a sweep; choose another directory for a check run"
        )
    started = time.perf_counter()
    with progress_bars(progress) as bars:
        run_steps = setting_runs(setting) * int(getattr(setting, "steps", 1))
        task = bars.add_task(f"{paper.name}: training", total=run_steps)
        from nc_jax.checks.context import TrainContext  # the engine: loaded to train

        context = TrainContext(on_steps=lambda n: bars.advance(task, n))
        (outcome,) = run_paper(paper, [setting], context)
    pairs = evaluate_runs(theorems, outcome.runs)
    record = cell_record(
        paper, setting, 0, (), outcome.runs, theorems, time.perf_counter() - started, pairs
    )
    for stale in (directory / store.CELLS, directory / store.ARRAYS):
        shutil.rmtree(stale, ignore_errors=True)  # a check directory holds one setting
    store.write_grid(
        directory, {"paper": paper.name, "fixed": setting_to_data(setting), "axes": {}}
    )
    store.write_cell(directory, record, outcome.arrays)
    results = [result for _, result in pairs]
    write_rows(directory, results)
    if outcome.runs:
        plot_checks(paper.name, results, dict(outcome.arrays), directory / "checks.png")
    return results


def main(paper: Paper, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run (or recheck) a paper's checks; returns the exit status (module docstring)."""
    prog = prog or f"python -m theorems.{paper.name}"
    args = build_parser(paper, prog).parse_args(argv)
    return exits.guarded(prog, lambda: _main(paper, args))


def _main(paper: Paper, args: argparse.Namespace) -> int:
    from nc_jax.train import enable_compilation_cache, use_cpu_cores

    directory = Path(args.results)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--results {directory} is a file; pass a directory")
    given = given_options(args, paper.setting)
    theorems = select({t.id: t for t in paper.theorems}, args.only or [paper.name])
    started = time.perf_counter()
    if args.recheck:
        if given or args.quick:
            flags = ", ".join([flag(name) for name in given] + ["--quick"] * args.quick)
            raise ValueError(
                f"--recheck re-evaluates {directory} as it was trained; {flags} would be "
                "ignored: drop them, or train anew without --recheck"
            )
        results = recheck(paper, directory, theorems)
        wrote = directory / store.CELLS
    else:
        setting = make_setting(paper.setting, (dict(paper.quick) if args.quick else {}) | given)
        use_cpu_cores()  # one JAX device per core: the runs train in parallel (engine docstring)
        enable_compilation_cache(not args.no_compilation_cache)
        results = check_setting(paper, setting, directory, theorems)
        wrote = directory
    if args.log_dir is not None:
        export_tensorboard(directory, args.log_dir, replace=True)
    print(format_results(results, args.verbose))
    print(f"\n{len(results)} checks in {time.perf_counter() - started:.1f}s; wrote {wrote}")
    return exits.status_of(r.verdict for r in results)


def main_all(
    papers: Mapping[str, Paper], argv: Sequence[str] | None = None, prog: str = "nc-jax check all"
) -> int:
    """Check every paper of ``papers`` on its default setting (module docstring); returns the
    exit status."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train every registered paper's default setting and check its theorems.",
        epilog="Exit status: 0 every check holds or is vacuous, 1 a check is violated, "
        "2 bad usage, 3 a paper failed with an error (the others still ran).",
    )
    parser.add_argument(
        "--results", default="results", help="root: paper P writes ROOT/P (default: %(default)s)"
    )
    parser.add_argument("--skip", action="append", default=[], metavar="PAPER", help="(repeat)")
    parser.add_argument(
        "--verbose", action="store_true", help="print every check of every run of every paper"
    )
    add_compilation_cache_flag(parser)
    add_log_dir_flag(parser)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.skip) - set(papers))
    if unknown:
        print(
            f"{prog}: error: --skip {', '.join(unknown)}: no such paper; registered: "
            f"{sorted(papers)}",
            file=sys.stderr,
        )
        return exits.USAGE
    from nc_jax.train import enable_compilation_cache, use_cpu_cores

    use_cpu_cores()
    enable_compilation_cache(not args.no_compilation_cache)
    everything: list[CheckResult] = []
    timings: list[tuple[str, int, float]] = []
    failed: list[str] = []
    for name in sorted(set(papers) - set(args.skip)):
        paper = papers[name]
        started = time.perf_counter()
        print(f"=== {name}: {paper.title} ===", flush=True)
        try:
            directory = Path(args.results) / name
            results = check_setting(paper, paper.setting(), directory, paper.theorems)
            if args.log_dir is not None:
                export_tensorboard(directory, args.log_dir, replace=True)
        except Exception:  # one paper's bug must not hide the others' verdicts
            traceback.print_exc()
            failed.append(name)
            continue
        timings.append((name, len(results), time.perf_counter() - started))
        print(format_results(results, args.verbose) + "\n", flush=True)
        everything += results
    print("=== every paper ===")
    print(format_summary(everything) if everything else "(no check ran)")
    print("\n" + format_timings(timings))
    if failed:
        print(f"{prog}: these papers failed with an error: {', '.join(failed)}", file=sys.stderr)
    status = exits.status_of(r.verdict for r in everything)
    return exits.BUG if failed and status == exits.OK else status


def format_timings(timings: Sequence[tuple[str, int, float]]) -> str:
    """One row per paper (name, checks evaluated, wall seconds) and the total."""
    lines = [f"{'paper':<20} {'checks':>7} {'wall s':>9}"]
    lines += [f"{name:<20} {count:>7} {seconds:>9.1f}" for name, count, seconds in timings]
    total = sum(seconds for _, _, seconds in timings)
    lines.append(f"{'total':<20} {sum(c for _, c, _ in timings):>7} {total:>9.1f}")
    return "\n".join(lines)
