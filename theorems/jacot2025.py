"""Check Jacot, Sukenik, Wang, Mondelli (ICLR 2025) on networks the engine trains.

``python -m theorems.jacot2025`` (or ``nc-jax check jacot2025``) trains the standard setting on
the embedded digits data (class-balanced subset; an MLP with a wide first layer, L1 = 2 ReLU
layers and an L2 = 3 bias-free linear head; summed MSE + coupled weight decay, plain full-batch
GD; several seeds and two learning rates vmapped in one compiled program), measures every
quantity in float64, evaluates every registered check (theorems.jacot2025_bounds.THEOREMS),
prints one row per check and run plus a summary per check, writes ``checks.json``, the setting,
the trajectory, the parameters and ``checks.png`` to the results directory, and exits 1 when a
check is ``violated``. ``--recheck DIR`` re-evaluates a results directory without training.

Where the quantities come from: theorems.jacot2025_measure (Theorem 3.1 and Section 5 on the
final parameters; Section 4 by replaying ``replay_steps`` further engine steps from each trained
state in float64).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.data import DATASETS, Dataset, load_dataset
from nc_jax.io import (
    read_npz,
    read_tree_npz,
    write_json_atomic,
    write_npz_atomic,
    write_tree_npz_atomic,
)
from nc_jax.models import MLP
from nc_jax.train import RunState, TrainConfig, init_runs, make_data, run_mesh, train, use_cpu_cores
from theorems.base import CheckResult, Theorem, check, select
from theorems.jacot2025_bounds import THEOREMS
from theorems.jacot2025_measure import (
    gradient_balance_bound,
    network_quantities,
    ntk_top_eigenvalue,
    replay_balancedness,
)

PAPER = "jacot2025"


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: the standard check, under 3 minutes on 2 CPU cores).

    Attributes:
        dataset, data_dir, n_per_class: a class-balanced training subset (balanced classes are
            what Theorem 3.1's NC1 form assumes).
        widths: layer widths n_1..n_L (n_1 >= N: the wide first layer of Assumption 4.1).
        num_linear: L2, the depth of the bias-free linear head.
        steps, log_every: GD steps and logging period of the engine.
        learning_rates, weight_decay, seeds: the run grid (learning rate x seed), all runs in
            one compiled program; the larger learning rate feeds the Section 5.2 checks.
        replay_steps: engine steps replayed in float64 from the trained state (Section 4).
    """

    dataset: str = "digits"
    data_dir: str | None = None
    n_per_class: int = 20
    widths: tuple[int, ...] = (256, 64, 64, 64, 10)
    num_linear: int = 3
    steps: int = 5000
    log_every: int = 250
    learning_rates: tuple[float, ...] = (2.5e-4, 3e-4)
    weight_decay: float = 2.0
    seeds: tuple[int, ...] = (0, 1, 2)
    replay_steps: int = 500

    def __post_init__(self) -> None:
        if self.num_linear < 2 or len(self.widths) <= self.num_linear:
            raise ValueError(
                f"num_linear must be >= 2 (Theorem 3.1 needs a linear head of depth L2 >= 2) "
                f"and leave a non-linear layer in widths {self.widths}; got {self.num_linear}"
            )
        if not self.seeds or not self.learning_rates or min(self.learning_rates) <= 0:
            raise ValueError("seeds and learning_rates must be non-empty, learning rates > 0")
        if self.replay_steps < 1:
            raise ValueError(f"replay_steps must be >= 1, got {self.replay_steps}")

    def model(self) -> MLP:
        return MLP(tuple(self.widths), num_linear=self.num_linear)

    def config(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, log_every=self.log_every, reduction="sum")

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(learning rate, seed) of every run, learning rate major."""
        lrs, seeds = np.meshgrid(self.learning_rates, self.seeds, indexing="ij")
        return lrs.ravel(), seeds.ravel()


def _labels(setting: Setting) -> list[str]:
    return [f"seed={s} lr={lr:g}" for lr, s in zip(*setting.grid())]


def _load_data(setting: Setting):
    ds = load_dataset(setting.dataset, data_dir=setting.data_dir, n_per_class=setting.n_per_class)
    return ds, make_data(ds.x, ds.y, ds.num_classes)


def _run_state64(state: RunState, index: int) -> RunState:
    """Run ``index`` of a batched state with float leaves in float64 (call under x64)."""

    def take(leaf):
        value = np.asarray(leaf[index])
        return jnp.asarray(value, jnp.float64 if np.issubdtype(value.dtype, np.floating) else None)

    return jax.tree_util.tree_map(take, state)


def measure_run(
    setting: Setting, state: RunState, index: int, dataset: Dataset
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Every quantity of trained run ``index`` of ``state`` (float64): Theorem 3.1 on its final
    parameters, the Section 4 replay of ``replay_steps`` further engine steps from its final
    state, the Section 5 gradient balance and NTK. Returns (quantities, replay curves)."""
    model, config = setting.model(), setting.config()
    x, y, num_classes = dataset.x, dataset.y, dataset.num_classes
    with jax.enable_x64(True):
        run = _run_state64(state, index)
        data = make_data(x, y, num_classes, dtype=jnp.float64)
        quantities = network_quantities(model, run.params, data.x, data.y, num_classes)
        replay = replay_balancedness(model, config, run, data, setting.replay_steps)
        ntk, change = ntk_top_eigenvalue(model, run.params, data.x)
        lr = float(run.learning_rate)
        quantities.update(
            recursion_residual=replay["recursion_residual"],
            envelope_ratio=replay["envelope_ratio"],
            gd_coupled=float(config.optimizer == "gd" and config.weight_decay_mode == "l2"),
            weight_decay=setting.weight_decay,
            grad_balance_bound=gradient_balance_bound(
                model, config, run.params, data, setting.weight_decay
            ),
            ntk_lambda_max=ntk,
            ntk_relative_change=change,
            step_scale=lr * (1.0 if config.reduction == "sum" else 1.0 / data.x.shape[0]),
        )
        quantities["stability_product"] = quantities["step_scale"] * ntk
    return quantities, {"norms": replay["norms"], "envelope": replay["envelope"]}


