"""The ``nc-jax`` command line.

Subcommands:
  data      load a dataset (default: the embedded digits) and describe it
  metrics   measure every per-layer metric of a network on a dataset and print the table
  check     train a paper's setting and check its theorems (``nc-jax check jacot2025``; ``nc-jax
            check all``: every registered paper's default setting and one summary table); the
            papers are found through the ``nc_jax.theorems`` entry points, so nc_jax never
            imports the theorems package
  sweep     train and check a grid of a paper's settings, resumable (``nc-jax sweep GRID.toml``)
  plot      bound-vs-measured plots of a results directory (nc_jax.plots)
  report    one self-contained HTML page of a results directory (nc_jax.report)
  falsify   search for counterexamples to a paper's consequence checks (nc_jax.falsify)
  bench     the training benchmark: this engine vs a PyTorch loop vs torch.func (bench extra);
            ``nc-jax bench sweep``: the sweep against the engine alone
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nc_jax import exits
from nc_jax.checks.options import add_compilation_cache_flag, add_log_dir_flag
from nc_jax.data import DATASETS, EMBEDDED_DATASETS, INPUT_DIMS, SOURCES, Dataset, load_dataset
from nc_jax.experiment import add_profile_flags

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
    parser.add_argument("--dataset", default="digits", choices=DATASETS, help="the dataset")
    parser.add_argument("--data-dir", default=None, help="directory with the dataset files")
    parser.add_argument("--split", default="train", choices=("train", "test"), help="the split")
    parser.add_argument("--n-per-class", type=int, default=None, help="class-balanced subset")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset and generator")


def _add_results_arguments(parser: argparse.ArgumentParser) -> None:
    """RESULTS_DIR and the plot axes, shared by plot and report."""
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a sweep's or a check's results")
    parser.add_argument("--x", default=None, help="x axis (default: the first grid axis, or seed)")
    parser.add_argument("--y", default=None, help="second axis: the tightness atlas")


def _int_list(text: str) -> tuple[int, ...]:
    from nc_jax.checks.options import parse_text

    try:
        return parse_text(text, tuple[int, ...])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of int, got {text!r}"
        ) from None


def _load(args: argparse.Namespace) -> Dataset:
    if args.data_dir is not None and args.dataset in EMBEDDED_DATASETS:
        raise ValueError(f"--data-dir: {args.dataset} is embedded and reads no files: drop it")
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


def dataset_listing() -> str:
    """One line per dataset: its name, input dimension D and where it comes from."""
    width = max(len(name) for name in DATASETS)
    return "\n".join(
        f"{name.ljust(width)}  D={INPUT_DIMS[name]:<5d} {SOURCES[name]}" for name in DATASETS
    )


def run_data(args: argparse.Namespace) -> int:
    print(dataset_listing() if args.list else _load(args).describe())
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


def run_check(args: argparse.Namespace) -> int:
    from nc_jax.checks import get_paper, load_papers
    from nc_jax.checks.runner import main as check_main

    if args.list:
        for paper in load_papers().values():
            for theorem in paper.theorems:
                print(
                    f"{theorem.id:<42} {theorem.kind:<11} {theorem.provenance:<8} "
                    f"{theorem.statement}"
                )
        return 0
    if args.target is None:
        raise ValueError(f"name a paper, a theorem id or all to check; registered: {paper_names()}")
    if args.target == "all":
        from nc_jax.checks.runner import main_all

        return main_all(load_papers(), args.options)
    paper = get_paper(args.target.split(".")[0])
    only = ["--only", args.target] if args.target != paper.name else []
    return check_main(paper, [*only, *args.options], prog=f"nc-jax check {paper.name}")


class _CheckHelp(argparse.Action):
    """``nc-jax check --help``: the usage, then every registered paper with its options."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show this help and every paper's")

    def __call__(self, parser, namespace, values, option_string=None):
        from nc_jax.checks import load_papers
        from nc_jax.checks.runner import build_parser as paper_parser

        parser.print_help()
        for paper in load_papers().values():
            print(f"\n=== paper {paper.name}: {paper.title} ===")
            print(paper_parser(paper, f"nc-jax check {paper.name}").format_help())
        parser.exit()


def paper_names() -> list[str]:
    from nc_jax.checks import paper_names as names

    return names()


def format_shipped_grids(grids: dict[str, Path]) -> str:
    """One line per shipped grid: its name (the paper, a slash, the rest), its paper and the
    first line of its leading comment."""
    import tomllib

    lines = []
    for name, path in grids.items():
        text = path.read_text()
        paper = tomllib.loads(text)["paper"]
        alias = name.replace(f"{paper}_", f"{paper}/", 1)
        comments = [line.lstrip("# ") for line in text.splitlines() if line.startswith("#")]
        lines.append(f"{alias:<34} {paper:<17} {comments[0] if comments else ''}")
    return "\n".join(lines)


