"""A made-up paper that trains nothing (NumPy only), so the runner and the sweep can be tested in
milliseconds: its one check holds on every run, a planted ``violate`` setting breaks it, and a
seed listed in ``diverge`` is reported as a run that diverged at step 7. Its instance family
(any 20 numbers) is where ``nc-jax falsify`` must find a counterexample to it."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks import (
    CellOutcome,
    Evaluation,
    Family,
    Hypothesis,
    Paper,
    RunRecord,
    SettingError,
    Theorem,
)


@dataclass(frozen=True)
class Setting:
    """A toy setting.

    Attributes:
        scale: the scale of the samples (> 0).
        size: samples per run.
        seeds: one run per seed.
        violate: plant a violation of the bound.
        diverge: seeds whose run is reported as diverged.
    """

    scale: float = 1.0
    size: int = 50
    seeds: tuple[int, ...] = (0, 1)
    violate: bool = False
    diverge: tuple[int, ...] = ()

    RUN_FIELDS = ("seeds", "scale")

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise SettingError("scale", f"must be > 0, got {self.scale}")
        if self.size < 2:
            raise SettingError("size", f"must be >= 2, got {self.size}")


CALLS: list[tuple[int, int, int]] = []  # (cells, process index, process count) per run call


def run(settings, context):
    """One outcome per setting; only the runs of this process's share are measured."""
    CALLS.append((len(settings), context.process_index, context.process_count))
    outcomes = []
    for setting in settings:
        runs = []
        for index in context.share(len(setting.seeds)):
            seed = setting.seeds[index]
            x = np.random.default_rng(seed).normal(size=setting.size) * setting.scale
            q = {
                "mean_abs": float(np.abs(x).mean()),
                "std": float(x.std()),
                "max_abs": float(np.abs(x).max()),
            }
            if setting.violate:
                q["mean_abs"] = 3 * q["std"]
            diverged = 7 if seed in setting.diverge else None
            params = {"seed": seed}
            runs.append(
                RunRecord(int(index), f"seed={seed}", params, None if diverged else q, diverged)
            )
        curve = np.stack([np.linspace(1, 2, 5) * (r.index + 1) for r in runs])
        steps = np.tile(np.arange(0, 50, 10, dtype=np.int32), (len(runs), 1))  # logged steps
        outcomes.append(CellOutcome(runs, {"curve/toy": curve, "step": steps}))
    return outcomes


def finish_cell(setting, outcome):
    """The cell's measured run count and mean E|x| over its runs, added to each run: a
    cross-run value that a multi-host job must compute over the merged cell."""
    measured = [r.quantities for r in outcome.runs if r.quantities is not None]
    cell = {
        "cell_runs": float(len(measured)),
        "cell_mean_abs": float(np.mean([q["mean_abs"] for q in measured])) if measured else 0.0,
    }
    for quantities in measured:
        quantities.update(cell)
    return outcome


BOUND = Theorem(
    id="toy.mean_abs",
    reference="made up",
    statement="E|x| <= 2 std",
    provenance="derived",
    confidence="exact for these samples",
    quantities=("mean_abs", "std", "max_abs"),
    relation="<=",
    evaluate=lambda q: Evaluation(
        (Hypothesis("std > 0", q["std"], 0, ">"),),
        2 * q["std"],
        q["mean_abs"],
        trivial=q["max_abs"],
    ),
    kind="consequence",
    trivial="E|x| <= max |x| (no theorem needed)",
)


def _sample_quantities(x):
    return {"mean_abs": jnp.mean(jnp.abs(x)), "std": jnp.std(x), "max_abs": jnp.max(jnp.abs(x))}


# Any 20 numbers: the toy bound (true for centred Gaussian samples) is not a theorem about them,
# so nc-jax falsify must find a counterexample (e.g. numbers far from 0 with a small spread).
FREE_SAMPLES = Family(
    name="any 20 numbers",
    sample=lambda key: jax.random.normal(key, (20,)),
    quantities=_sample_quantities,
    static={},
)
PAPER = Paper(
    "toy", "A toy paper", Setting, (BOUND,), run, families=(FREE_SAMPLES,), finish_cell=finish_cell
)
