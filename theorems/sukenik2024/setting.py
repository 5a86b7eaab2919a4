"""The L-DUFM setting of Súkeník, Mondelli, Lampert (NeurIPS 2024) and the function that trains
and measures its runs (the paper's part of the nc_jax.checks contract).

The standard setting (``nc-jax check sukenik2024``) is the paper's DUFM figure: a 4-DUFM,
K = 10 classes, n = 1 sample per class, every lambda = 0.004, learning rate 0.5, width 30, 10
seeds, full-batch GD on the B2 objective (MSE averaged over the N samples, i.e. the engine's
``reduction="mean"``, plus lambda/2 ||.||_F^2 on H_1 and every W_l with H_1 not divided by N:
coupled "l2" decay with ``feature_decay_scale = lambda_H / lambda_W``). All seeds train as one
compiled program; every quantity is measured in float64 by theorems.sukenik2024.measure.

The real-data run (B5, ``backbone = "resnet20"``): H_1 is the pooled output of a ResNet20 (no
normalisation) on images, followed by the same L-layer bias-free ReLU head (the paper: a 4-layer
MLP head of width 64 on CIFAR-10, weight decay 0.005 on every parameter, lambda_H1 = 5e-6 on the
backbone's output, i.e. ``feature_decay_ratio`` = 1e-3, learning rate 0.05). The engine trains
``models.FeatureDecay`` (the lambda_H1 term on the features) with the same objective; every
check reads the network's *DUFM view*: H_1 = the backbone features of the N training images,
W_l = the head's weights, whose B2 objective is the network's objective without the backbone's
weight decay. experiments/sukenik2024_resnet.py runs it.

Initialisation (the paper's is not known to us): DeepUFM's He/LeCun draw times
``init_scale`` = 0.3. At init_scale 1 and learning rate 0.5, 8 of 10 seeds diverged (width 30);
at 0.1 every seed stayed at the trivial critical point 0 (objective 1/2) for 20000 steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import numpy as np

from nc_jax.checks import (
    CellOutcome,
    RunRecord,
    SettingError,
    check_dataset,
    check_log_spacing,
    check_steps,
)
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    cell_values,
    diverged_steps,
    learning_rate_seed_runs,
    run_bucket,
    run_values,
    split_arrays,
)
from nc_jax.checks.fields import at_least, checked, each, one_of, positive, validate_fields
from nc_jax.data import DATASET_CLASSES, IMAGE_SHAPES, INPUT_DIMS, load_dataset
from nc_jax.models import MLP, FeatureDecay, ResNet
from nc_jax.models.ufm import DeepUFM, dnc_loss, ufm_inputs
from nc_jax.train import TrainConfig, TrainData, init_runs, make_data
from theorems.sukenik2024.bounds import BELOW_DNC_MARGIN, DNC_REACHED_TOLERANCE, SETTLED_DRIFT
from theorems.sukenik2024.measure import (
    configuration_quantities,
    dufm_params,
    embedded_objective,
    layer_quantities,
    replay_orbit,
)
from theorems.sukenik2024.srg import class_labels, srg_loss

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext

BACKBONES = ("dufm", "resnet20")


@dataclass(frozen=True)
class Setting:
    """The trained L-DUFM (defaults: the paper's 4-DUFM figure, about 15 s on 2 CPU cores).

    Attributes:
        num_classes: K >= 2.
        n_per_class: n >= 1 samples per class (N = K n free feature columns).
        depth: L >= 1, the number of weight matrices W_1..W_L (4: the "4-DUFM"; L = 1 is the
            bias-free MSE UFM).
        width: d_l of every layer H_1..H_L (>= K for the DNC configuration to fit).
        weight_decay: lambda_W > 0 of every W_l (lambda_W/2 ||W_l||_F^2 in the objective;
            with lambda = 0 the DNC scales are not attained).
        feature_decay_ratio: lambda_H1 / lambda_W > 0 (1: every lambda equal, the paper's
            DUFM).
        learning_rates: the learning rates; every one is trained with every seed.
        seeds: initialisation seeds.
        init_scale: > 0, multiplies DeepUFM's initial draw (He for the ReLU layers, LeCun for
            W_L, N(0, 1) for H_1).
        steps: full-batch GD steps (a multiple of log_every).
        log_every: steps between two logged measurements of the engine.
        log_spacing: "linear" (a log every log_every steps) or "geometric" (at most 100 logs
            spread geometrically from log_every to steps: long runs read on log axes, at a
            fraction of the logging cost).
        replay_steps: engine steps replayed in float64 from each trained state (the orbit whose
            largest objective the checks read, and the drift that says whether GD settled).
        log_metrics: measure the engine's layer-wise metrics at every log (the layer-profile
            plot); about 1.5 s per log for 10 runs at width 30.
        backbone: "dufm" (H_1 free: the L-DUFM) or "resnet20" (H_1 = the pooled output of a
            ResNet20 without normalisation on the images of ``dataset``; d_1 = 64, the head's
            widths d_2..d_L = ``width``; ``init_scale`` multiplies the head's draw).
        dataset: the images of the resnet20 backbone (digits as 8x8 images is embedded; mnist,
            fashion_mnist and cifar10 are read from ``data_dir``); K = 10, n_per_class of each.
        data_dir: directory with the files of mnist, fashion_mnist or cifar10.
    """

    num_classes: int = checked(10, at_least(2))
    n_per_class: int = checked(1, at_least(1))
    depth: int = checked(4, at_least(1))
    width: int = checked(30, at_least(1))
    weight_decay: float = checked(0.004, positive())
    feature_decay_ratio: float = checked(1.0, positive())
    learning_rates: tuple[float, ...] = checked((0.5,), each(positive()))
    seeds: tuple[int, ...] = checked(tuple(range(10)), each(at_least(0)))
    init_scale: float = checked(0.3, positive())
    steps: int = 20000
    log_every: int = 1000
    log_spacing: str = "linear"
    replay_steps: int = checked(200, at_least(1))
    log_metrics: bool = False
    backbone: str = checked("dufm", one_of(BACKBONES))
    dataset: str = "digits"
    data_dir: str | None = None

    RUN_FIELDS = ("learning_rates", "weight_decay", "seeds")

    def __post_init__(self) -> None:
        validate_fields(self)
        check_steps(self.steps, self.log_every)
        check_log_spacing(self.log_spacing)
        self._check_backbone()

    def _check_backbone(self) -> None:
        if self.backbone == "dufm":
            if self.dataset != "digits" or self.data_dir is not None:
                raise SettingError(
                    "dataset",
                    "the DUFM's features are free: dataset and data_dir are read "
                    'only with backbone = "resnet20"',
                )
            return
        check_dataset(self.dataset, self.data_dir, images_for=("dataset", "backbone resnet20"))
        if self.num_classes != DATASET_CLASSES:
            raise SettingError(
                "num_classes", f"must be {DATASET_CLASSES}, the classes of {self.dataset}"
            )
        if self.depth < 2:
            raise SettingError("depth", "must be >= 2 with a backbone: a ReLU head layer, then W_L")

    @property
    def num_samples(self) -> int:
        return self.num_classes * self.n_per_class

    def input_dim(self) -> int:
        """D: N for the DUFM (its input is the identity), C*H*W of the images otherwise."""
        return self.num_samples if self.backbone == "dufm" else INPUT_DIMS[self.dataset]

    def runs(self) -> list[RunSpec]:
        """One run per (learning rate, seed), learning rate major."""
        return learning_rate_seed_runs(self.learning_rates, self.seeds)

    def model(self) -> DeepUFM | FeatureDecay:
        """The trained model: the DeepUFM, or the ResNet20 + head with the lambda_H1 term on
        its pooled backbone output (the only recorded backbone layer, index 0)."""
        if self.backbone == "dufm":
            return self.dufm_view()
        return FeatureDecay(self._network(), layer=0, scale=self.feature_decay_ratio)

    def _network(self) -> ResNet:
        """The ResNet20 + head of ``backbone = "resnet20"`` (only its pooled output recorded)."""
        head = MLP(
            (self.width,) * (self.depth - 1) + (self.num_classes,),
            num_linear=1,
            init_scale=self.init_scale,
        )
        return ResNet(image_shape=IMAGE_SHAPES[self.dataset], head=head, record_stages=False)

    def dufm_view(self) -> DeepUFM:
        """The DeepUFM every check measures: the trained model itself, or for a backbone the
        DUFM whose H_1 (N, 64) is the backbone's output and whose W_l are the head's."""
        first = self.width if self.backbone == "dufm" else self._network().feature_dim
        return DeepUFM(
            self.num_samples,
            (first,) + (self.width,) * (self.depth - 1),
            self.num_classes,
            init_scale=self.init_scale,
            feature_decay_scale=self.feature_decay_ratio,
        )

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            log_spacing=self.log_spacing,
            reduction="mean",
            metrics=self.log_metrics,
        )

    def multiply_adds(self) -> int:
        """Multiply-adds of one forward pass over the N samples (x @ H_1 with x = I_N, then
        the L layers; a backbone's convolutions and its head)."""
        if self.backbone != "dufm":
            return self.num_samples * self.model().multiply_adds_per_sample(self.input_dim())
        widths = (self.width,) * self.depth + (self.num_classes,)
        layers = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
        return self.num_samples * (self.num_samples * self.width + layers)

    def cost(self) -> float:
        """Training FLOPs of one run: 6 x multiply-adds per step (forward and backward)."""
        return 6.0 * self.multiply_adds() * self.steps

    def memory(self) -> float:
        """Bytes (float32) one run holds while training: parameters, gradients, the update,
        the activations and a per-run copy of the N x N input (of the N images)."""
        if self.backbone != "dufm":
            model, dim = self.model(), self.input_dim()
            activations = self.num_samples * model.activations_per_sample()
            return 4.0 * (3 * model.num_weights(dim) + activations + self.num_samples * dim)
        params = self.num_samples * self.width + self.width**2 * (self.depth - 1)
        params += self.num_classes * self.width
        activations = self.num_samples * (self.width * self.depth + self.num_classes)
        return 4.0 * (3 * params + 2 * activations + self.num_samples**2)


def _run_quantities(
    setting: Setting, model: DeepUFM, params, seed: int, lr: float, replay: tuple[float, ...]
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Every float64 quantity of one trained run and its class-mean spectra; ``model`` is the
    setting's DUFM view and ``params`` the run's final parameters in it (measure.dufm_params);
    ``replay`` = (objective, largest objective on the orbit, drift, gradient norm) from
    measure.replay_orbit."""
    labels = class_labels(setting.num_classes, setting.n_per_class)
    lambda_w = setting.weight_decay
    start, worst, drift, gradient = replay
    q = {
        "K": float(setting.num_classes),
        "n": float(setting.n_per_class),
        "L": float(setting.depth),
        "width": float(min(model.widths)),
        "lambda_W": lambda_w,
        "lambda_H": lambda_w * setting.feature_decay_ratio,
        "learning_rate": lr,
        "steps": float(setting.steps),
        "objective": start,
        "objective_orbit_max": worst,
        "drift": drift,
        "gradient_norm": gradient,
    }
    q |= configuration_quantities(
        model, setting.n_per_class, lambda_w, setting.feature_decay_ratio, seed
    )
    layers, spectra = layer_quantities(model, params, labels)
    q |= layers
    q["ratio"] = start / q["L_DNC"]
    q["ratio_orbit_max"] = worst / q["L_DNC"]
    q["srg_ratio"] = q["L_SRG"] / q["L_DNC"]
    q["embedded_objective"] = embedded_objective(model, params, labels, lambda_w, seed + 1)
    full_rank = all(
        q[f"rank_post_{layer}"] == setting.num_classes for layer in range(1, setting.depth + 1)
    )
    q["reached_dnc"] = float(full_rank and abs(q["ratio"] - 1.0) <= DNC_REACHED_TOLERANCE)
    q["below_dnc"] = float(q["ratio_orbit_max"] <= 1.0 - BELOW_DNC_MARGIN)
    return q, spectra


def _cell_quantities(runs: list[RunRecord]) -> None:
    """Add the cell's summary to every measured run (in place): ``best_ratio_orbit_max`` (the
    smallest ratio_orbit_max of the cell's settled runs, drift <= SETTLED_DRIFT; NaN when
    none settled), ``fraction_below_dnc`` and
    ``fraction_reached_dnc`` (over the measured runs) and ``runs_measured``."""
    measured = [r.quantities for r in runs if r.quantities is not None]
    if not measured:
        return
    settled = [q["ratio_orbit_max"] for q in measured if q["drift"] <= SETTLED_DRIFT]
    best = float(np.nanmin(settled)) if settled and not np.all(np.isnan(settled)) else math.nan
    summary = {
        "best_ratio_orbit_max": best,
        "fraction_below_dnc": float(np.mean([q["below_dnc"] for q in measured])),
        "fraction_reached_dnc": float(np.mean([q["reached_dnc"] for q in measured])),
        "runs_measured": float(len(measured)),
    }
    for q in measured:
        q.update(summary)


def _run_arrays(levels: dict[str, float], objective: np.ndarray) -> dict[str, np.ndarray]:
    """One run's curves against its cell's closed-form ``levels`` (_cell_levels):
    ``curve/objective / L_DNC`` along training (``objective`` (logs,), the engine log), the DNC
    level (1) and, when defined, the SRG construction's level L_SRG / L_DNC."""
    ratio = np.asarray(objective, np.float64) / levels["L_DNC"]
    arrays = {"curve/objective / L_DNC": ratio, "curve/DNC (= 1)": np.ones_like(ratio)}
    if np.isfinite(levels["L_SRG"]):
        srg = levels["L_SRG"] / levels["L_DNC"]
        arrays["curve/SRG construction / L_DNC"] = np.full_like(ratio, srg)
    return arrays


def finish_cell(setting: Setting, outcome: CellOutcome) -> CellOutcome:
    """The cell's summary over its runs (best run, fractions below and at DNC), added to each."""
    _cell_quantities(list(outcome.runs))
    return outcome


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train the runs of every setting (one bucket: equal outside RUN_FIELDS) as one compiled
    program, replay ``replay_steps`` engine steps from each in float64, measure each of this
    process's runs (``finish_cell`` adds each cell's summary). One CellOutcome per setting; its
    arrays the engine trajectory, the objective against the closed-form levels (``curve/...``)
    and the class-mean spectra ``sv/layer l`` (runs, K), NaN rows for diverged runs."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """This process's ``runs`` trained as one program, replayed and measured in float64."""
    first = settings[0]
    model, config, view = first.model(), first.config(), first.dufm_view()
    lrs, seeds = run_values(runs, "learning_rate", "seed")
    wds = cell_values(settings, runs, "weight_decay")
    data = _training_data(first)
    initial = init_runs(model, config, first.input_dim(), lrs, wds, seeds)
    trained = context.train(model, config, data, initial)
    replays = replay_orbit(model, config, trained.state, data, first.replay_steps, (lrs, wds), view)
    levels = {cell: _cell_levels(settings[cell]) for cell in {run.cell for run in runs}}
    outcomes = []
    per_run = split_arrays(trained.trajectory, len(runs))
    for position, (run, step) in enumerate(zip(runs, diverged_steps(trained.trajectory))):
        setting = settings[run.cell]
        arrays = per_run[position] | _run_arrays(levels[run.cell], per_run[position]["objective"])
        if step is not None:
            outcomes.append(RunOutcome(None, step, arrays))
            continue
        weights = dufm_params(model, _run_params(trained.state.params, position), data.x)
        replay = tuple(float(v[position]) for v in replays)
        q, spectra = _run_quantities(
            setting, view, weights, int(seeds[position]), float(lrs[position]), replay
        )
        outcomes.append(RunOutcome(q, None, arrays | spectra))
    return outcomes


def _training_data(setting: Setting) -> TrainData:
    """The DUFM's identity inputs, or the class-balanced images of the setting's dataset, in
    class-major order (sample i in class i // n), with their labels."""
    labels = class_labels(setting.num_classes, setting.n_per_class)
    if setting.backbone == "dufm":
        return make_data(ufm_inputs(setting.num_samples), labels, setting.num_classes)
    ds = load_dataset(setting.dataset, data_dir=setting.data_dir, n_per_class=setting.n_per_class)
    if not np.array_equal(ds.y, labels):
        raise ValueError(
            "the balanced subset must be ordered by class (nc_jax.data.balanced_subset)"
        )
    return make_data(ds.x, ds.y, setting.num_classes)


def _cell_levels(setting: Setting) -> dict[str, float]:
    """L_DNC and L_SRG (NaN when undefined) of a setting, closed forms."""
    lambda_w = setting.weight_decay
    lambda_h = lambda_w * setting.feature_decay_ratio
    k, n, depth = setting.num_classes, setting.n_per_class, setting.depth
    return {
        "L_DNC": dnc_loss(k, n, depth, lambda_h, lambda_w).loss,
        "L_SRG": srg_loss(k, n, depth, lambda_h, lambda_w),
    }


def _run_params(params, position: int):
    """Run ``position`` of batched parameters, as float64 NumPy arrays."""
    return jax.tree_util.tree_map(lambda leaf: np.asarray(leaf[position], np.float64), params)
