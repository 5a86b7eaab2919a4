"""The generic check runner: a paper (handed in, never imported by name) on one setting.

``main(paper, argv)`` is ``nc-jax check PAPER`` and ``python -m theorems.PAPER``: it builds the
options from the paper's Setting (nc_jax.checks.options), trains and measures the runs through
``paper.run``, evaluates every selected theorem on every run, prints one row per check and run
plus a summary per check, writes the results directory (nc_jax.results: the same format as a
sweep, a grid without axes) and ``checks.png``, and returns the exit status:

- 0: every check holds or is vacuous;
- 1: a check is violated while its hypotheses hold (a finding: a bug or a counterexample);
- 2: bad usage or bad input (the message names the flag and the fix);
- 3: an unexpected error (a bug in nc-jax or the paper package; the traceback is printed).

``--recheck`` re-evaluates the theorems on the quantities stored in an existing results
directory (no training), e.g. after a bound's code changed.

``main_all(papers, argv)`` is ``nc-jax check all``: every registered paper's default setting, one
after another, each into its own results directory, then one summary table of every check and the
wall time of every paper; exit status 1 if any check is violated, else 3 if a paper failed with an
error (the other papers still run), else 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
    add_setting_options,
    flag,
    given_options,
    make_setting,
    setting_to_data,
)
from nc_jax.progress import progress_bars

if TYPE_CHECKING:  # the engine loads only where a context is built
    from nc_jax.checks.context import TrainContext

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
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


def device_kind() -> str:
    """The kind of the first local device and the number of local devices, e.g. 'cpu x 2'."""
    import jax

    devices = jax.local_devices()
    return f"{devices[0].device_kind} x {len(devices)}"


def run_paper(paper: Paper, settings: Sequence[Any], context: TrainContext) -> list[CellOutcome]:
    """``paper.run`` on settings of one bucket, with its answer checked against the contract."""
    outcomes = paper.run(list(settings), context)
    if len(outcomes) != len(settings):
        raise TypeError(
            f"paper {paper.name}: run returned {len(outcomes)} outcomes "
            f"for {len(settings)} settings"
        )
    return outcomes


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
        "config": config,
        "point": {key: config[key] for key in axes},
        "runs": [dataclasses.asdict(run) for run in runs],
        "checks": check_records(pairs if pairs is not None else evaluate_runs(theorems, runs)),
        "theorems": theorem_records(theorems),
        "wall_time_s": wall_time_s,
        "versions": versions(),
        "device": device_kind(),
    }


def stored_runs(record: Mapping[str, Any]) -> list[RunRecord]:
    """The runs of a stored cell record, quantities back as floats."""
    return [
        RunRecord(
            r["index"],
            r["label"],
            r["params"],
            None
            if r["quantities"] is None
            else {k: store._number(v) for k, v in r["quantities"].items()},
            r["diverged_step"],
        )
        for r in record["runs"]
    ]


def check_records(pairs: Sequence[tuple[int, CheckResult]]) -> list[dict[str, Any]]:
    """(run index, result) pairs as the JSON check records of a cell."""
    return [{"run": run, **result.to_json()} for run, result in pairs]


def format_results(results: Sequence[CheckResult]) -> str:
    """One row per check and run (with the check's kind), then one summary row per check."""
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
    lines += ["", format_summary(results)]
    return "\n".join(lines)


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


def plot_cell(
    paper: str, results: Sequence[CheckResult], arrays: Mapping[str, np.ndarray], path: Path
) -> None:
    """checks.png: (1) measured/bound per check and run (below 1 holds for '<=', above 1 for
    '>='); (2) NC1 of Z_{L-1} and the last balancedness along training (engine logs
    ``layer/...``, mean and range over runs), when logged; (3) the paper's curves
    (arrays ``curve/<name>``, first run), when it has any."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {k.removeprefix("curve/"): v for k, v in arrays.items() if k.startswith("curve/")}
    logged = "layer/nc1_trace_ratio" in arrays
    panels = 1 + logged + bool(curves)
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.5), squeeze=False)
    axes = axes[0]
    ids = list(dict.fromkeys(r.theorem_id for r in results))
    colors = {"holds": "tab:green", "violated": "tab:red"}
    for r in results:
        if r.verdict != "vacuous" and r.slack > 0:
            marker = "<" if r.relation == "<=" else ">"
            color = colors[r.verdict]
            face = "none" if r.informative is False else color  # hollow: no better than trivial
            axes[0].scatter(
                r.slack, ids.index(r.theorem_id), marker=marker, edgecolors=color, facecolors=face
            )
    vacuous = {i: sum(r.verdict == "vacuous" for r in results if r.theorem_id == i) for i in ids}
    kinds = {r.theorem_id: r.kind for r in results}
    names = [
        f"{i.removeprefix(paper + '.')} [{kinds[i]}]"
        + (f" ({vacuous[i]} vacuous)" if vacuous[i] else "")
        for i in ids
    ]
    axes[0].axvline(1.0, color="black", lw=0.8)
    axes[0].set_xscale("log")
    axes[0].set_yticks(range(len(ids)), names, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("measured / bound   (<: an upper bound, >: a lower bound)")
    axes[0].set_title(
        "bound vs measured, every run (green holds, red violated;\n"
        "hollow: the bound is no better than its trivial reference)\n"
        "[consequence]: implied by other measurements, its slack is its worth",
        fontsize=10,
    )
    if logged:
        ax = axes[1]
        steps = arrays["step"][0]
        for key, label in (
            ("layer/nc1_trace_ratio", "NC1(Z_{L-1})"),
            ("layer/balancedness", "last-pair balancedness"),
        ):
            values = arrays[key][:, :, -2]  # Z_{L-1}, and the pair (W_{L-1}, W_L)
            ax.semilogy(steps, np.nanmean(values, axis=0), label=label)
            ax.fill_between(steps, np.nanmin(values, axis=0), np.nanmax(values, axis=0), alpha=0.25)
        ax.set_xlabel("training step (engine logs, mean and range over runs)")
        ax.set_title("training: NC1 and balancedness")
        ax.legend()
    if curves:
        ax = axes[-1]
        logged_steps = np.asarray(arrays["step"][0]) if "step" in arrays else None
        for number, (name, values) in enumerate(curves.items()):
            style = ("-", "--", ":", "-.")[number % 4]  # curves that coincide stay visible
            first = np.asarray(values[0])
            first = first[:, None] if first.ndim == 1 else first
            same = logged_steps is not None and len(logged_steps) == len(first)
            x = logged_steps if same else np.arange(len(first))
            for column in range(first.shape[1]):
                suffix = f" {column + 1}" if first.shape[1] > 1 else ""
                ax.semilogy(x, first[:, column], style, label=name + suffix)
        ax.set_xlabel("training step (first run)")
        ax.set_title("curves of the paper's measurement")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_parser(paper: Paper, prog: str) -> argparse.ArgumentParser:
    """The options of ``nc-jax check PAPER``: the runner's, then one per Setting field."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Train the setting of {paper.title} and check its theorems.",
        epilog="Exit status: 0 every check holds or is vacuous, 1 a check is violated, "
        "2 bad usage or input, 3 an unexpected error.",
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
        pairs = evaluate_runs(theorems, stored_runs(record))
        record["checks"] = check_records(pairs)
        record["theorems"] = theorem_records(theorems)
        store.write_cell(directory, record, store.read_arrays(directory, record["cell"]))
        everything += [result for _, result in pairs]
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
    if outcome.runs:
        plot_cell(paper.name, results, dict(outcome.arrays), directory / "checks.png")
    return results


def main(paper: Paper, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run (or recheck) a paper's checks; returns the exit status (module docstring)."""
    prog = prog or f"python -m theorems.{paper.name}"
    args = build_parser(paper, prog).parse_args(argv)
    try:
        return _main(paper, args)
    except (ValueError, FileNotFoundError, NotADirectoryError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # a bug: never reported as a violated bound (exit 1)
        traceback.print_exc()
        print(f"{prog}: internal error (exit {EXIT_BUG}); please report it", file=sys.stderr)
        return EXIT_BUG


def _main(paper: Paper, args: argparse.Namespace) -> int:
    from nc_jax.train import use_cpu_cores

    directory = Path(args.results)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"--results {directory} is a file; pass a directory")
    given = given_options(args, paper.setting)
    theorems = select({t.id: t for t in paper.theorems}, args.only or [paper.name])
    started = time.perf_counter()
    if args.recheck:
        if given:
            flags = ", ".join(flag(name) for name in given)
            raise ValueError(
                f"--recheck re-evaluates {directory} as it was trained; {flags} would be "
                "ignored: drop them, or train anew without --recheck"
            )
        results = recheck(paper, directory, theorems)
        wrote = directory / store.CELLS
    else:
        setting = make_setting(paper.setting, given)
        use_cpu_cores()  # one JAX device per core: the runs train in parallel (engine docstring)
        results = check_setting(paper, setting, directory, theorems)
        wrote = directory
    print(format_results(results))
    print(f"\n{len(results)} checks in {time.perf_counter() - started:.1f}s; wrote {wrote}")
    return EXIT_VIOLATED if any(r.verdict == "violated" for r in results) else EXIT_OK


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
    args = parser.parse_args(argv)
    unknown = sorted(set(args.skip) - set(papers))
    if unknown:
        print(
            f"{prog}: error: --skip {', '.join(unknown)}: no such paper; registered: "
            f"{sorted(papers)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from nc_jax.train import use_cpu_cores

    use_cpu_cores()
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
        except Exception:  # one paper's bug must not hide the others' verdicts
            traceback.print_exc()
            failed.append(name)
            continue
        timings.append((name, len(results), time.perf_counter() - started))
        print(format_results(results) + "\n", flush=True)
        everything += results
    print("=== every paper ===")
    print(format_summary(everything) if everything else "(no check ran)")
    print("\n" + format_timings(timings))
    if failed:
        print(f"{prog}: these papers failed with an error: {', '.join(failed)}", file=sys.stderr)
    if any(r.verdict == "violated" for r in everything):
        return EXIT_VIOLATED
    return EXIT_BUG if failed else EXIT_OK


def format_timings(timings: Sequence[tuple[str, int, float]]) -> str:
    """One row per paper (name, checks evaluated, wall seconds) and the total."""
    lines = [f"{'paper':<20} {'checks':>7} {'wall s':>9}"]
    lines += [f"{name:<20} {count:>7} {seconds:>9.1f}" for name, count, seconds in timings]
    total = sum(seconds for _, _, seconds in timings)
    lines.append(f"{'total':<20} {sum(c for _, c, _ in timings):>7} {total:>9.1f}")
    return "\n".join(lines)