def evaluate(
    theorems: Sequence[Theorem], quantities: Sequence[dict[str, float]], labels: Sequence[str]
) -> list[CheckResult]:
    """Every theorem on every run's quantities."""
    return [check(t, q, label) for t in theorems for q, label in zip(quantities, labels)]


def format_results(results: Sequence[CheckResult]) -> str:
    """One row per check and run, then one summary row per check."""
    w = max(len(r.theorem_id) for r in results) if results else 5
    lines = [
        f"{'check':<{w}} {'run':<20} {'verdict':<9} {'bound':>11} {'measured':>11} "
        f"{'slack':>9}  failing hypothesis"
    ]
    for r in results:
        failing = "; ".join(h.describe() for h in r.failing)
        lines.append(
            f"{r.theorem_id:<{w}} {r.label:<20} {r.verdict:<9} {r.bound:>11.4g} "
            f"{r.measured:>11.4g} {r.slack:>9.3g}  {failing}"
        )
    lines.append("")
    lines.append(f"{'summary':<{w}} {'holds':>6} {'violated':>9} {'vacuous':>8}  slack range")
    for theorem_id in dict.fromkeys(r.theorem_id for r in results):
        rows = [r for r in results if r.theorem_id == theorem_id]
        counts = {v: sum(r.verdict == v for r in rows) for v in ("holds", "violated", "vacuous")}
        slacks = [r.slack for r in rows if math.isfinite(r.slack)]
        span = f"{min(slacks):.3g} .. {max(slacks):.3g}" if slacks else "-"
        lines.append(
            f"{theorem_id:<{w}} {counts['holds']:>6} {counts['violated']:>9} "
            f"{counts['vacuous']:>8}  {span}"
        )
    return "\n".join(lines)


