"""The setting of the ufm_extras paper and the function that trains and measures its runs
(the paper's part of the nc_jax.checks contract; docs/theory/ufm_extras.md).

Two trained parts, both the bias-free cross-entropy UFM (``nc_jax.models.ufm.UFM``: input
I_N, mean loss over samples, coupled weight decay lambda on W and on H), trained in float64 by
plain full-batch GD through ``context.train``:

- ``hadamard``: K (a power of 2) balanced classes of ``hadamard_n_per_class`` samples,
  initialised in spectral form W = U diag(a) E^T, h_i = (U diag(b) E^T)[y_i] with U the
  Sylvester Hadamard basis (or, ``basis="random"``, a random orthogonal one: the control);
  the engine's own step is replayed from the same start to record the spectra after every
  step, which the K-scalar recursion of theorems.ufm_extras.hadamard must reproduce;
- ``imbalance``: K - K_B majority classes of R n_B samples and K_B minority classes of n_B,
  a random initialisation; the trained objective and classifier geometry are compared with the
  convex program's optimum, and the class means (at initialisation and trained) are the
  instances of the nearest-ETF check (E2).

Every run is one seed (with its learning rate and weight decay); every quantity is measured in
float64 (theorems.ufm_extras.measure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from nc_jax.checks.fields import at_least, checked, each, one_of, positive, validate_fields
from nc_jax.metrics import class_stats, etf
from nc_jax.models.ufm import UFM, ufm_inputs
from nc_jax.train import (
    RunState,
    TrainConfig,
    TrainData,
    TrainResult,
    init_runs,
    make_data,
)
from theorems.ufm_extras import hadamard, imbalance
from theorems.ufm_extras.measure import (
    ETF_NAMES,
    HADAMARD_NAMES,
    IMBALANCE_NAMES,
    etf_quantities,
    hadamard_quantities,
    imbalance_quantities,
    missing,
)

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext

PARTS = ("hadamard", "imbalance")
BASES = ("hadamard", "random")


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: the standard check, about a minute on 2 CPU cores).

    Normalisation (docs/theory/ufm_extras.md, "Objective"): F(W, H) = (1/N) sum_i CE(W h_i, y_i)
    + lambda/2 (||W||_F^2 + ||H||_F^2), the feature decay not divided by N (docs/theory/zhu2021.md),
    lambda_W = lambda_H = weight_decay; plain full-batch GD in float64.

    Attributes:
        parts: the parts to train: "hadamard" (E3) and/or "imbalance" (the imbalanced UFM,
            whose class means are also the instances of the E2 nearest-ETF check); the checks
            of a part left out are vacuous.
        num_classes: K (a power of 2 when "hadamard" is trained: the Sylvester construction).
        feature_dim: d >= K, the feature dimension of both UFMs.
        steps: full-batch GD steps of both UFMs (a multiple of log_every).
        log_every: steps between two logged objectives of the engine.
        log_spacing: "linear" (a log every log_every steps) or "geometric" (at most 100 logs
            spread geometrically from log_every to steps: long runs read on log axes, at a
            fraction of the logging cost).
        learning_rate: eta of both UFMs.
        weight_decay: lambda = lambda_W = lambda_H (> 0; the convex optimum needs it).
        seeds: one run per seed (initial spectra, frames and bases; the imbalanced UFM's draw).
        init_scale: the imbalanced UFM's initial scale (UFM.init_scale); the Hadamard spectra
            a(0), b(0) are drawn uniform in [0.5, 1.5] times it.
        hadamard_n_per_class: n, samples per class of the Hadamard UFM (balanced).
        basis: "hadamard" (the Sylvester basis of E3) or "random" (a random orthogonal basis:
            the control, whose singular vectors must move; its reduction check is vacuous).
        minority_classes: K_B, the minority classes (the last K_B; 2 <= K_B <= K - 1).
        n_minority: n_B, samples per minority class.
        imbalance_ratio: R = n_A / n_B (an integer >= 1): majority classes have R n_B samples.
        etf_starts: random starts (vmapped) of the Riemannian Stiefel solver.
        etf_steps: Riemannian gradient steps per start.
        prox_delta: delta of the proximal nearest-ETF variant (Markou et al.: 1e-3).
    """

    parts: tuple[str, ...] = checked(PARTS, each(one_of(PARTS)))
    num_classes: int = checked(4, at_least(2))
    feature_dim: int = 6
    steps: int = 4000
    log_every: int = 100
    log_spacing: str = "linear"
    learning_rate: float = checked(2.0, positive())
    weight_decay: float = checked(0.04, positive())
    seeds: tuple[int, ...] = checked((0, 1, 2, 3), each(at_least(0)))
    init_scale: float = checked(1.0, positive())
    hadamard_n_per_class: int = checked(2, at_least(1))
    basis: str = checked("hadamard", one_of(BASES))
    minority_classes: int = checked(2, at_least(2))
    n_minority: int = checked(1, at_least(1))
    imbalance_ratio: int = checked(20, at_least(1))
    etf_starts: int = checked(64, at_least(1))
    etf_steps: int = checked(500, at_least(1))
    prox_delta: float = checked(1e-3, at_least(0.0))

    RUN_FIELDS = ("seeds", "learning_rate", "weight_decay")

    def __post_init__(self) -> None:
        validate_fields(self)
        if len(set(self.parts)) != len(self.parts):
            raise SettingError("parts", f"must list distinct parts, got {self.parts}")
        if "hadamard" in self.parts and not hadamard.is_power_of_two(self.num_classes):
            raise SettingError(
                "num_classes",
                f"must be a power of 2 for the Sylvester Hadamard basis, got {self.num_classes}"
                " (try 4 or 8, or leave hadamard out of --parts)",
            )
        if self.feature_dim < self.num_classes:
            raise SettingError(
                "feature_dim",
                f"must be >= num_classes ({self.num_classes}): the nearest ETF's Stiefel frame "
                f"and the convex optimum need d >= K; got {self.feature_dim}",
            )
        check_steps(self.steps, self.log_every)
        check_log_spacing(self.log_spacing)
        if self.minority_classes > self.num_classes - 1:
            raise SettingError(
                "minority_classes",
                f"must be <= num_classes - 1 ({self.num_classes - 1}), got {self.minority_classes}",
            )

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            log_spacing=self.log_spacing,
            loss="cross_entropy",
            reduction="mean",
            metrics=False,
        )

    def counts(self) -> np.ndarray:
        """n_k of the imbalanced UFM (K,) integers: majority classes first."""
        return imbalance.imbalanced_counts(
            self.num_classes, self.minority_classes, self.n_minority, self.imbalance_ratio
        ).astype(int)

    def hadamard_labels(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_classes), self.hadamard_n_per_class)

    def runs(self) -> list[RunSpec]:
        """One run per seed, recording the cell's learning rate and weight decay."""
        lr, wd = self.learning_rate, self.weight_decay
        return [
            RunSpec(
                f"seed={seed} lr={lr:g} wd={wd:g}",
                {"seed": int(seed), "learning_rate": float(lr), "weight_decay": float(wd)},
            )
            for seed in self.seeds
        ]

    def cost(self) -> float:
        """Training FLOPs of one run: 6 N^2 d + 6 N d K per step (the I_N @ H product and the
        logits, forward and backward) for both UFMs."""
        sizes = [int(self.counts().sum())] if "imbalance" in self.parts else []
        if "hadamard" in self.parts:
            sizes.append(self.num_classes * self.hadamard_n_per_class)
        per_step = sum(6 * n * self.feature_dim * (n + self.num_classes) for n in sizes)
        return float(per_step * self.steps * (2 if "hadamard" in self.parts else 1))


