"""Sweep benchmark (``nc-jax bench sweep``): a width sweep of many networks, timed against
training the same networks with the engine directly, side by side in one run.

The sweep is the width grid's quick table (nc_jax/grids/jacot2025_width.toml: 4 first-layer
widths x 64 seeds = 256 networks) with ``--set`` overrides (by default 2000 steps, so that
training, not compilation, dominates). It prints:

- the engine alone on the same networks (same model, configuration, seeds, devices), its
  compilation paid from nothing (JAX's persistent compilation cache off);
- the sweep twice on one fresh persistent cache: cold (empty) and warm (what a rerun or an
  extension of the sweep finds); for each, networks per minute, the wall time split into
  training (inside the engine, timed by TrainContext's ``on_trained``) and measuring, checking
  (the paper's float64 measurements) and the rest (planning, writing), the fraction of the wall
  time spent compiling (JAX's own compile-duration events, cache reads included), and the
  ratio sweep / engine, with and without the measuring;
- per width: seconds per network (cold, warm, engine) and training GFLOP per network (the
  paper's ``cost()``).

Targets: compilation <= 20% of the wall time cold and <= 5% warm, sweep / engine <= 1.2x,
networks per minute >= twice the 219 measured before the batched measurement.
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
    enable_compilation_cache,
    init_runs,
    make_data,
    run_mesh,
    train,
    use_cpu_cores,
)

GRID = sweep.grid_path("jacot2025/width")
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


def timed_sweep(plan: sweep.Plan) -> dict[str, Any]:
    """One run of the sweep from empty in-memory caches (the persistent cache as it is set):
    {"wall", "training", "compiling" (seconds), "cells" ({cell id: wall seconds})}."""
    forget_compiled_programs()
    train_clock = TrainClock()
    with tempfile.TemporaryDirectory() as out, CompileClock() as compile_clock:
        started = time.perf_counter()
        run_sweep(plan, Path(out), train_clock)
        wall = time.perf_counter() - started
        cells = {r["cell"]: r["wall_time_s"] for r in results.read_cells(out)}
    return {
        "wall": wall,
        "training": train_clock.seconds,
        "compiling": compile_clock.seconds,
        "cells": cells,
    }


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
    """Run the engine and the sweep side by side, each paying its own compilation: the engine
    with JAX's persistent compilation cache off, then the sweep twice on one fresh cache
    directory, cold (empty) and warm (filled by the cold run; the in-memory caches emptied).

    Returns {"overrides", "devices" (kind x count), "networks", "buckets", "cells", "engine"
    (seconds of the engine alone), "cold" and "warm" (each {"wall", "training", "compiling"}
    seconds of the sweep), "widths": [{"width" (n1), "networks", "cold", "warm", "engine"
    (seconds per network), "gflop" (training GFLOP per network)}, one per bucket]}.
    """
    grid = sweep.read_grid_file(GRID, profile="quick", overrides=overrides)
    plan = sweep.plan(sweep.get_paper(grid.paper), grid)
    with tempfile.TemporaryDirectory() as cache:
        enable_compilation_cache(False)
        direct = engine_directly(plan)
        enable_compilation_cache(directory=Path(cache))
        runs = {"cold": timed_sweep(plan), "warm": timed_sweep(plan)}
        enable_compilation_cache(False)
    widths = []
    for bucket in plan.buckets:
        row = {"width": bucket.cells[0].setting.widths[0], "networks": bucket.num_runs}
        for name, timed in runs.items():
            seconds = sum(timed["cells"].get(c.id, np.nan) for c in bucket.cells)
            row[name] = seconds / bucket.num_runs
        row["engine"] = direct[bucket.index] / bucket.num_runs
        row["gflop"] = setting_cost(bucket.cells[0].setting) / 1e9
        widths.append(row)
    return {
        "overrides": overrides,
        "devices": f"{jax.devices()[0].device_kind} x {len(jax.devices())}",
        "networks": sum(c.num_runs for c in plan.cells),
        "buckets": len(plan.buckets),
        "cells": len(plan.cells),
        "engine": sum(direct.values()),
        **{name: {k: v for k, v in timed.items() if k != "cells"} for name, timed in runs.items()},
        "widths": widths,
    }


TARGETS = {"cold": 0.20, "warm": 0.05}  # the most compilation may take of the sweep's wall time
BASELINE_NETWORKS_PER_MINUTE = 219  # the quick width sweep before issue 24 (2 CPU cores)


def format_report(report: dict[str, Any]) -> str:
    """The printed report of ``run_benchmark``'s numbers."""
    networks, engine = report["networks"], report["engine"]
    lines = [
        f"sweep: {networks} networks, {report['buckets']} widths, {report['cells']} cells "
        f"(--set {' '.join(report['overrides'])}), devices {report['devices']}",
        f"engine directly on the same networks (compilation cache off): {engine:.1f} s",
    ]
    for name in ("cold", "warm"):
        timed = report[name]
        wall, training, compiled = timed["wall"], timed["training"], timed["compiling"]
        lines += [
            f"sweep, {name} compilation cache: wall {wall:.1f} s = "
            f"{networks / wall * 60:.0f} networks/min (target >= "
            f"{2 * BASELINE_NETWORKS_PER_MINUTE}); training {training:.1f} s, measuring, "
            f"checking and writing {wall - training:.1f} s",
            f"  compiling {compiled:.1f} s = {compiled / wall:.0%} of the wall time "
            f"(target <= {TARGETS[name]:.0%})",
            f"  sweep / engine = {wall / engine:.2f}x overall, {training / engine:.2f}x for the "
            "training alone (target <= 1.2x)",
        ]
    lines += [
        "",
        f"{'width n1':>9} {'networks':>9} {'s/network cold':>15} {'s/network warm':>15} "
        f"{'s/network engine':>17} {'GFLOP/network':>14}",
    ]
    for row in report["widths"]:
        lines.append(
            f"{row['width']:>9} {row['networks']:>9} {row['cold']:>15.3f} {row['warm']:>15.3f} "
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