def plot_results(
    results: Sequence[CheckResult],
    replay: dict[str, np.ndarray],
    trajectory: dict[str, np.ndarray],
    path: Path,
) -> None:
    """checks.png: (1) measured/bound per check and run (below 1 holds for '<=', above 1 for
    '>='), (2) the float64 replay of ||D(t)||_op against its Section 4 envelope, (3) NC1 of
    Z_{L-1} and the head balancedness along training (engine logs, mean and range over runs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(dict.fromkeys(r.theorem_id for r in results))
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    colors = {"holds": "tab:green", "violated": "tab:red"}
    for r in results:
        if r.verdict != "vacuous" and r.slack > 0:
            marker = "<" if r.relation == "<=" else ">"
            axes[0].scatter(r.slack, ids.index(r.theorem_id), c=colors[r.verdict], marker=marker)
    vacuous = {i: sum(r.verdict == "vacuous" for r in results if r.theorem_id == i) for i in ids}
    names = [
        i.removeprefix(PAPER + ".") + (f" ({vacuous[i]} vacuous)" if vacuous[i] else "")
        for i in ids
    ]
    axes[0].axvline(1.0, color="black", lw=0.8)
    axes[0].set_xscale("log")
    axes[0].set_yticks(range(len(ids)), names, fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("measured / bound   (<: bound is an upper bound, >: a lower bound)")
    axes[0].set_title("bound vs measured, every run (green holds, red violated)")
    steps = np.arange(replay["norms"].shape[0])
    for pair in range(replay["norms"].shape[1]):
        axes[1].semilogy(steps, replay["norms"][:, pair], label=f"||D|| head pair {pair + 1}")
        axes[1].semilogy(steps, replay["envelope"][:, pair], "--", label=f"envelope {pair + 1}")
    axes[1].set_xlabel("GD step (float64 replay of the engine, first run)")
    axes[1].set_title("Section 4: balancedness vs envelope")
    axes[1].legend(fontsize=7)
    logged = trajectory["step"][0]
    for key, label in (("layer/nc1_trace_ratio", "NC1(Z_{L-1})"), ("layer/balancedness", "eps2")):
        values = trajectory[key][:, :, -2]  # Z_{L-1}, and the pair (W_{L-1}, W_L)
        axes[2].semilogy(logged, np.nanmean(values, axis=0), label=label)
        axes[2].fill_between(
            logged, np.nanmin(values, axis=0), np.nanmax(values, axis=0), alpha=0.25
        )
    axes[2].set_xlabel("GD step (engine, all runs)")
    axes[2].set_title("training: NC1 and balancedness")
    axes[2].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(setting: Setting, results_dir: Path, theorems: Sequence[Theorem], retrain: bool = True):
    """Train (or reload from ``results_dir``), measure, check, write; returns the results."""
    results_dir = Path(results_dir)
    ds, data = _load_data(setting)
    model, config = setting.model(), setting.config()
    lrs, seeds = setting.grid()
    initial = init_runs(model, config, data.x.shape[1], lrs, setting.weight_decay, seeds)
    if retrain:
        result = train(model, config, data, initial, mesh=run_mesh(len(lrs)), progress=True)
        final, trajectory = result.state, result.trajectory
        write_json_atomic(results_dir / "setting.json", dataclasses.asdict(setting))
        write_tree_npz_atomic(results_dir / "final_state.npz", final)
        write_npz_atomic(results_dir / "trajectory.npz", trajectory)
    else:
        final = read_tree_npz(results_dir / "final_state.npz", initial)
        trajectory = read_npz(results_dir / "trajectory.npz")
    labels = _labels(setting)
    kept, quantities, replays = [], [], []
    for index, diverged in enumerate(np.asarray(final.diverged)):
        if diverged:
            print(f"{labels[index]}: diverged during training; not checked", file=sys.stderr)
            continue
        q, replay = measure_run(setting, final, index, ds)
        kept.append(labels[index])
        quantities.append(q)
        replays.append(replay)
    results = evaluate(theorems, quantities, kept)
    write_json_atomic(
        results_dir / "checks.json",
        {
            "paper": PAPER,
            "setting": dataclasses.asdict(setting),
            "runs": kept,
            "quantities": dict(zip(kept, quantities)),
            "checks": [r.to_json() for r in results],
            "theorems": {
                t.id: {
                    "reference": t.reference,
                    "statement": t.statement,
                    "provenance": t.provenance,
                    "confidence": t.confidence,
                }
                for t in theorems
            },
        },
    )
    if replays:
        plot_results(results, replays[0], trajectory, results_dir / "checks.png")
    return results


def _parse_ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _parse_floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def build_parser(prog: str = "python -m theorems.jacot2025") -> argparse.ArgumentParser:
    default = Setting()
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="check id (or prefix)")
    parser.add_argument("--results", default="results/jacot2025", help="results directory")
    parser.add_argument("--recheck", action="store_true", help="re-check --results, no training")
    parser.add_argument("--dataset", default=default.dataset, choices=DATASETS)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--n-per-class", type=int, default=default.n_per_class)
    parser.add_argument(
        "--widths", type=_parse_ints, default=default.widths, help="e.g. 512,64,64,64,10"
    )
    parser.add_argument("--num-linear", type=int, default=default.num_linear)
    parser.add_argument("--steps", type=int, default=default.steps)
    parser.add_argument("--log-every", type=int, default=default.log_every)
    parser.add_argument(
        "--learning-rates", type=_parse_floats, default=default.learning_rates, help="e.g. 2e-4"
    )
    parser.add_argument("--weight-decay", type=float, default=default.weight_decay)
    parser.add_argument("--seeds", type=_parse_ints, default=default.seeds)
    parser.add_argument("--replay-steps", type=int, default=default.replay_steps)
    return parser


def setting_from_args(args: argparse.Namespace) -> Setting:
    return Setting(
        dataset=args.dataset,
        data_dir=args.data_dir,
        n_per_class=args.n_per_class,
        widths=tuple(args.widths),
        num_linear=args.num_linear,
        steps=args.steps,
        log_every=args.log_every,
        learning_rates=tuple(args.learning_rates),
        weight_decay=args.weight_decay,
        seeds=tuple(args.seeds),
        replay_steps=args.replay_steps,
    )


def main(argv: Sequence[str] | None = None, prog: str = "python -m theorems.jacot2025") -> int:
    """Run the checks; exit status 0, 1 when a check is violated, 2 on bad arguments."""
    args = build_parser(prog).parse_args(argv)
    use_cpu_cores()  # one JAX device per core: the runs train in parallel (engine docstring)
    results_dir = Path(args.results)
    try:
        if args.recheck:
            saved = json.loads((results_dir / "setting.json").read_text())
            setting = Setting(
                **{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
            )
        else:
            setting = setting_from_args(args)
        theorems = select({t.id: t for t in THEOREMS}, args.only or [PAPER])
        started = time.perf_counter()
        results = run(setting, results_dir, theorems, retrain=not args.recheck)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_results(results))
    print(
        f"\n{len(results)} checks in {time.perf_counter() - started:.1f}s; "
        f"wrote {results_dir / 'checks.json'} and {results_dir / 'checks.png'}"
    )
    return 1 if any(r.verdict == "violated" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