# ------------------------------------------------------------------------------- training


def _train(
    context: TrainContext,
    model: UFM,
    config: TrainConfig,
    labels: np.ndarray,
    runs: tuple[np.ndarray, np.ndarray, np.ndarray],
    params: Any = None,
) -> tuple[RunState, TrainResult, TrainData]:
    """Initial states (the engine's draw, or ``params`` stacked over runs) and their training,
    float64; returns (initial, trained, data)."""
    lrs, wds, seeds = runs
    num_samples = labels.shape[0]
    initial = init_runs(model, config, num_samples, lrs, wds, seeds, jnp.float64)
    if params is not None:
        initial = initial._replace(params=jax.tree_util.tree_map(jnp.asarray, params))
    data = make_data(ufm_inputs(num_samples, jnp.float64), labels, model.num_classes, jnp.float64)
    return initial, context.train(model, config, data, initial), data


def _run(tree: Any, index: int) -> Any:
    return jax.tree_util.tree_map(lambda leaf: leaf[index], tree)


def _hadamard_part(
    setting: Setting, context: TrainContext, runs: tuple[np.ndarray, ...]
) -> tuple[list[dict[str, float]], list[int | None], dict[str, np.ndarray]]:
    """Train the spectrally initialised UFM of every run, replay it step by step, measure E3."""
    lrs, wds, seeds = runs
    order, dim, n = setting.num_classes, setting.feature_dim, setting.hadamard_n_per_class
    labels = setting.hadamard_labels()
    model = UFM(labels.shape[0], dim, order)
    config = setting.config()
    bases, frames, per_run = [], [], []
    for seed in seeds:
        rng = np.random.default_rng([int(seed), 1])
        a0, b0 = setting.init_scale * rng.uniform(0.5, 1.5, size=(2, order))
        frame = hadamard.random_frame(rng, dim, order)
        if setting.basis == "hadamard":
            basis = hadamard.hadamard_basis(order)
        else:
            basis = hadamard.random_basis(rng, order)
        bases.append(basis)
        frames.append(frame)
        per_run.append(hadamard.spectral_params(basis, frame, a0, b0, labels))
    stacked = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *per_run)
    initial, trained, data = _train(context, model, config, labels, runs, stacked)
    bases_j, frames_j = jnp.asarray(np.stack(bases)), jnp.asarray(np.stack(frames))
    _, path = hadamard.replay_spectra(model, config, initial, data, bases_j, frames_j)
    steps = np.asarray(trained.trajectory["step"][0])
    diverged = diverged_steps(trained.trajectory)
    quantities = []
    for r in range(len(seeds)):
        if diverged[r] is not None:  # LAPACK never sees a diverged run's parameters
            quantities.append(missing(HADAMARD_NAMES))
            continue
        start = hadamard.spectral_coordinates(
            _run(initial.params, r), bases_j[r], frames_j[r], data.y, order
        )
        quantities.append(
            hadamard_quantities(
                _run(path, r),
                start,
                bases[r],
                np.asarray(trained.trajectory["objective"][r]),
                steps,
                _run(trained.state.params, r),
                learning_rate=float(lrs[r]),
                weight_decay=float(wds[r]),
                n_per_class=n,
            )
        )
    curves = {"curve/hadamard: spectral residue": np.asarray(path.residue)}
    return quantities, diverged, curves


