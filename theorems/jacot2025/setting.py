"""The setting of Jacot, Sukenik, Wang, Mondelli (ICLR 2025) and the function that trains and
measures its runs (the paper's part of the nc_jax.checks contract).

The standard setting (``nc-jax check jacot2025``): a class-balanced subset of the embedded MNIST
sample (mnist5k, real MNIST images shipped in a registry package); an MLP with a wide first
layer, L1 = 2 ReLU layers and an L2 = 3 bias-free linear head; summed MSE + coupled weight
decay, plain full-batch GD; several seeds (and learning rates) vmapped in one compiled program.
Every quantity is measured in float64 by theorems.jacot2025.measure: Theorem 3.1 and Section 5
on the final parameters, Section 4 by replaying ``replay_steps`` further engine steps from each
trained state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax import metrics
from nc_jax.checks import CellOutcome, SettingError, check_dataset, check_log_spacing, check_steps
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    diverged_steps,
    learning_rate_seed_runs,
    run_bucket,
    split_arrays,
)
from nc_jax.checks.fields import Rule, at_least, checked, each, one_of, positive, validate_fields
from nc_jax.data import DATASET_CLASSES, IMAGE_SHAPES, INPUT_DIMS, Dataset, load_dataset
from nc_jax.models import MLP, ResNet
from nc_jax.models.activations import get_activation
from nc_jax.train import RunState, TrainConfig, cast_runs, init_runs, make_data, run_mesh
from theorems.jacot2025 import measure

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext

BACKBONES = ("mlp", "resnet20")
PRECISIONS = {"float32": jnp.float32, "float64": jnp.float64}  # the training arithmetic
# the in-loop metrics something reads: plots (nc_jax.plots), the balancing curves, experiments
LOGGED_METRICS = (
    "nc1_trace_ratio",
    "nc2_kappa",
    "balancedness",
    "relative_balancedness",
    "negativity",
)


def _names_an_activation(name: Any) -> bool:
    try:
        get_activation(name)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


# the single-field rules the library's one_of, at_least, ... do not spell
STAGE_CHANNELS = Rule(
    "three positive stage channel counts",
    lambda v: each(at_least(1)).test(v) and len(v) == 3,
)
WIDTHS = Rule(
    f"a non-empty list of widths >= 1 ending in K = {DATASET_CLASSES}",
    lambda v: each(at_least(1)).test(v) and v[-1] == DATASET_CLASSES,
)
ACTIVATION = Rule(
    "one of relu, tanh, gelu, smooth, smooth:<gamma> (0 < gamma < 1)", _names_an_activation
)


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: the standard check, about a minute on 2 CPU cores).

    Normalisation (docs/theory/jacot2025.md, "Notation and conventions"): the loss is the summed
    squared error 1/2 ||Z_L - Y||_F^2 (not the mean over N) plus lambda/2 ||theta||^2 (coupled
    weight decay, every layer), the objective Theorem 3.1 and Section 4 analyse. lambda = 2.0 at
    N = 200 is lambda / N = 0.01 per sample; a mean loss 1/(2N) ||Z_L - Y||_F^2 has the same
    minimisers with weight decay lambda / N, and its learning rate is N times this one.
    The learning rate: on MNIST none of 32 seeds diverged at 1.5e-4 or 2e-4 (1000 steps); on
    digits, over 32 seeds, 0 diverged at 1.5e-4 (8000 steps), 1 at 2e-4, 5 at 2.5e-4, 7 at
    3e-4, 17 at 3.5e-4 (5000 steps), always within the first 250 steps
    (experiments/learning_rate.py). The regime: at lambda = 2.0 training balances the head in
    minutes (eta lambda t = 2.4, eps2 ~ 0.03 from ~4 at initialisation) and fits moderately
    (eps1 ~ 0.31 s_K(Y) on MNIST, 0.55 on digits); Section 4's condition (11) asks for
    lambda ~ 1e-3 here, where balancing takes ~10^7 steps, so ``sec4.interpolation`` is
    vacuous by design.

    Attributes:
        dataset: the training data (mnist5k, real MNIST images, the default; digits and
            gaussian are embedded too; mnist, fashion_mnist and cifar10 are read from
            --data-dir).
        backbone: "mlp" (the network is the MLP of ``widths``) or "resnet20" (ResNet20 without
            normalisation on the images, then an MLP head of ``widths`` whose last num_linear
            layers are linear: the paper's Figure 5 in kind; the head may be linear
            throughout).
        backbone_widths: the channels of the resnet20 backbone's three stages (ResNet20:
            16, 32, 64; smaller values make a narrower ResNet20 of the same depth, as the
            CPU-sized Figure 5 uses). Ignored by the mlp backbone.
        data_dir: directory with the files of mnist, fashion_mnist or cifar10.
        standardize: standardise every input feature over the N samples (the MLP experiments);
            false keeps the pixels in [0, 1], what the resnet20 grids use: a pixel lit in one
            image of 100 standardises to about 10, which gave the unnormalised ResNet20 (widths
            8/16/32, 100 MNIST images) an initial loss of 15 instead of 1.1 per sample and made
            full-batch GD diverge at eta = 1e-4; on [0, 1] pixels it trains at 2e-4.
        n_per_class: samples per class of the class-balanced training subset (N = K n).
        widths: layer widths n_1..n_L, the last one K (n_1 >= N: Assumption 4.1's wide layer);
            with the resnet20 backbone, the head's widths.
        activation: the activation of the MLP's non-linear layers: relu (the paper's
            experiments), tanh, gelu, smooth or smooth:<gamma>. Only smooth meets Section 4's
            Assumption 4.2 (sigma' in [gamma, 1]), which ``sec4.interpolation`` needs. The
            resnet20 backbone is ReLU whatever this says.
        num_linear: L2, the depth of the bias-free linear head (Theorem 3.1 and Section 5
            need L2 >= 2; at L2 = 1, the paper's Figure 2 baseline, their checks are vacuous
            and the pair quantities eps2, eps2_last are NaN).
        steps: full-batch GD steps (a multiple of log_every).
        log_every: steps between two logged measurements of the engine.
        log_spacing: "linear" (a log every log_every steps) or "geometric" (at most 100 logs
            spread geometrically from log_every to steps: long runs read on log axes, at a
            fraction of the logging cost).
        learning_rates: the learning rates; every one is trained with every seed.
        lr_warmup_steps: a linear warm-up of the learning rate over the first steps (0: none),
            the way to a rate near 2 / lambda_max(Hessian) of the solution (the edge of
            stability) that would diverge from the start; Section 4's recursion and balancing
            claim assume a constant rate and are vacuous with one, and the balancing horizon
            counts the steps at full rate, steps - (lr_warmup_steps - 1) / 2.
        weight_decay: lambda of the coupled weight decay (lambda/2 ||theta||^2 in the objective).
        seeds: initialisation seeds; every one is trained with every learning rate.
        replay_steps: engine steps replayed in float64 from the trained state (Section 4).
        log_metrics: measure the layer-wise metrics inside the training loop at every log (the
            trajectories of the plots); false saves about 5 s of compilation per compiled
            program (two programs carry the metrics) and leaves losses and accuracy logged.
        log_metric_names: the layer-wise metrics logged (nc_jax.metrics.NETWORK_METRICS); the
            default is what the checks, plots and experiments read (NC1 trace ratio, NC2 kappa,
            balancedness and its relative form, negativity): the others, the spectral ones
            above all, cost in-loop time that nothing reads.
        ntk_iterations: the most Lanczos iterations for lambda_max of the NTK (one JVP and one
            VJP each) and of the objective's Hessian (one Hessian-vector product each); an
            estimate that has not converged makes the Section 5.2 checks vacuous.
        precision: the arithmetic of training, "float32" or "float64" (about twice the time
            and memory on a CPU; tells rounding floors, e.g. of eps2, from the dynamics). Both
            start from the same float32 initial draw; measurement is float64 either way.
    """

    dataset: str = "mnist5k"
    backbone: str = checked("mlp", one_of(BACKBONES))
    backbone_widths: tuple[int, ...] = checked((16, 32, 64), STAGE_CHANNELS)
    data_dir: str | None = None
    standardize: bool = True
    n_per_class: int = checked(20, at_least(1))
    widths: tuple[int, ...] = checked((256, 64, 64, 64, 10), WIDTHS)
    num_linear: int = checked(3, at_least(1))
    activation: str = checked("relu", ACTIVATION)
    steps: int = 8000
    log_every: int = 400
    log_spacing: str = "linear"
    learning_rates: tuple[float, ...] = checked((1.5e-4,), each(positive()))
    lr_warmup_steps: int = checked(0, at_least(0))
    weight_decay: float = checked(2.0, at_least(0.0))
    seeds: tuple[int, ...] = checked((0, 1, 2, 3, 4, 5, 6, 7), each(at_least(0)))
    replay_steps: int = checked(500, at_least(1))
    log_metrics: bool = True
    log_metric_names: tuple[str, ...] = checked(
        LOGGED_METRICS, each(one_of(metrics.NETWORK_METRICS))
    )
    ntk_iterations: int = checked(500, at_least(1))
    precision: str = checked("float32", one_of(tuple(PRECISIONS)))

    # steps too: cells that differ only in their length are one training measured at each length
    RUN_FIELDS = ("learning_rates", "weight_decay", "seeds", "steps")

    def __post_init__(self) -> None:
        validate_fields(self)
        images_for = ("backbone", self.backbone) if self.backbone == "resnet20" else None
        check_dataset(self.dataset, self.data_dir, images_for=images_for)
        fewest = 2 if self.backbone == "mlp" else 1  # a backbone feeds the head
        if len(self.widths) < fewest:
            raise SettingError(
                "widths", f"needs at least {fewest} widths with backbone {self.backbone}"
            )
        room = len(self.widths) - (1 if self.backbone == "mlp" else 0)
        if self.num_linear > room:
            raise SettingError(
                "num_linear",
                f"must be at most {room} (the {len(self.widths)} widths"
                + (", one of them non-linear" if self.backbone == "mlp" else "")
                + f"); got {self.num_linear}",
            )
        check_steps(self.steps, self.log_every)
        check_log_spacing(self.log_spacing)
        if self.lr_warmup_steps > self.steps:
            raise SettingError(
                "lr_warmup_steps",
                f"must be in [0, steps = {self.steps}], got {self.lr_warmup_steps}",
            )

    def model(self) -> MLP | ResNet:
        head = MLP(tuple(self.widths), num_linear=self.num_linear, activation=self.activation)
        if self.backbone == "mlp":
            return head
        return ResNet(
            image_shape=IMAGE_SHAPES[self.dataset], widths=tuple(self.backbone_widths), head=head
        )

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            log_spacing=self.log_spacing,
            reduction="sum",
            metrics=self.log_metrics,
            metric_names=self.log_metric_names,
            lr_warmup_steps=self.lr_warmup_steps,
        )

    def runs(self) -> list[RunSpec]:
        """One run per (learning rate, seed), learning rate major, trained under the key
        (learning rate, seed, weight decay): cells that differ only in ``steps`` share it."""
        return [
            dataclasses.replace(
                spec,
                key=(spec.params["learning_rate"], spec.params["seed"], self.weight_decay),
            )
            for spec in learning_rate_seed_runs(self.learning_rates, self.seeds)
        ]

    def num_parameters(self) -> int:
        """Weights of the network (biases left out)."""
        return self.model().num_weights(self.input_dim())

    def cost(self) -> float:
        """Training FLOPs of one run: 6 N (multiply-adds per sample) per step (forward and
        backward; N P for an MLP)."""
        multiply_adds = self.model().multiply_adds_per_sample(self.input_dim())
        return 6.0 * self.n_per_class * DATASET_CLASSES * multiply_adds * self.steps

    def memory(self) -> float:
        """Bytes one run holds while training: parameters, gradients and the update, the
        activations of the forward and backward pass, a per-run copy of the inputs."""
        num_samples = self.n_per_class * DATASET_CLASSES
        activations = num_samples * self.model().activations_per_sample()
        values = 3 * self.num_parameters() + activations + num_samples * self.input_dim()
        return float(np.dtype(PRECISIONS[self.precision]).itemsize * values)

    def input_dim(self) -> int:
        """D of the dataset (without loading it for the embedded ones)."""
        return INPUT_DIMS[self.dataset]


