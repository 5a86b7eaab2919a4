"""The setting of Zhu et al. (NeurIPS 2021), the cross-entropy UFM with weight decay, and the
function that trains and measures its runs (the paper's part of the nc_jax.checks contract).

The standard setting (``nc-jax check zhu2021``): the instance of docs/theory/zhu2021.md's check,
K = 4 classes of n = 3 samples, d = 6, lambda_W = lambda_H = 5e-3, lambda_b = 1e-3, trained by
plain full-batch GD in float64 from 8 random starts at each of two lambda scales: 1 (threshold
K sqrt(n lambda_W lambda_H) = 0.035, a non-zero minimiser) and 40 (threshold 1.39: W = H = 0),
all 16 runs vmapped in one compiled program. Every quantity is measured in float64 by
theorems.zhu2021.measure.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks import CellOutcome, SettingError, check_log_spacing, check_steps
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    diverged_steps,
    run_bucket,
    run_values,
    split_arrays,
)
from nc_jax.checks.fields import at_least, checked, each, positive, validate_fields
from nc_jax.models.ufm import UFM, ufm_inputs
from nc_jax.train import TrainConfig, init_runs, make_data
from theorems.zhu2021 import closed_form
from theorems.zhu2021.measure import engine_lambdas, measure_runs

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: the standard check, a few seconds of training).

    Normalisation (docs/theory/zhu2021.md): the objective is the mean cross
    entropy over the N = K n samples plus lambda_W/2 ||W||^2 + lambda_H/2 ||H||^2 +
    lambda_b/2 ||b||^2, the regularisers not divided by N: the engine's cross entropy with
    reduction "mean" and coupled "l2" decay, per-run weight decay lambda_W and the UFM's decay
    scales lambda_H / lambda_W and lambda_b / lambda_W. Training is float64 (the claims are
    about reaching the exact minimiser; float32 would floor the distances near 1e-7).

    Attributes:
        num_classes: K >= 2.
        n_per_class: n >= 1 samples per class (balanced, N = K n).
        feature_dim: d >= K - 1 (Theorem 3.1 needs d >= K - 1; the landscape statement,
            Theorem 3.2, d > K [U]: between the two its checks are vacuous).
        lambda_w: lambda_W > 0, the decay of the classifier W.
        lambda_h: lambda_H > 0, the decay of the features H.
        lambda_b: lambda_b >= 0, the decay of the bias b (b* = 0 needs lambda_b > 0).
        bias: train a classifier bias b (Zhu et al.'s UFM has one).
        lambda_scales: per-run multipliers c of all three lambdas (c lambda_W, c lambda_H,
            c lambda_b; the threshold K sqrt(n lambda_W lambda_H) scales with c): every one is
            trained with every learning rate and seed, in one compiled program.
        learning_rates: the GD learning rates.
        seeds: initialisation seeds (the random starts).
        steps: full-batch GD steps (a multiple of log_every).
        log_every: steps between two logged measurements of the engine.
        log_spacing: "linear" (a log every log_every steps) or "geometric" (at most 100 logs
            spread geometrically from log_every to steps: long runs read on log axes, at a
            fraction of the logging cost).
        init_scale: H entries ~ N(0, s^2), W entries ~ N(0, s^2 / d), b = 0; 0 starts at the
            critical point W = H = 0, which GD never leaves (the reach claims, about random
            starts, are vacuous there).
    """

    num_classes: int = checked(4, at_least(2))
    n_per_class: int = checked(3, at_least(1))
    feature_dim: int = 6
    lambda_w: float = checked(5e-3, positive())
    lambda_h: float = checked(5e-3, positive())
    lambda_b: float = checked(1e-3, at_least(0.0))
    bias: bool = True
    lambda_scales: tuple[float, ...] = checked((1.0, 40.0), each(positive()))
    learning_rates: tuple[float, ...] = checked((2.0,), each(positive()))
    seeds: tuple[int, ...] = checked((0, 1, 2, 3, 4, 5, 6, 7), each(at_least(0)))
    steps: int = 10000
    log_every: int = 500
    log_spacing: str = "linear"
    init_scale: float = checked(1.0, at_least(0.0))

    RUN_FIELDS = ("lambda_scales", "learning_rates", "seeds")

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.feature_dim < self.num_classes - 1:
            raise SettingError(
                "feature_dim",
                f"must be >= K - 1 = {self.num_classes - 1} (a simplex ETF of K classes spans "
                f"K - 1 dimensions; Theorem 3.1 needs it), got {self.feature_dim}",
            )
        check_steps(self.steps, self.log_every)
        check_log_spacing(self.log_spacing)

    @property
    def num_samples(self) -> int:
        return self.num_classes * self.n_per_class

    def model(self) -> UFM:
        """The UFM with per-group decay: lambda_H = weight_decay * lambda_h / lambda_w and
        lambda_b = weight_decay * lambda_b / lambda_w, the per-run weight decay being
        c lambda_W."""
        return UFM(
            num_samples=self.num_samples,
            feature_dim=self.feature_dim,
            num_classes=self.num_classes,
            bias=self.bias,
            init_scale=self.init_scale,
            feature_decay_scale=self.lambda_h / self.lambda_w,
            bias_decay_scale=self.lambda_b / self.lambda_w,
        )

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            log_spacing=self.log_spacing,
            loss="cross_entropy",
            reduction="mean",
            metrics=False,  # measured in float64 at the end; the logs keep the objective
        )

    def labels(self) -> np.ndarray:
        """Class-major balanced labels: y = (0, ..., 0, 1, ..., K-1), n of each."""
        return np.repeat(np.arange(self.num_classes), self.n_per_class).astype(np.int32)

    def runs(self) -> list[RunSpec]:
        """Every (lambda scale, learning rate, seed) run, lambda scale major; each records the
        threshold K sqrt(n lambda_W lambda_H) of its strengths."""
        model = self.model()
        specs = []
        for scale, lr, seed in itertools.product(
            self.lambda_scales, self.learning_rates, self.seeds
        ):
            lam = engine_lambdas(model, scale * self.lambda_w)
            label = f"seed={seed} c={scale:g}" + (
                f" lr={lr:g}" if len(self.learning_rates) > 1 else ""
            )
            params = {
                "seed": int(seed),
                "lambda_scale": float(scale),
                "learning_rate": float(lr),
                "threshold": closed_form.threshold(
                    self.num_classes, self.n_per_class, lam.w, lam.h
                ),
            }
            specs.append(RunSpec(label, params))
        return specs

    def cost(self) -> float:
        """Training FLOPs of one run: forward and backward of Z = H W^T through the identity
        input (N x N x d) and the product (N d K), about 6 (N^2 d + N d K) per step."""
        n, d, k = self.num_samples, self.feature_dim, self.num_classes
        return 6.0 * (n * n * d + n * d * k) * self.steps

    def memory(self) -> float:
        """Bytes one run holds while training (float64): parameters, gradients, the update,
        the identity input and the logits."""
        n, d, k = self.num_samples, self.feature_dim, self.num_classes
        parameters = n * d + k * d + k
        return 8.0 * (3 * parameters + n * n + 2 * n * k)


