"""Sweep benchmark (``nc-jax bench sweep``): a width sweep of many networks, timed against
training the same networks with the engine directly, side by side in one run.

The sweep is the width grid's quick table (experiments/grids/jacot2025_width.toml: 4 first-layer
widths x 64 seeds = 256 networks) with ``--set`` overrides (by default 2000 steps, so that
training, not compilation, dominates). It prints:

- networks per minute of the sweep, and its wall time split into training (inside the engine),
  measuring and checking (the paper's float64 measurements) and the rest (planning, writing);
- the fraction of the wall time spent compiling (JAX's own compile-duration events);
- the engine alone on the same networks (same model, configuration, seeds, devices), and the
  ratio sweep / engine, with and without the measuring;
- per width: seconds per network and training GFLOP per network (the paper's ``cost()``).

Targets (issue 9): compilation under 10% of the wall time, throughput within 1.2x of the engine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from nc_jax import results, sweep
from nc_jax.checks import context as context_module
from nc_jax.checks.context import stacked_runs
from nc_jax.checks.contract import setting_cost
from nc_jax.train import (
    clear_compiled_programs,
    init_runs,
    make_data,
    run_mesh,
    train,
    use_cpu_cores,
)

GRID = Path(__file__).resolve().parent.parent / "experiments" / "grids" / "jacot2025_width.toml"
DEFAULT_SET = ("steps=2000", "log_every=500")


class CompileClock:
    """Sums JAX's compile-duration events (tracing, lowering, backend compilation)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._event)

    def _event(self, name: str, duration: float, **_: object) -> None:
        if name.startswith("/jax/core/compile/"):
            self.seconds += duration


class TrainClock:
    """Times every ``TrainContext.train`` call of the sweep (the engine's share of its time)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.original = context_module.TrainContext.train

    def __enter__(self) -> TrainClock:
        clock = self

        def timed(context, *args, **kwargs):
            started = time.perf_counter()
            try:
                return clock.original(context, *args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - started

        context_module.TrainContext.train = timed
        return self

    def __exit__(self, *_: object) -> None:
        context_module.TrainContext.train = self.original


def forget_compiled_programs() -> None:
    """Empty JAX's and the engine's caches of compiled programs, so that each side of the
    comparison pays its own compilation."""
    clear_compiled_programs()
    jax.clear_caches()


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
        lrs, seeds, wds, _ = stacked_runs(settings)
        started = time.perf_counter()
        state = init_runs(model, config, data.x.shape[1], lrs, wds, seeds)
        result = train(model, config, data, state, mesh=run_mesh(len(lrs)))
        jax.block_until_ready(result.state.params)
        seconds[bucket.index] = time.perf_counter() - started
    return seconds


def run_benchmark(overrides: tuple[str, ...]) -> str:
    """Run the sweep and the engine side by side; the report as text."""
    grid = sweep.read_grid_file(GRID, profile="quick", overrides=overrides)
    plan = sweep.plan(sweep.get_paper(grid.paper), grid)
    networks = sum(c.num_runs for c in plan.cells)
    compile_clock = CompileClock()
    forget_compiled_programs()
    with tempfile.TemporaryDirectory() as out, TrainClock() as train_clock:
        started = time.perf_counter()
        sweep.sweep(grid, out, progress=False, echo=lambda _: None)
        wall = time.perf_counter() - started
        compiled = compile_clock.seconds
        per_cell = {r["cell"]: r["wall_time_s"] for r in results.read_cells(out)}
    direct = engine_directly(plan)
    engine = sum(direct.values())
    training = train_clock.seconds
    rest = wall - training
    lines = [
        f"sweep: {networks} networks, {len(plan.buckets)} widths, {len(plan.cells)} cells "
        f"(--set {' '.join(overrides)}), devices {jax.devices()[0].device_kind} x "
        f"{len(jax.devices())}",
        f"  wall {wall:.1f} s = {networks / wall * 60:.0f} networks/min; training "
        f"{training:.1f} s, measuring, checking and writing {rest:.1f} s",
        f"  compiling {compiled:.1f} s = {compiled / wall:.0%} of the wall time (target < 10%)",
        f"engine directly on the same networks: {engine:.1f} s",
        f"  sweep / engine = {wall / engine:.2f}x overall, {training / engine:.2f}x for the "
        "training alone (target <= 1.2x)",
        "",
        f"{'width n1':>9} {'networks':>9} {'s/network sweep':>16} {'s/network engine':>17} "
        f"{'GFLOP/network':>14}",
    ]
    for bucket in plan.buckets:
        n1 = bucket.cells[0].setting.widths[0]
        cell_time = sum(per_cell.get(c.id, np.nan) for c in bucket.cells)
        flops = setting_cost(bucket.cells[0].setting) / 1e9
        lines.append(
            f"{n1:>9} {bucket.num_runs:>9} {cell_time / bucket.num_runs:>16.3f} "
            f"{direct[bucket.index] / bucket.num_runs:>17.3f} {flops:>14.2f}"
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
    print(run_benchmark(tuple(args.set or DEFAULT_SET)))
    return 0