def _runs_state64(state: Any, positions: np.ndarray, replace: np.ndarray, initial: Any) -> Any:
    """Runs ``positions`` of a batched pytree (a RunState, parameters) with float leaves in
    float64 (call under x64), the runs flagged in ``replace`` (R,) taken from ``initial`` (the
    same structure) instead: a diverged run, measured on finite values so that the batch keeps
    its shape, and its quantities dropped."""

    def take(leaf, start):
        value = np.asarray(leaf)[positions]
        if replace.any():
            mask = replace.reshape((-1,) + (1,) * (value.ndim - 1))
            value = np.where(mask, np.asarray(start)[positions], value)
        if np.issubdtype(value.dtype, np.floating):
            value = value.astype(np.float64)  # on the host: no conversion program to compile
        return jnp.asarray(value)

    return jax.tree_util.tree_map(take, state, initial)


def measure_runs(
    setting: Setting,
    state: RunState,
    initial: RunState,
    positions: np.ndarray,
    weight_decays: np.ndarray,
    diverged: np.ndarray,
    dataset: Dataset,
    devices: Sequence[Any],
) -> list[dict[str, float]]:
    """Every quantity of the trained runs ``positions`` of ``state`` (float64), measured as one
    batch (theorems.jacot2025.measure.measure_runs, sharded over ``devices``): Theorem 3.1 on
    their final parameters, Section 4's hypotheses on their ``initial`` parameters, the
    Section 4 replay of ``replay_steps`` further engine steps from their final state, the
    Section 5 gradient balance and NTK. ``setting`` gives what the runs share (every field but
    the learning rate, seed and weight decay, whose values ``weight_decays`` (R,) are); the
    runs flagged ``diverged`` (R,) are measured on their initial state and their quantities
    are to be dropped. One dict per position."""
    model, config = setting.model(), setting.config()
    x, y, num_classes = dataset.x, dataset.y, dataset.num_classes
    with jax.enable_x64(True):
        # lambda as the cell gives it: a float32 state holds fl32(lambda), about 1e-8 off
        runs = _runs_state64(state, positions, diverged, initial)._replace(
            weight_decay=jnp.asarray(weight_decays, jnp.float64)
        )
        start = _runs_state64(initial.params, positions, diverged, initial.params)
        data = make_data(x, y, num_classes, dtype=jnp.float64)
        # sharded over accelerators; on a CPU one device (XLA's CPU runtime already spreads its
        # products over the cores, and this program sharded over CPU devices was seen to hang
        # with two runs or more per device, jax 0.10.2)
        cpu = devices[0].platform == "cpu"
        mesh = None if cpu else run_mesh(len(positions), devices)
        batched = measure.measure_runs(
            model, config, runs, start, data, setting.replay_steps, setting.ntk_iterations, mesh
        )
        roundoff = float(jnp.finfo(PRECISIONS[setting.precision]).eps / 2)
    scale = 1.0 if config.reduction == "sum" else 1.0 / x.shape[0]
    common = {
        "gd_coupled": float(plain_gd_with_coupled_decay(config)),
        "steps": setting.steps,
        "decay_steps": setting.steps - max(setting.lr_warmup_steps - 1, 0) / 2,
        "unit_roundoff": roundoff,
    }
    measured = []
    for index in range(len(positions)):
        quantities = {name: values[index].item() for name, values in batched.items()}
        lr = float(np.asarray(runs.learning_rate)[index])
        quantities.update(
            common, eta=lr, step_scale=lr * scale, weight_decay=float(weight_decays[index])
        )
        quantities["stability_product"] = quantities["step_scale"] * quantities["ntk_lambda_max"]
        measured.append(quantities)
    return measured