def run_sweep(args: argparse.Namespace) -> int:
    from nc_jax import sweep
    from nc_jax.experiment import answer

    if args.list:
        print(format_shipped_grids(sweep.shipped_grids()))
        return 0
    if args.status is not None:
        if args.grid is not None:
            raise ValueError("--status DIR reads a sweep directory; drop GRID.toml")
        print(sweep.status(args.status))
        return 0
    if args.grid is None or args.out is None:
        raise ValueError(
            "give GRID (a file or a shipped grid's name) and --out DIR (or --status DIR)"
        )
    if args.executor != "ray" and args.address is not None:
        raise ValueError("--address names a Ray cluster: add --executor ray or drop it")
    shard = sweep.parse_shard(args.shard) if args.shard else None
    if args.run_group is not None and args.run_group < 1:
        raise ValueError(f"--run-group must be >= 1, got {args.run_group}")
    grid = sweep.read_grid_file(args.grid, profile=args.profile, overrides=args.set)
    if args.executor == "ray":  # the driver must not take the GPU memory its workers need
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    sweep.maybe_initialize_distributed()
    from nc_jax.train import enable_compilation_cache, use_cpu_cores

    use_cpu_cores()
    enable_compilation_cache(not args.no_compilation_cache)
    written = sweep.sweep(
        grid,
        args.out,
        extend=args.extend,
        shard=shard,
        executor=args.executor,
        address=args.address,
        run_group=args.run_group,
        progress=not args.no_progress,
        log_dir=args.log_dir,
    )
    table = sweep.load(args.out)
    print(f"wrote {written} cells; {args.out} now holds {table['cell'].nunique()} cells")
    print(answer(args.grid, Path(args.out), table))
    return 1 if (table["verdict"] == "violated").any() else 0


def run_plot(args: argparse.Namespace) -> int:
    from nc_jax.plots import main as plot_main

    return plot_main(args)


def run_report(args: argparse.Namespace) -> int:
    from nc_jax.report import main as report_main

    return report_main(args)


def run_export(args: argparse.Namespace) -> int:
    from nc_jax import results as store
    from nc_jax.tensorboard import export

    directory = store.require_directory(Path(args.results_dir))
    written = export(directory, args.tensorboard)
    print(
        f"wrote {written} TensorBoard runs into {args.tensorboard} (tensorboard --logdir "
        f"{args.tensorboard})"
    )
    return 0


def run_falsify(args: argparse.Namespace) -> int:
    from nc_jax.falsify import main as falsify_main

    return falsify_main(args)