def loss_gap_curve(objective: np.ndarray, f_star: np.ndarray) -> np.ndarray:
    """|f_t - f*| / f* along training (R, logs) from the engine's logged objective (R, logs)
    and each run's closed-form f* (R,)."""
    best = np.asarray(f_star)[:, None]
    return np.abs(np.asarray(objective) - best) / best


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train the runs of every setting (one bucket: equal outside RUN_FIELDS) as one compiled
    float64 program, then measure each of this process's runs in float64. One CellOutcome per
    setting; its arrays are the engine trajectory and ``curve/|f_t - f*| / f*``."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """This process's ``runs`` of the bucket trained together and measured in float64."""
    first = settings[0]
    model, config = first.model(), first.config()
    scales, lrs, seeds = run_values(runs, "lambda_scale", "learning_rate", "seed")
    decays = scales * first.lambda_w
    lambdas = [engine_lambdas(model, decay) for decay in decays]
    with jax.enable_x64(True):
        initial = init_runs(model, config, first.num_samples, lrs, decays, seeds, jnp.float64)
        inputs = ufm_inputs(first.num_samples, jnp.float64)
        data = make_data(inputs, first.labels(), first.num_classes, jnp.float64)
        trained = context.train(model, config, data, initial)
        # a diverged run is frozen at its last finite state: measured with the rest, dropped
        measured = measure_runs(
            trained.state.params,
            initial.params,
            first.labels(),
            first.num_classes,
            first.n_per_class,
            lambdas,
        )
    f_star = [
        closed_form.optimal_objective(first.num_classes, first.n_per_class, lam.w, lam.h)
        for lam in lambdas
    ]
    curve = loss_gap_curve(trained.trajectory["objective"], np.array(f_star))
    arrays = trained.trajectory | {"curve/|f_t - f*| / f* (engine log)": curve}
    return [
        RunOutcome(quantities, step, per_run)
        for quantities, step, per_run in zip(
            measured, diverged_steps(trained.trajectory), split_arrays(arrays, len(runs))
        )
    ]