def plain_gd_with_coupled_decay(config: TrainConfig) -> bool:
    """The update Section 4's recursion is exact for: full-batch GD, constant learning rate,
    weight decay in the objective (no momentum, Adam, minibatches, learning-rate drop or
    warm-up, decoupled decay)."""
    return (
        config.optimizer == "gd"
        and config.weight_decay_mode == "l2"
        and config.batch_size is None
        and config.lr_drop_at is None
        and config.lr_warmup_steps == 0
    )


def class_mean_cosines(
    model: MLP | ResNet, params: Any, x: jax.Array, y: jax.Array, num_classes: int, first: int
) -> dict[str, np.ndarray]:
    """The class-mean matrices of the paper's Figure 1 (bottom): for Z_{L1} (the head's input)
    and the output of every head layer, the K x K cosines <mu_i, mu_j> / (|mu_i| |mu_j|) of the
    uncentred class means (the identity for an orthogonal frame, NC2), per run:
    ``gram/layer <l>`` (R, K, K), l = L1..L, 1-based. ``params`` carry the run axis."""

    def one(run_params):
        _, layers = model.apply(run_params, x)
        out = []
        for features in layers.features[first - 1 :]:
            out.append(metrics.row_cosines(metrics.class_stats(features, y, num_classes).means))
        return out

    grams = jax.jit(jax.vmap(one))(params)
    return {f"gram/layer {first + i}": np.asarray(g) for i, g in enumerate(grams)}


