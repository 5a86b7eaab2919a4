"""The ``nc-jax`` command line.

Subcommands:
  data      load a dataset (default: the embedded digits) and describe it
  metrics   measure every per-layer metric of a network on a dataset and print the table
  check     train a paper's setting and check its theorems (``nc-jax check jacot2025``); the
            papers are found through the ``nc_jax.theorems`` entry points, so nc_jax never
            imports the theorems package
  bench     the training benchmark: this engine vs a PyTorch loop vs torch.func (bench extra)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax.data import DATASETS, Dataset, load_dataset

TABLE_METRICS = (
    "nc1_trace_ratio",
    "nc1_pinv",
    "nc2_kappa",
    "nc2_orthogonal",
    "nc3_cos_min",
    "nc4_agreement",
    "balancedness",
    "negativity",
)


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="digits", choices=DATASETS)
    parser.add_argument("--data-dir", default=None, help="directory with the dataset files")
    parser.add_argument("--split", default="train", choices=("train", "test"))
    parser.add_argument("--n-per-class", type=int, default=None, help="class-balanced subset")
    parser.add_argument("--seed", type=int, default=0)


def _load(args: argparse.Namespace) -> Dataset:
    return load_dataset(
        args.dataset,
        data_dir=args.data_dir,
        split=args.split,
        n_per_class=args.n_per_class,
        seed=args.seed,
    )


def format_table(rows: Sequence[dict], columns: Sequence[str], first: str) -> str:
    """Fixed-width text table; floats in 4 significant digits, NaN shown as '-'."""

    def cell(value) -> str:
        if isinstance(value, float):
            return "-" if math.isnan(value) else f"{value:.4g}"
        return str(value)

    header = [first, *columns]
    body = [[cell(row[key]) for key in header] for row in rows]
    widths = [max(len(text) for text in column) for column in zip(header, *body)]
    lines = [
        " ".join(text.rjust(width) for text, width in zip(line, widths)) for line in [header, *body]
    ]
    return "\n".join(lines)


def run_data(args: argparse.Namespace) -> int:
    print(_load(args).describe())
    return 0


def run_metrics(args: argparse.Namespace) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)
    from nc_jax.examples import random_feature_network
    from nc_jax.metrics import network_metrics

    dataset = _load(args)
    net = random_feature_network(
        dataset, tuple(args.widths), args.head_depth, args.ridge, seed=args.seed
    )
    values = network_metrics(
        net.features, dataset.y, dataset.num_classes, net.weights, net.preactivations
    )
    num_linear = args.head_depth
    rows = []
    for layer in range(len(net.features)):
        kind = "linear" if layer >= len(net.features) - num_linear else "relu"
        row = {"layer": f"{layer + 1} ({kind}, {net.features[layer].shape[1]})"}
        row.update({key: float(values[key][layer]) for key in TABLE_METRICS})
        rows.append(row)
    print(dataset.describe())
    print(
        f"network: random ReLU layers {list(args.widths)} (untrained) + a {num_linear}-layer "
        f"linear head fitted by ridge regression (penalty {args.ridge}) and factorised into "
        "balanced layers"
    )
    print(format_table(rows, TABLE_METRICS, first="layer"))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {key: np.asarray(value).tolist() for key, value in values.items()}
        out.write_text(json.dumps({"dataset": dataset.name, "metrics": payload}, indent=1))
        print(f"wrote {out}")
    return 0


THEOREM_GROUP = "nc_jax.theorems"


def _theorem_modules() -> dict[str, Any]:
    """Registered paper modules, name -> entry point (not yet imported)."""
    return {point.name: point for point in entry_points(group=THEOREM_GROUP)}


def run_check(args: argparse.Namespace) -> int:
    modules = _theorem_modules()
    if args.list:
        for _, point in sorted(modules.items()):
            for theorem in point.load().THEOREMS:
                print(f"{theorem.id:<42} {theorem.provenance:<8} {theorem.statement}")
        return 0
    if args.target is None:
        raise ValueError(f"name a paper or a theorem id to check; registered: {sorted(modules)}")
    paper = args.target.split(".")[0]
    if paper not in modules:
        raise ValueError(
            f"no registered theorem module {paper!r}; registered: {sorted(modules)} "
            "(is the package that provides it installed?)"
        )
    only = ["--only", args.target] if args.target != paper else []
    return modules[paper].load().main([*only, *args.options], prog=f"nc-jax check {paper}")


def run_bench(args: argparse.Namespace) -> int:
    from nc_jax.bench_train import main as bench_main

    return bench_main(args.options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nc-jax", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="load a dataset and describe it")
    _add_dataset_arguments(data)
    data.set_defaults(run=run_data)
    metrics = commands.add_parser("metrics", help="per-layer NC metrics of a network")
    _add_dataset_arguments(metrics)
    metrics.add_argument("--widths", type=int, nargs="+", default=[512, 256])
    metrics.add_argument("--head-depth", type=int, default=3)
    metrics.add_argument("--ridge", type=float, default=1e-3)
    metrics.add_argument("--out", default=None, help="write all metrics as JSON here")
    metrics.set_defaults(run=run_metrics)
    check = commands.add_parser(
        "check",
        help="train a paper's setting and check its theorems",
        description="nc-jax check PAPER|THEOREM_ID [options of the paper's check script]; "
        "e.g. nc-jax check jacot2025 --steps 2000, nc-jax check jacot2025.thm3_1.nc1",
    )
    check.add_argument("target", nargs="?", help="paper (jacot2025) or theorem id")
    check.add_argument("--list", action="store_true", help="list every registered theorem")
    check.add_argument("options", nargs=argparse.REMAINDER, help="passed to the paper's script")
    check.set_defaults(run=run_check)
    bench = commands.add_parser(
        "bench",
        help="training benchmark: engine vs PyTorch loop vs torch.func",
        description="nc-jax bench [--regime small|wide|all] [--repeats N] [--skip-torch]",
    )
    bench.add_argument("options", nargs=argparse.REMAINDER, help="passed to nc_jax.bench_train")
    bench.set_defaults(run=run_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not hasattr(args, "options"):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:  # options of a script behind check/bench that precede its positionals
        args.options = [*unknown, *args.options]
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"nc-jax {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
