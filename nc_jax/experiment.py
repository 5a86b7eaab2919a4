"""The shared front of the experiment scripts (experiments/*.py): run (or resume) a sweep of a
grid file, then print the script's table of the results directory.

    python experiments/<script>.py [--quick] [--out DIR] [--set KEY=VALUE ...]
    python experiments/<script>.py --table DIR      # only the table of a finished sweep
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from nc_jax import sweep


def main(
    grid: Path,
    table: Callable[[Path], str],
    argv: Sequence[str] | None,
    description: str,
    default_out: str,
) -> int:
    """Parse the script's options, sweep ``grid`` into --out and print ``table(out)``; exit
    status 2 with the message on bad input (a bad grid or --set is named before training)."""
    prog = Path(sys.argv[0]).name if argv is None else None
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--quick", action="store_true", help="the grid's [quick] table (CI)")
    parser.add_argument("--out", default=default_out, help="results directory")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--table", metavar="DIR", help="only print the table of DIR")
    args = parser.parse_args(argv)
    try:
        if args.table:
            print(table(Path(args.table)))
            return 0
        from nc_jax.train import use_cpu_cores

        resolved = sweep.read_grid_file(grid, quick=args.quick, overrides=args.set)
        use_cpu_cores()
        sweep.sweep(resolved, args.out, progress=sys.stderr.isatty())
    except (ValueError, FileNotFoundError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(table(Path(args.out)))
    return 0