def balancing_curves(
    trajectory: dict[str, np.ndarray], first: int, learning_rates: np.ndarray, decays: np.ndarray
) -> dict[str, np.ndarray]:
    """eps2 along training from initialisation (the engine's logged balancedness of the head
    pairs, float32, max over pairs) and the weight-decay envelope (1 - eta lambda)^(2t) eps2(0)
    it follows in Section 4's balancing phase, each (R, logs) as ``curve/...``; empty when the
    layer metrics were not logged or the head has no pair, L2 = 1 (docs/theory/jacot2025.md,
    the balancing claim)."""
    if "layer/balancedness" not in trajectory:
        return {}
    pairs = np.asarray(trajectory["layer/balancedness"])[:, :, first:-1]
    if pairs.shape[2] == 0:  # a head of one layer has no pair (L2 = 1)
        return {}
    eps2 = pairs.max(axis=2)
    contraction = (1 - learning_rates * decays)[:, None] ** 2
    envelope = eps2[:, :1] * contraction ** np.asarray(trajectory["step"])
    return {"curve/eps2 (engine logs)": eps2, "curve/(1-eta lambda)^(2t) eps2(0)": envelope}


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train the runs of every setting (one bucket: equal outside RUN_FIELDS) as one compiled
    program, then measure each of this process's runs in float64. One CellOutcome per setting,
    its arrays the engine trajectory, eps2 along training against the weight-decay envelope
    (``curve/...``) and the class-mean cosine matrices of the head (``gram/...``).

    Cells that differ only in ``steps`` share their runs (``Setting.runs``' training key): a
    run (learning rate, seed, weight decay) is trained once, to the longest length, and
    measured at every cell's length (``TrainContext.train_to``), so a training-time axis costs
    one training."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """This process's ``runs`` trained once per training key and measured at their cell's
    length."""
    first = settings[0]
    ds = load_dataset(
        first.dataset,
        data_dir=first.data_dir,
        n_per_class=first.n_per_class,
        standardize=first.standardize,
    )
    model, config = first.model(), first.config()
    distinct = list(dict.fromkeys(run.key for run in runs))  # (learning rate, seed, decay)
    position_of = {key: position for position, key in enumerate(distinct)}
    lrs, seeds, wds = (np.array(column) for column in zip(*distinct))
    first_linear = model.num_nonlinear  # L1 in the Layers record, a backbone's stages included
    # every precision starts from the same (float32) draw, so precisions differ by rounding only
    drawn = init_runs(model, config, ds.x.shape[1], lrs, wds, seeds)
    with jax.enable_x64(first.precision == "float64"):
        dtype = PRECISIONS[first.precision]
        data = make_data(ds.x, ds.y, ds.num_classes, dtype=dtype)
        initial = cast_runs(drawn, dtype, lrs, wds)
        lengths = sorted({settings[run.cell].steps for run in runs})
        reached = context.train_to(model, config, data, initial, lengths)
        per_run = {
            steps: split_arrays(
                result.trajectory
                | class_mean_cosines(
                    model, result.state.params, data.x, data.y, ds.num_classes, first_linear
                )
                | balancing_curves(result.trajectory, first_linear, lrs, wds),
                len(distinct),
            )
            for steps, result in reached.items()
        }
    diverged = {steps: diverged_steps(result.trajectory) for steps, result in reached.items()}
    measured: dict[tuple[int, int], dict[str, float]] = {}
    for steps, result in reached.items():  # every run of one length measured as one batch
        positions = np.array(
            sorted({position_of[r.key] for r in runs if settings[r.cell].steps == steps})
        )
        flagged = np.array([diverged[steps][p] is not None for p in positions])
        batch = measure_runs(
            _at_length(settings, steps),
            result.state,
            initial,
            positions,
            wds[positions],
            flagged,
            ds,
            context.devices,
        )
        measured |= {(steps, int(p)): q for p, q in zip(positions, batch)}
    outcomes = []
    for run in runs:
        setting, position = settings[run.cell], position_of[run.key]
        step = diverged[setting.steps][position]
        quantities = None if step is not None else measured[(setting.steps, position)]
        outcomes.append(RunOutcome(quantities, step, per_run[setting.steps][position]))
    return outcomes


def _at_length(settings: Sequence[Setting], steps: int) -> Setting:
    """A setting of the bucket trained for ``steps`` steps."""
    return next(setting for setting in settings if setting.steps == steps)
