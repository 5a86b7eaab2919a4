"""The shared front of the experiment scripts (experiments/*.py): run (or resume) the sweep of a
shipped grid, then print the grid's table of the results directory (its paper's
``Paper.tables``, ``nc_jax.sweep.grid_table``) and the verdict table of every check (kind,
verdicts, informative runs, slack, the most common failing hypothesis).

    python experiments/<script>.py [--quick | --paper-scale] [--out DIR] [--set KEY=VALUE ...]
    python experiments/<script>.py --table DIR      # only the table of a finished sweep

Without a profile flag a script runs its grid's full mode (sized for a 2-core CPU); ``--quick``
applies the grid's ``[quick]`` table (seconds, what CI trains) and ``--paper-scale`` its
``[paper_scale]`` table (the paper's sizes, for an accelerator).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nc_jax import exits, sweep
from nc_jax.checks.options import add_compilation_cache_flag
from nc_jax.results import summarize


def add_profile_flags(parser: argparse.ArgumentParser) -> None:
    """--quick and --paper-scale (exclusive), stored as ``args.profile`` (None: the full
    mode), the names of nc_jax.sweep.PROFILES."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--quick",
        dest="profile",
        action="store_const",
        const="quick",
        help="apply the grid's [quick] table (small sizes, CI)",
    )
    group.add_argument(
        "--paper-scale",
        dest="profile",
        action="store_const",
        const="paper_scale",
        help="apply the grid's [paper_scale] table (the paper's sizes, for an accelerator)",
    )


def main(name: str, argv: Sequence[str] | None, description: str, default_out: str) -> int:
    """Parse the script's options, sweep the shipped grid ``name`` (``jacot2025/width``, found
    by ``nc_jax.sweep.grid_path``) into --out and print its table (when its paper has one:
    ``nc_jax.sweep.grid_table``) and the verdict table; exit status 2 with the message on bad
    input (a bad grid or --set is named before training)."""
    prog = Path(sys.argv[0]).name if argv is None else None
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_profile_flags(parser)
    parser.add_argument("--out", default=default_out, help="results directory")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--table", metavar="DIR", help="only print the table of DIR")
    add_compilation_cache_flag(parser)
    args = parser.parse_args(argv)
    return exits.guarded(parser.prog, lambda: _run(args, name))


def _run(args: argparse.Namespace, name: str) -> int:
    """Sweep (unless --table) and print the grid's table and the verdicts; the exit status of
    the verdicts (nc_jax.exits)."""
    if not args.table:
        from nc_jax.train import enable_compilation_cache, use_cpu_cores

        resolved = sweep.read_grid_file(name, profile=args.profile, overrides=args.set)
        use_cpu_cores()
        enable_compilation_cache(not args.no_compilation_cache)
        sweep.sweep(resolved, args.out, progress=sys.stderr.isatty())
    directory = Path(args.table or args.out)
    checks = sweep.load(directory)
    print(answer(name, directory, checks))
    return exits.status_of(checks["verdict"]) if len(checks) else exits.OK


def answer(grid: str | Path, directory: Path, checks) -> str:
    """What a sweep of ``grid`` answers: the grid's table of ``directory`` where its paper has
    one (``nc_jax.sweep.grid_table``) and finished cells (a multi-host job's process k > 0 writes
    only its parts), then the verdict table of every check (``checks``, the ``nc_jax.sweep.load``
    DataFrame of ``directory``)."""
    table = sweep.grid_table(grid) if len(checks) else None
    head = f"{table(directory)}\n\nEvery check on these networks:\n" if table else ""
    return head + summarize(checks)
