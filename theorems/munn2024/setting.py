"""The setting of Munn, Dherin, Gonzalvo (NeurIPS 2024) and the function that trains and
measures its runs (the paper's part of the nc_jax.checks contract).

A tanh MLP (smooth, so its input Jacobian is) whose last tanh layer is the embedding f, with a
linear head over the S source classes, trained by SGD on the mean cross entropy with coupled
weight decay and, with ``gc_penalty`` alpha > 0, alpha GC(f, batch)
(nc_jax.models.complexity_penalty.GCPenalty). The data: a Gaussian mixture of K classes
N(m_c, sigma^2 I) (nc_jax.data.gaussian, unstandardised, so the Poincare constant is sigma^2),
trained on the first S classes, with fresh samples of every class for the measurements; or
embedded MNIST (mnist5k, pixels in [0, 1]), trained on digits 0-4 (held-out images of them for
the tests) and transferred to digits 5-9. Every quantity is measured in float64 (measure.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks import CellOutcome, SettingError, check_dataset, check_steps
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    diverged_steps,
    measured_outcomes,
    run_bucket,
    run_values,
)
from nc_jax.checks.fields import at_least, checked, each, inside, one_of, positive, validate_fields
from nc_jax.data import gaussian, load_dataset
from nc_jax.models import MLP
from nc_jax.models.complexity_log import GCLog
from nc_jax.models.complexity_penalty import GCPenalty
from nc_jax.train import TrainConfig, init_runs, make_data, run_params
from theorems.munn2024.measure import Options, Parts, Split, cross_run, make_measure

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext

DATASETS = ("gaussian", "mnist5k")
MNIST_PER_CLASS = 500  # mnist5k: 500 images of each digit
Z = 4.0  # Monte-Carlo margins: z standard errors (docs/theory/munn2024.md, "Tolerances")


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: near the notes' small instance, docs/theory/munn2024.md
    says where it differs; a few minutes on 2 CPU cores).

    Attributes:
        dataset: "gaussian" (a mixture of isotropic Gaussian classes) or "mnist5k" (embedded
            MNIST: source digits 0-4, target digits 5-9).
        num_classes: K, source and target classes together (mnist5k: 10).
        source_classes: S, the first S classes train the network (mnist5k: 5); the other K - S
            are the held-out target classes (at least 2).
        dim: D, the input dimension of the Gaussian classes (gaussian only).
        separation: the norm of the Gaussian class centres (nc_jax.data.gaussian).
        noise: sigma, the class covariance is sigma^2 I, so the Poincare constant is sigma^2.
        n_per_class: training samples per source class.
        eval_per_class: measurement samples per class: fresh draws (gaussian) or held-out
            source images (mnist5k, with n_per_class + eval_per_class <= 500).
        widths: the tanh layers; the last is the embedding f, read by a linear head.
        batch_size: the SGD minibatch size.
        gc_penalty: alpha >= 0, the coefficient of alpha GC(f, batch) in the objective.
        learning_rates: the SGD learning rates (per-run values).
        weight_decays: the coupled weight decays lambda >= 0 (per-run values).
        seeds: initialisation and data-order seeds (per-run values).
        steps: SGD steps (a multiple of log_every).
        log_every: steps between two logs of the loss (and of GC and CDNV per layer).
        log_gc_samples: M, training points the GC of every layer, overall and per class, is
            logged on at every log, with the engine's CDNV of every layer (0: only the loss).
        estimator_draws: draws of each GC estimator (E6-c).
        estimator_batch: the estimators' batch size.
        mask_keep: q, the probability that the masked estimator keeps a Jacobian entry.
        shots: support samples per class of a few-shot episode (E6-f).
        episodes: few-shot episodes, batched.
    """

    dataset: str = checked("gaussian", one_of(DATASETS))
    num_classes: int = 12
    source_classes: int = 8
    dim: int = checked(10, at_least(1))
    separation: float = checked(3.0, positive())
    noise: float = checked(0.7, positive())
    n_per_class: int = checked(500, at_least(2))
    eval_per_class: int = 256
    widths: tuple[int, ...] = checked((64, 64, 16), each(at_least(1)))
    batch_size: int = checked(64, at_least(1))
    gc_penalty: float = checked(0.0, at_least(0.0))
    learning_rates: tuple[float, ...] = checked((0.01, 0.05, 0.2), each(positive()))
    weight_decays: tuple[float, ...] = checked((0.0, 1e-3), each(at_least(0.0)))
    seeds: tuple[int, ...] = checked((0, 1, 2), each(at_least(0)))
    steps: int = 3000
    log_every: int = 500
    log_gc_samples: int = checked(128, at_least(0))
    estimator_draws: int = checked(200, at_least(2))
    estimator_batch: int = checked(32, at_least(1))
    mask_keep: float = checked(0.3, inside(0, 1, closed=(False, True)))
    shots: int = checked(5, at_least(1))
    episodes: int = checked(200, at_least(1))

    RUN_FIELDS = ("learning_rates", "weight_decays", "seeds")

    def __post_init__(self) -> None:
        validate_fields(self)
        check_dataset(self.dataset, None)
        mnist = self.dataset == "mnist5k"
        if mnist and (self.num_classes, self.source_classes) != (10, 5):
            raise SettingError("source_classes", "mnist5k has K = 10 digits, S = 5 (0-4)")
        if not 2 <= self.source_classes <= self.num_classes - 2:
            raise SettingError("source_classes", "needs 2 <= S <= K - 2 (two target classes)")
        if mnist and self.n_per_class > MNIST_PER_CLASS - 2:
            raise SettingError("n_per_class", f"must be <= {MNIST_PER_CLASS - 2} for mnist5k")
        limit = MNIST_PER_CLASS - self.n_per_class if mnist else math.inf
        if not self.shots < self.eval_per_class <= limit:
            raise SettingError("eval_per_class", f"must lie in (shots, {limit}]")
        for name in ("batch_size", "estimator_batch"):
            if getattr(self, name) > self.num_train:
                raise SettingError(name, f"must lie in [1, {self.num_train}]")
        check_steps(self.steps, self.log_every)

    @property
    def num_train(self) -> int:
        return self.source_classes * self.n_per_class

    def model(self) -> GCPenalty:
        body = MLP((*self.widths, self.source_classes), 1, "tanh", bias=True, head_bias=True)
        if self.log_gc_samples:
            body = GCLog(body, self.log_gc_samples, self.source_classes)
        return GCPenalty(body, self.gc_penalty, self.num_train)

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            loss="cross_entropy",
            reduction="mean",
            batch_size=self.batch_size,
            metrics=self.log_gc_samples > 0,
            metric_names=("nc1_cdnv",),
        )

    def options(self) -> Options:
        constant = self.noise**2 if self.dataset == "gaussian" else None
        return Options(
            constant, Z, self.estimator_draws, self.estimator_batch, self.mask_keep,
            self.shots, self.episodes,
        )  # fmt: skip

    def runs(self) -> list[RunSpec]:
        """One run per (learning rate, weight decay, seed), learning rate major."""
        grid = itertools.product(self.learning_rates, self.weight_decays, self.seeds)
        return [
            RunSpec(
                f"lr={lr:g} wd={wd:g} seed={seed}",
                {"learning_rate": float(lr), "weight_decay": float(wd), "seed": int(seed)},
            )
            for lr, wd, seed in grid
        ]

    def cost(self) -> float:
        """Training FLOPs of one run: 6 x multiply-adds x batch x steps, times 1 + min(D, p)
        with the GC penalty (min(D, p) Jacobian products per sample, differentiated)."""
        macs = self.model().model.multiply_adds_per_sample(self.input_dim)
        jacobian = min(self.input_dim, self.widths[-1]) if self.gc_penalty > 0 else 0
        return 6.0 * macs * self.batch_size * self.steps * (1 + jacobian)

    @property
    def input_dim(self) -> int:
        return self.dim if self.dataset == "gaussian" else 784


