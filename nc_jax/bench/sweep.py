"""Sweep benchmark (``nc-jax bench sweep``): a width sweep of many networks, timed against
training the same networks with the engine directly, side by side in one run.

The sweep is the width grid's quick table (experiments/grids/jacot2025_width.toml: 4 first-layer
widths x 64 seeds = 256 networks) with ``--set`` overrides (by default 2000 steps, so that
training, not compilation, dominates). It prints:

- networks per minute of the sweep, and its wall time split into training (inside the engine,
  timed by TrainContext's ``on_trained``), and measuring, checking (the paper's float64
  measurements) and the rest (planning, writing);
- the fraction of the wall time spent compiling (JAX's own compile-duration events);
- the engine alone on the same networks (same model, configuration, seeds, devices), and the
  ratio sweep / engine, with and without the measuring;
- per width: seconds per network and training GFLOP per network (the paper's ``cost()``).

Targets: compilation under 10% of the wall time, throughput within 1.2x of the engine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from nc_jax import results, sweep
from nc_jax.checks.bucket import cell_values, plan_bucket, run_values
from nc_jax.checks.contract import setting_cost
from nc_jax.train import (
    clear_compiled_programs,
    init_runs,
    make_data,
    run_mesh,
    train,
    use_cpu_cores,
)

GRID = Path(__file__).resolve().parents[2] / "experiments" / "grids" / "jacot2025_width.toml"
DEFAULT_SET = ("steps=2000", "log_every=500")


class CompileClock:
    """Sums JAX's compile-duration events (tracing, lowering, backend compilation) while it is
    entered as a context manager."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def _event(self, name: str, duration: float, **_: object) -> None:
        if name.startswith("/jax/core/compile/"):
            self.seconds += duration

    def __enter__(self) -> CompileClock:
        jax.monitoring.register_event_duration_secs_listener(self._event)
        return self

    def __exit__(self, *_: object) -> None:
        jax.monitoring.unregister_event_duration_listener(self._event)


class TrainClock:
    """Sums the wall seconds of every training of the sweep: a TrainContext's ``on_trained``."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, seconds: float) -> None:
        self.seconds += seconds


def forget_compiled_programs() -> None:
    """Empty JAX's and the engine's caches of compiled programs, so that each side of the
    comparison pays its own compilation."""
    clear_compiled_programs()
    jax.clear_caches()


def run_sweep(plan: sweep.Plan, directory: Path, on_trained: TrainClock) -> None:
    """The sweep's local executor without progress bars, each training reported to
    ``on_trained``."""
    sweep.prepare_directory(directory, plan.grid, extend=False)
    executor = sweep.LocalExecutor(list(jax.local_devices()), progress=False, on_trained=on_trained)
    executor.run(plan, plan.buckets, directory, lambda _: None)


def engine_directly(plan: sweep.Plan) -> dict[int, float]:
    """Train every bucket's networks with the engine alone; seconds per bucket (compile
    included, as in the sweep)."""
    from nc_jax.data import load_dataset

    forget_compiled_programs()
    seconds = {}
    for bucket in plan.buckets:
        settings = [cell.setting for cell in bucket.cells]
        first = settings[0]
        ds = load_dataset(first.dataset, data_dir=first.data_dir, n_per_class=first.n_per_class)
        data = make_data(ds.x, ds.y, ds.num_classes)
        model, config = first.model(), first.config()
        runs = plan_bucket(settings)
        (lrs, seeds), wds = (
            run_values(runs, "learning_rate", "seed"),
            cell_values(settings, runs, "weight_decay"),
        )
        started = time.perf_counter()
        state = init_runs(model, config, data.x.shape[1], lrs, wds, seeds)
        result = train(model, config, data, state, mesh=run_mesh(len(lrs)))
        jax.block_until_ready(result.state.params)
        seconds[bucket.index] = time.perf_counter() - started
    return seconds


def run_benchmark(overrides: tuple[str, ...]) -> dict[str, Any]:
    """Run the sweep and the engine side by side.

    Returns {"overrides", "devices" (kind x count), "networks", "buckets", "cells", "wall",
    "training", "compiling" (seconds of the sweep), "engine" (seconds of the engine alone),
    "widths": [{"width" (n1), "networks", "sweep", "engine" (seconds per network), "gflop"
    (training GFLOP per network)}, one per bucket]}.
    """
    grid = sweep.read_grid_file(GRID, profile="quick", overrides=overrides)
    plan = sweep.plan(sweep.get_paper(grid.paper), grid)
    forget_compiled_programs()
    train_clock = TrainClock()
    with tempfile.TemporaryDirectory() as out, CompileClock() as compile_clock:
        started = time.perf_counter()
        run_sweep(plan, Path(out), train_clock)
        wall = time.perf_counter() - started
        per_cell = {r["cell"]: r["wall_time_s"] for r in results.read_cells(out)}
    direct = engine_directly(plan)
    widths = []
    for bucket in plan.buckets:
        cell_time = sum(per_cell.get(c.id, np.nan) for c in bucket.cells)
        widths.append(
            {
                "width": bucket.cells[0].setting.widths[0],
                "networks": bucket.num_runs,
                "sweep": cell_time / bucket.num_runs,
                "engine": direct[bucket.index] / bucket.num_runs,
                "gflop": setting_cost(bucket.cells[0].setting) / 1e9,
            }
        )
    return {
        "overrides": overrides,
        "devices": f"{jax.devices()[0].device_kind} x {len(jax.devices())}",
        "networks": sum(c.num_runs for c in plan.cells),
        "buckets": len(plan.buckets),
        "cells": len(plan.cells),
        "wall": wall,
        "training": train_clock.seconds,
        "compiling": compile_clock.seconds,
        "engine": sum(direct.values()),
        "widths": widths,
    }


def format_report(report: dict[str, Any]) -> str:
    """The printed report of ``run_benchmark``'s numbers."""
    wall, training, engine = report["wall"], report["training"], report["engine"]
    networks, compiled = report["networks"], report["compiling"]
    lines = [
        f"sweep: {networks} networks, {report['buckets']} widths, {report['cells']} cells "
        f"(--set {' '.join(report['overrides'])}), devices {report['devices']}",
        f"  wall {wall:.1f} s = {networks / wall * 60:.0f} networks/min; training "
        f"{training:.1f} s, measuring, checking and writing {wall - training:.1f} s",
        f"  compiling {compiled:.1f} s = {compiled / wall:.0%} of the wall time (target < 10%)",
        f"engine directly on the same networks: {engine:.1f} s",
        f"  sweep / engine = {wall / engine:.2f}x overall, {training / engine:.2f}x for the "
        "training alone (target <= 1.2x)",
        "",
        f"{'width n1':>9} {'networks':>9} {'s/network sweep':>16} {'s/network engine':>17} "
        f"{'GFLOP/network':>14}",
    ]
    for row in report["widths"]:
        lines.append(
            f"{row['width']:>9} {row['networks']:>9} {row['sweep']:>16.3f} "
            f"{row['engine']:>17.3f} {row['gflop']:>14.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nc-jax bench sweep",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--set",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help=f"overrides of the quick width grid (default: {' '.join(DEFAULT_SET)})",
    )
    args = parser.parse_args(argv)
    use_cpu_cores()
    print(format_report(run_benchmark(tuple(args.set or DEFAULT_SET))))
    return 0
