"""The setting of Yan et al. (NeurIPS 2024, "Neural Collapse To Multiple Centers For Imbalanced
Data") and the function that measures and trains its runs (docs/theory/yan2024.md).

Two parts. The closed forms: the centres W_ij = cos(theta) v_ij + sin(theta) w_i of
``nc_jax.metrics.centres`` (f_i centres for class i, drawn from ``centre_seed``) and the optima of
our two stand-in MSE losses on them. The training: an MLP on a long-tailed Gaussian mixture
(``nc_jax.data.gaussian``, n_k = n_max ratio^{-k/(K-1)}), its d-dimensional output normalised
(``nc_jax.models.long_tail.UnitOutput``) and trained by full-batch GD in float64 with the
engine's MSE against the unit class-mean centre cbar_y / ||cbar_y||: the cosine loss
1 - cos(h, cbar_y) towards a fixed classifier, our stand-in for the paper's Cosine Loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks import CellOutcome, SettingError, check_steps
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    diverged_steps,
    first_diverged,
    measured_outcomes,
    run_bucket,
    run_values,
)
from nc_jax.checks.fields import at_least, checked, each, inside, positive, validate_fields
from nc_jax.data import class_subset, gaussian
from nc_jax.metrics.centres import MultiCentres, centre_means, multi_centres
from nc_jax.models import MLP
from nc_jax.models.long_tail import UnitOutput, long_tail_counts
from nc_jax.train import TrainConfig, init_runs, make_regression_data
from theorems.yan2024.measure import centre_quantities, trained_quantities
from theorems.yan2024.ufm import contraction, train_own_centre_ufm

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext


@dataclass(frozen=True)
class Setting:
    """The setting (defaults: the standard check, seconds on 2 CPU cores).

    Attributes:
        centres: f_i, the centres of class i (K = its length >= 2), class 0 the head: more
            centres for the minority classes, as the paper's class-aware strategy gives.
        theta: the centres' angle theta in radians, in (0, pi/2].
        feature_dim: d >= K + sum(centres), the feature dimension.
        ridge: lambda > 0 of the two stand-in MSE losses (closed forms).
        centre_seed: the seed of the centres' orthonormal basis.
        n_max: n_0, training samples of the head class.
        imbalance_ratio: n_0 / n_{K-1} >= 1.
        input_dim: D of the Gaussian mixture.
        separation: distance scale of the mixture's class centres (noise 1).
        hidden: width of the MLP's hidden ReLU layer.
        learning_rate: eta of full-batch GD of the MLP.
        ufm_learning_rate: eta of full-batch GD of the stand-in (i) UFM (weight decay: ridge).
        weight_decay: lambda of the MLP's coupled weight decay (>= 0).
        steps: GD steps of both trainings (a multiple of log_every).
        log_every: steps between two logged objectives.
        seeds: one run per seed (the MLP's initialisation).
    """

    centres: tuple[int, ...] = checked((2, 3, 4, 6, 8), each(at_least(1)))
    theta: float = checked(0.2, inside(0, np.pi / 2, closed=(False, True), names=("0", "pi/2")))
    feature_dim: int = 32
    ridge: float = checked(0.1, positive())
    centre_seed: int = 0
    n_max: int = checked(100, at_least(1))
    imbalance_ratio: float = checked(50.0, at_least(1))
    input_dim: int = checked(20, at_least(1))
    separation: float = checked(3.0, at_least(0.0))
    hidden: int = checked(64, at_least(1))
    learning_rate: float = checked(0.5, positive())
    ufm_learning_rate: float = checked(1.0, positive())
    weight_decay: float = checked(1e-4, at_least(0.0))
    steps: int = 2000
    log_every: int = 500
    seeds: tuple[int, ...] = checked((0, 1, 2), each(at_least(0)))

    RUN_FIELDS = ("seeds",)

    def __post_init__(self) -> None:
        validate_fields(self)
        if len(self.centres) < 2:
            raise SettingError("centres", f"must list >= 2 counts (K >= 2), got {self.centres}")
        needed = len(self.centres) + sum(self.centres)
        if self.feature_dim < needed:
            raise SettingError("feature_dim", f"must be >= K + sum(centres) = {needed}")
        check_steps(self.steps, self.log_every)

    @property
    def num_classes(self) -> int:
        return len(self.centres)

    def multi_centres(self) -> MultiCentres:
        key = jax.random.PRNGKey(self.centre_seed)
        return multi_centres(key, self.centres, self.theta, self.feature_dim)

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The long-tailed training set: x (N, D) float64, y (N,) int32, head first."""
        k = self.num_classes
        counts = long_tail_counts(k, self.n_max, self.imbalance_ratio)
        mixture = gaussian(k, self.n_max, self.input_dim, self.separation, 1.0, self.centre_seed)
        ds = class_subset(mixture, counts, self.centre_seed)
        return ds.x.astype(np.float64), ds.y

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps, log_every=self.log_every, loss="mse", reduction="mean", metrics=False
        )

    def runs(self) -> list[RunSpec]:
        return [RunSpec(f"seed={seed}", {"seed": int(seed)}) for seed in self.seeds]


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Measure and train the runs of every setting (one cell per bucket: only seeds vary)."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """The closed forms of the cell's centres and this process's trained runs, in float64."""
    setting = settings[0]
    (seeds,) = run_values(runs, "seed")
    lrs = np.full(len(seeds), setting.learning_rate)
    wds = np.full(len(seeds), setting.weight_decay)
    with jax.enable_x64(True):
        centres = setting.multi_centres()
        shared = centre_quantities(centres, setting.theta, setting.ridge)
        means = np.asarray(centre_means(centres))
        x, y = setting.data()
        targets = means[y] / np.linalg.norm(means[y], axis=1, keepdims=True)
        model = UnitOutput(MLP((setting.hidden, setting.feature_dim), num_linear=1, bias=True))
        start = init_runs(model, setting.config(), x.shape[1], lrs, wds, seeds, jnp.float64)
        trained = context.train(
            model, setting.config(), make_regression_data(x, targets, jnp.float64), start
        )
        distances, ufm_diverged = train_own_centre_ufm(setting, centres, y, seeds, context)
        rate = contraction(setting.centres, setting.theta, setting.ridge, setting.ufm_learning_rate)
        shared["ufm_contraction"] = rate**setting.steps
        return measured_outcomes(
            first_diverged(diverged_steps(trained.trajectory), ufm_diverged),
            lambda r: (
                shared
                | trained_quantities(model, start, trained, r, x, y, means)
                | {"ufm_distance": distances[r]}
            ),
        )
