"""The setting of Wang, Gao, Xie (AAAI 2026, arXiv 2512.07844) and the function that trains and
measures its runs (docs/theory/wang2025.md).

Every run is one seed of a cross-entropy network with weight decay on long-tailed classes
n_k = n_max ratio^{-k/(K-1)} (``nc_jax.models.long_tail.long_tail_counts``): the bias-free UFM
(``nc_jax.models.ufm.UFM``: free features H, classifier W, coupled weight decay lambda on both;
``dataset="ufm"``) or an MLP on the embedded MNIST images (``dataset="mnist5k"``: their leading
principal components, a long-tailed training subset and a balanced held-out test set). Each seed
trains twice from the same start by full-batch GD in float64: plainly, and with the alignment
regulariser beta sum_k (1 - cos(w_k, mu~_k)) (``nc_jax.models.long_tail.AlignmentPenalty``, our
stand-in for the paper's SpA-Reg). Both trainings of every seed run as two vmapped programs.
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
from nc_jax.checks.fields import at_least, checked, each, inside, one_of, positive, validate_fields
from nc_jax.checks.validate import check_dataset
from nc_jax.data import Dataset, load_dataset
from nc_jax.models import MLP
from nc_jax.models.long_tail import AlignmentPenalty, long_tail_counts, long_tail_split
from nc_jax.models.ufm import UFM
from nc_jax.train import TrainConfig, init_runs, make_data
from theorems.wang2025.measure import Split, run_quantities

DATASETS = ("ufm", "mnist5k")
MNIST_PER_CLASS = 500  # images of every class in mnist5k

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: the standard check, a few seconds on 2 CPU cores).

    Objective: (1/N) sum_i CE(W h_i, y_i) + lambda/2 (||W||_F^2 + ||H||_F^2) [+ beta sum_k
    (1 - cos(w_k, mu_k - mu_c))], mu_c the mean of the class means, the means held constant in
    the gradient.

    Attributes:
        dataset: "ufm" (free features) or "mnist5k" (an MLP on the embedded MNIST images, K = 10).
        num_classes: K >= 4 (two head and two tail classes at least).
        n_max: n_0, the samples of the largest class.
        imbalance_ratio: n_0 / n_{K-1} >= 1 (1: balanced, the misalignment claim is vacuous).
        feature_dim: d >= K, the features the classifier reads.
        input_dim: mnist5k: the principal components kept (the MLP's input).
        hidden: mnist5k: the MLP's first hidden width (ReLU, then d ReLU features).
        n_test: mnist5k: held-out test images per class (n_max + n_test <= 500).
        weight_decay: lambda > 0 on W and H.
        beta: the alignment regulariser's strength (> 0) in the second training.
        learning_rate: eta of full-batch GD.
        steps: GD steps of each training (a multiple of log_every).
        log_every: steps between two logged objectives.
        slerp_t: the SLERP fraction t in [0, 1] of the SLERP identity check.
        seeds: one run per seed (the UFM's initialisation; the anisotropic covariance of the
            Chernoff check).
    """

    dataset: str = checked("ufm", one_of(DATASETS))
    num_classes: int = checked(5, at_least(4))
    n_max: int = checked(50, at_least(1))
    imbalance_ratio: float = checked(50.0, at_least(1))
    feature_dim: int = 16
    input_dim: int = checked(50, at_least(1))
    hidden: int = checked(64, at_least(1))
    n_test: int = checked(100, at_least(1))
    weight_decay: float = checked(5e-3, positive())
    beta: float = checked(1.0, positive())
    learning_rate: float = checked(1.0, positive())
    steps: int = 4000
    log_every: int = 500
    slerp_t: float = checked(0.5, inside(0, 1, closed=(True, True)))
    seeds: tuple[int, ...] = checked((0, 1, 2), each(at_least(0)))

    RUN_FIELDS = ("seeds",)

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.dataset == "mnist5k":
            check_dataset(self.dataset, None)
            if self.num_classes != 10 or self.n_max + self.n_test > MNIST_PER_CLASS:
                raise SettingError(
                    "num_classes",
                    f"mnist5k needs num_classes 10 and n_max + n_test <= {MNIST_PER_CLASS}",
                )
        if self.feature_dim < self.num_classes:
            raise SettingError(
                "feature_dim",
                f"must be >= num_classes ({self.num_classes}), got {self.feature_dim}",
            )
        check_steps(self.steps, self.log_every)

    def counts(self) -> np.ndarray:
        """n_k (K,) ints, head first."""
        return long_tail_counts(self.num_classes, self.n_max, self.imbalance_ratio)

    def split(self) -> Split:
        """The training set (x float64, labels head first) and, for mnist5k, the test set."""
        if self.dataset == "ufm":
            labels = np.repeat(np.arange(self.num_classes), self.counts()).astype(np.int32)
            return Split(np.eye(len(labels)), labels, None, None)
        train, test = long_tail_split(
            principal_components(load_dataset("mnist5k"), self.input_dim),
            self.counts(),
            self.n_test,
        )
        return Split(train.x.astype(np.float64), train.y, test.x.astype(np.float64), test.y)

    def model(self, num_samples: int) -> UFM | MLP:
        if self.dataset == "ufm":
            return UFM(num_samples, self.feature_dim, self.num_classes)
        return MLP((self.hidden, self.feature_dim, self.num_classes), num_linear=1, bias=True)

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            loss="cross_entropy",
            reduction="mean",
            metrics=False,
        )

    def runs(self) -> list[RunSpec]:
        return [RunSpec(f"seed={seed}", {"seed": int(seed)}) for seed in self.seeds]


def principal_components(ds: Dataset, count: int) -> Dataset:
    """The inputs projected on their ``count`` leading principal components (over all of
    ``ds``), scaled so that the first has unit variance."""
    x = ds.x.astype(np.float64) - ds.x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x, full_matrices=False)
    z = x @ vt[:count].T * (np.sqrt(len(x)) / singular[0])
    note = f"; {count} principal components"
    return Dataset(z.astype(np.float32), ds.y, ds.num_classes, ds.name, ds.provenance + note)


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train and measure the runs of every setting (one cell per bucket: only seeds vary)."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """Both trainings (plain, regularised) of this process's runs, measured in float64."""
    setting = settings[0]
    (seeds,) = run_values(runs, "seed")
    split = setting.split()
    base = setting.model(len(split.y))
    regularised = AlignmentPenalty(base, tuple(int(y) for y in split.y), setting.beta)
    lrs = np.full(len(seeds), setting.learning_rate)
    wds = np.full(len(seeds), setting.weight_decay)
    with jax.enable_x64(True):
        data = make_data(split.x, split.y, setting.num_classes, jnp.float64)
        start = init_runs(base, setting.config(), split.x.shape[1], lrs, wds, seeds, jnp.float64)
        trained = {
            name: context.train(model, setting.config(), data, start)
            for name, model in (("plain", base), ("aligned", regularised))
        }
        return measured_outcomes(
            first_diverged(*(diverged_steps(t.trajectory) for t in trained.values())),
            lambda r: run_quantities(setting, base, trained, r, split, int(seeds[r])),
        )