def _imbalance_part(
    setting: Setting, context: TrainContext, runs: tuple[np.ndarray, ...]
) -> tuple[list[dict[str, float]], list[int | None], dict[str, np.ndarray]]:
    """Train the imbalanced UFM of every run and measure it against the convex optimum; the
    nearest-ETF check on its class means at initialisation and after training."""
    lrs, wds, seeds = runs
    counts = setting.counts()
    labels = np.repeat(np.arange(setting.num_classes), counts)
    model = UFM(
        labels.shape[0], setting.feature_dim, setting.num_classes, init_scale=setting.init_scale
    )
    initial, trained, data = _train(context, model, setting.config(), labels, runs)
    diverged = diverged_steps(trained.trajectory)
    quantities, gaps = [], []
    for r, seed in enumerate(seeds):
        gaps.append(np.asarray(trained.trajectory["objective"][r]))
        if diverged[r] is not None:  # LAPACK never sees a diverged run's parameters
            quantities.append(missing(IMBALANCE_NAMES + ETF_NAMES))
            continue
        params = _run(trained.state.params, r)
        values = imbalance_quantities(
            model,
            params,
            data.x,
            data.y,
            data.targets,
            counts=counts,
            weight_decay=float(wds[r]),
            minority_classes=setting.minority_classes,
            ratio=setting.imbalance_ratio,
        )
        means = [
            etf.centred_class_means(
                class_stats(p["features"], data.y, setting.num_classes), "samples"
            )
            for p in (_run(initial.params, r), params)
        ]
        values |= etf_quantities(
            *means, setting.prox_delta, int(seed), setting.etf_starts, setting.etf_steps
        )
        quantities.append(values)
        gaps[-1] = gaps[-1] - values["optimum"]
    curves = {"curve/imbalance: objective - F*": np.stack(gaps)}
    return quantities, diverged, curves


def _first_divergence(*steps: int | None) -> int | None:
    found = [s for s in steps if s is not None]
    return min(found) if found else None


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train the runs of every setting (one bucket: equal outside RUN_FIELDS) together, then
    measure each of this process's runs in float64. One CellOutcome per setting; its arrays the
    spectral residue along the Hadamard replay and the imbalanced objective's gap to F*
    (``curve/...``)."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """Each part of the setting (Hadamard, imbalance) trained over this process's ``runs`` as
    one program and measured in float64; a run diverged where one of its parts did."""
    first = settings[0]
    values = run_values(runs, "learning_rate", "weight_decay", "seed")
    quantities: list[dict[str, float]] = [{} for _ in runs]
    diverged: list[int | None] = [None] * len(runs)
    arrays: dict[str, np.ndarray] = {}
    with jax.enable_x64(True):
        for part, names, train_part in (
            ("hadamard", HADAMARD_NAMES, _hadamard_part),
            ("imbalance", IMBALANCE_NAMES + ETF_NAMES, _imbalance_part),
        ):
            if part not in first.parts:
                quantities = [q | missing(names) for q in quantities]
                continue
            measured, steps, curves = train_part(first, context, values)
            quantities = [q | v for q, v in zip(quantities, measured)]
            diverged = [_first_divergence(a, b) for a, b in zip(diverged, steps)]
            arrays |= curves
    return [
        RunOutcome(q, step, per_run)
        for q, step, per_run in zip(quantities, diverged, split_arrays(arrays, len(runs)))
    ]