def run_bench(args: argparse.Namespace) -> int:
    if args.options[:1] == ["sweep"]:
        from nc_jax.bench.sweep import main as bench_sweep

        return bench_sweep(args.options[1:])
    from nc_jax.bench.train import main as bench_main

    return bench_main(args.options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nc-jax",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nc-jax {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = argparse.ArgumentDefaultsHelpFormatter
    data = commands.add_parser(
        "data", help="load a dataset and describe it", formatter_class=defaults
    )
    _add_dataset_arguments(data)
    data.add_argument("--list", action="store_true", help="list every dataset and its source")
    data.set_defaults(run=run_data)
    metrics = commands.add_parser(
        "metrics", help="per-layer NC metrics of a network", formatter_class=defaults
    )
    _add_dataset_arguments(metrics)
    metrics.add_argument(
        "--widths",
        type=_int_list,
        default=(512, 256),
        metavar="LIST_OF_INT",
        help="widths of the ReLU layers, comma-separated like every list option",
    )
    metrics.add_argument("--head-depth", type=int, default=3, help="layers of the linear head")
    metrics.add_argument("--ridge", type=float, default=1e-3, help="ridge penalty of the head fit")
    metrics.add_argument("--out", default=None, help="write all metrics as JSON here")
    metrics.set_defaults(run=run_metrics)
    check = commands.add_parser(
        "check",
        help="train a paper's setting and check its theorems",
        description="nc-jax check PAPER|THEOREM_ID|all [options of the paper's setting]; "
        "e.g. nc-jax check jacot2025 --steps 2000, nc-jax check jacot2025.thm3_1.nc1, "
        "nc-jax check all (every registered paper's default setting, one summary table). "
        "Exit status: 0 every check holds or is vacuous, 1 a check is violated, 2 bad usage "
        "or input, 3 an unexpected error.",
        add_help=False,
    )
    check.add_argument("-h", "--help", action=_CheckHelp)
    check.add_argument("target", nargs="?", help="paper (e.g. jacot2025), theorem id, or all")
    check.add_argument("--list", action="store_true", help="list every registered theorem")
    check.add_argument("options", nargs=argparse.REMAINDER, help="passed to the paper's script")
    check.set_defaults(run=run_check)
    sweep = commands.add_parser(
        "sweep",
        help="train and check a grid of settings, resumable",
        description="nc-jax sweep GRID.toml --out DIR: every cell of the grid (a paper's "
        "settings), trained bucket by bucket, one JSON line per finished cell in DIR; rerun the "
        "same command to resume (a finished sweep trains nothing and prints its tables again). "
        "A shipped grid's name prints the grid's answer table before the verdicts. "
        "Exit status: 0 no check violated, 1 a check is violated, "
        "2 bad usage or input (a bad grid is reported before anything trains), 3 an unexpected "
        "error.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sweep.add_argument(
        "grid",
        nargs="?",
        help="the grid file, or a shipped grid's name such as jacot2025/width (--list)",
    )
    sweep.add_argument("--list", action="store_true", help="list the shipped grids and exit")
    sweep.add_argument("--out", help="the results directory")
    add_profile_flags(sweep)
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a fixed value or a grid axis, the value as in TOML (repeat)",
    )
    sweep.add_argument("--extend", action="store_true", help="allow adding cells to --out")
    sweep.add_argument("--shard", default=None, metavar="I/N", help="run share I of N buckets")
    sweep.add_argument(
        "--executor", default="local", choices=("local", "ray"), help="where buckets run"
    )
    sweep.add_argument("--address", default=None, help="Ray cluster address HOST:PORT")
    sweep.add_argument(
        "--run-group", type=int, default=None, help="runs trained at a time (default: by memory)"
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_compilation_cache_flag(sweep)
    add_log_dir_flag(sweep)
    sweep.add_argument("--status", default=None, metavar="DIR", help="summarise a sweep directory")
    sweep.set_defaults(run=run_sweep)
    plot = commands.add_parser(
        "plot",
        help="bound-vs-measured plots of a results directory",
        description="nc-jax plot RESULTS_DIR: bound and measured against a grid axis, one panel "
        "per check (PNG and PDF in RESULTS_DIR/plots); with --y, the tightness atlas (slack over "
        "two axes). Axes are grid axes or run values (seed, learning_rate), or name[i] for an "
        "element of a list (widths[0]). Reads the directory only, never trains.",
        formatter_class=defaults,
    )
    _add_results_arguments(plot)
    plot.add_argument("--out", default=None, help="output directory (default RESULTS_DIR/plots)")
    plot.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID",
        help="draw only these checks: an id or a prefix such as a paper or result (repeat)",
    )
    plot.set_defaults(run=run_plot)
    report = commands.add_parser(
        "report",
        help="one self-contained HTML page of a results directory",
        description="nc-jax report RESULTS_DIR [-o report.html]: the setting, versions, the "
        "verdict table (kind, verdicts, failing hypotheses, informative, slack), the plots "
        "embedded, each check's statement and provenance, and the commands that regenerate it; "
        "no script and nothing from the network.",
        formatter_class=defaults,
    )
    _add_results_arguments(report)
    report.add_argument("-o", "--output", default=None, help="default RESULTS_DIR/report.html")
    report.set_defaults(run=run_report)
    export = commands.add_parser(
        "export",
        help="a results directory as TensorBoard event files",
        description="nc-jax export RESULTS_DIR --tensorboard OUT: one TensorBoard run per cell "
        "and run (seed) in OUT, with the logged trajectories, the final quantities and the "
        "checks' values as scalars and the setting as hparams (what --log-dir writes during a "
        "sweep or check); runs OUT already holds are kept. Reads RESULTS_DIR only.",
        formatter_class=defaults,
    )
    export.add_argument("results_dir", metavar="RESULTS_DIR", help="a sweep's or a check's results")
    export.add_argument(
        "--tensorboard", required=True, metavar="OUT", help="the TensorBoard log directory"
    )
    export.set_defaults(run=run_export)
    falsify = commands.add_parser(
        "falsify",
        help="search for counterexamples to consequence checks",
        description="nc-jax falsify CHECK_ID [CHECK_ID ...]: vmapped gradient ascent over the "
        "paper's instance families, from many random starts, for the largest measured/bound "
        "ratio with every hypothesis holding (above 1: a counterexample). CHECK_ID is an id or "
        "a prefix (jacot2025, jacot2025.thm3_1). Exit status: 0 none found, 1 a counterexample, "
        "2 bad usage, 3 an unexpected error.",
        formatter_class=defaults,
    )
    falsify.add_argument("check_ids", nargs="+", metavar="CHECK_ID", help="checks to attack")
    falsify.add_argument("--starts", type=int, default=64, help="random starts per family")
    falsify.add_argument("--steps", type=int, default=300, help="ascent steps per start")
    falsify.add_argument(
        "--check-every", type=int, default=50, help="steps between two exact checks of every start"
    )
    falsify.add_argument("--learning-rate", type=float, default=0.01, help="Adam step size")
    falsify.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    falsify.add_argument("--out", default=None, help="write every attempt as JSON here")
    falsify.set_defaults(run=run_falsify)
    bench = commands.add_parser(
        "bench",
        help="training benchmark: engine vs PyTorch loop vs torch.func",
        description="nc-jax bench [--regime small|wide|all] [--repeats N] [--skip-torch]: the "
        "training benchmark; nc-jax bench sweep [--set KEY=VALUE ...]: the sweep benchmark",
    )
    bench.add_argument("options", nargs=argparse.REMAINDER, help="passed to nc_jax.bench.train")
    bench.set_defaults(run=run_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not hasattr(args, "options"):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:  # options of a script behind check/bench that precede its positionals
        args.options = [*unknown, *args.options]
    return exits.guarded(f"nc-jax {args.command}", lambda: args.run(args))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nc-jax")
    except PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