def load_parts(setting: Setting) -> Parts:
    """Training, test and target samples (module docstring); float32 inputs."""
    k, s = setting.num_classes, setting.source_classes
    n, m = setting.n_per_class, setting.eval_per_class
    if setting.dataset == "mnist5k":
        ds = load_dataset("mnist5k", standardize=False)
        index = [np.flatnonzero(ds.y == c) for c in range(k)]
        pick = [np.concatenate([index[c][a:b] for c in range(s)]) for a, b in ((0, n), (n, n + m))]
        target = np.concatenate(index[s:])
        return Parts(
            *(Split(ds.x[i], ds.y[i]) for i in pick), Split(ds.x[target], ds.y[target] - s)
        )
    args = (k, n, setting.dim, setting.separation)
    ds = gaussian(*args, setting.noise, seed=0)
    centres = gaussian(k, 1, setting.dim, setting.separation, 0.0, seed=0).x  # noise 0: m_c
    y = np.repeat(np.arange(k, dtype=np.int32), m)
    x = centres[y] + setting.noise * np.random.default_rng(1).normal(size=(y.size, setting.dim))
    source = ds.y < s
    return Parts(
        Split(ds.x[source], ds.y[source]),
        Split(x[y < s].astype(np.float32), y[y < s]),
        Split(x[y >= s].astype(np.float32), y[y >= s] - s),
    )


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """This process's runs of the bucket trained as one program and measured in float64."""
    first = settings[0]
    parts, model, config = load_parts(first), first.model(), first.config()
    lrs, wds, seeds = run_values(runs, "learning_rate", "weight_decay", "seed")
    initial = init_runs(model, config, first.input_dim, lrs, wds, seeds)
    data = make_data(parts.train.x, parts.train.y, first.source_classes)
    trained = context.train(model, config, data, initial)
    log, runs_at = trained.trajectory, range(len(runs))
    logged = {"curve/training loss": "loss", "step": "step"}  # and GC, CDNV per layer
    logged |= {name: name for name in log if name.startswith("layer/")}
    curves = [{key: np.asarray(log[name][r]) for key, name in logged.items()} for r in runs_at]
    cell = {
        "gaussian": float(first.dataset == "gaussian"),
        "eval_per_class": float(first.eval_per_class),
        "estimator_draws": float(first.estimator_draws),
    }
    with jax.enable_x64(True):
        measure = make_measure(model, parts, first.source_classes, first.options())

        def quantities(r: int) -> dict[str, float]:
            params = run_params(trained.state.params, r, jnp.float64)
            values = measure(params, jax.random.PRNGKey(int(seeds[r])))
            return {name: float(v) for name, v in values.items()} | cell

        return measured_outcomes(diverged_steps(log), quantities, curves)


def finish_cell(setting: Setting, outcome: CellOutcome) -> CellOutcome:
    """Every trained run of the cell gets the cell-level quantities of measure.cross_run over
    all the cell's runs (the runner applies it to whole cells, also in a multi-host sweep)."""
    trained = [r for r in outcome.runs if r.quantities is not None]
    if not trained:
        return outcome
    groups = [(r.params["learning_rate"], r.params["weight_decay"]) for r in trained]
    shared = cross_run([r.quantities for r in trained], groups)
    runs = [
        r if r.quantities is None else dataclasses.replace(r, quantities={**r.quantities, **shared})
        for r in outcome.runs
    ]
    return CellOutcome(runs, outcome.arrays)


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train and measure every run of the bucket (``finish_cell`` adds each cell's cross-run
    quantities)."""
    return run_bucket(settings, context, train_and_measure)
