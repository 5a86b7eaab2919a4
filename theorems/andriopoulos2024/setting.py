"""The setting of Andriopoulos, Dong, Guo, Zhao, Ross (NeurIPS 2024) and the function that
trains and measures its runs (the paper's part of the nc_jax.checks contract).

One cell trains two kinds of network on the same prepared targets (data.py):

- MLPs, one per (weight decay, seed): ReLU layers of ``widths`` (with biases) and a linear
  output layer with bias, the mean squared error (1/(2M)) ||f(X) - Y||_F^2 (the engine's "mse"
  with ``reduction="mean"``) plus lambda/2 ||theta||^2 on every parameter, biases included
  (coupled weight decay, as PyTorch's SGD ``weight_decay``), trained by full-batch GD with
  momentum (default) or plain GD / SGD (``batch_size``);
- the regression UFM of docs/theory/andriopoulos2024.md, one per ``ufm_seeds`` entry: free features
  H (M, d), weight W (n, d) and bias b, trained by full-batch GD on
  (1/(2M)) ||H W^T + 1 b^T - Y||_F^2 + lambda_H/(2M) ||H||_F^2 + lambda_W/2 ||W||_F^2.
  Mapping onto the engine's per-group decay (nc_jax.models.ufm.UFM): ``weight_decay`` =
  lambda_W, ``feature_decay_scale`` = lambda_H / (M lambda_W) (C3 divides lambda_H ||H||^2 by
  M but not lambda_W ||W||^2), ``bias_decay_scale`` = 0 (b is not regularised).

Every quantity is measured in float64 by measure.py on the final parameters (and the MLP's
initial ones, for reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks import CellOutcome, SettingError, check_steps, complete_quantities
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    diverged_steps,
    run_bucket,
    run_values,
)
from nc_jax.checks.fields import at_least, checked, each, one_of, or_none, positive, validate_fields
from nc_jax.models import MLP
from nc_jax.models.ufm import UFM, ufm_inputs
from nc_jax.train import TrainConfig, TrainResult, init_runs, make_regression_data
from theorems.andriopoulos2024 import measure
from theorems.andriopoulos2024.bounds import THEOREMS
from theorems.andriopoulos2024.data import DATASETS, RegressionSet, load

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext

OPTIMIZERS = ("momentum", "gd")
MOMENTUM = 0.9  # the engine's momentum coefficient (TrainConfig default)
UFM_INIT_SCALE = 0.1  # H ~ N(0, 0.01), W ~ N(0, 0.01 / d): a small start, then GD
DIGITS_SAMPLES = 1797


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: the standard check, about a minute on 2 CPU cores).

    The default: M = 256 digits-completion samples (data.py), MLPs 32-64-64-64-4 with weight
    decays 0, 0.01 and 0.03, two seeds each, 6000 steps of full-batch GD with momentum 0.9 at
    learning rate 0.01 (eta lambda T / (1 - 0.9) = 6 and 18 e-folds of decay); two regression
    UFMs with d = 16, lambda_H = 4, lambda_W = 0.015 (c = 0.06, inside (0, lambda_min) = (0,
    0.12) for these targets), 4000 GD steps at learning rate 1. The paper's MuJoCo runs (three
    ReLU layers of 256, SGD at 1e-2 with batches of 256, weight decay 0 to 1e-2) are
    ``--dataset d4rl --data-file FILE --widths 256,256,256 --optimizer gd --batch-size 256``
    (docs/theory/andriopoulos2024.md).

    Attributes:
        dataset: "digits" (embedded: top half of the 8x8 digits -> 4 block means of the bottom
            half) or "d4rl" (observations -> actions of a D4RL HDF5 file, --data-file).
        data_file: the D4RL HDF5 file (dataset d4rl only).
        num_samples: M, the training samples (a fixed random subset).
        widths: widths of the ReLU layers; the linear output layer has n (the targets) units
            and reads the last of them (d = widths[-1] >= n).
        optimizer: "momentum" (full-batch GD with momentum 0.9) or "gd" (plain GD; SGD with
            --batch-size, as the paper).
        batch_size: minibatch size of SGD (none: full batch).
        learning_rate: the MLPs' learning rate.
        weight_decays: the MLPs' weight decays lambda (0 = none); every one with every seed.
        seeds: the MLPs' initialisation (and data order) seeds.
        steps: MLP training steps (a multiple of log_every).
        log_every: steps between two logged losses of the MLPs.
        ufm_seeds: one regression UFM per seed (empty: none).
        ufm_lambda_h: lambda_H of the UFM (C3: lambda_H/(2M) ||H||^2).
        ufm_lambda_w: lambda_W of the UFM (lambda_W/2 ||W||^2).
        ufm_width: d, the UFM's feature dimension (>= n).
        ufm_steps: full-batch GD steps of the UFM.
        ufm_learning_rate: the UFM's learning rate.
        nrc3_gamma: how NRC3's gamma is chosen: "exact" (the minimum over [0, lambda_min],
            closed form) or "grid" (the best of nrc3_grid_points equally spaced values).
        nrc3_grid_points: gamma values of the "grid" choice (the authors' code: 1000).
    """

    dataset: str = checked("digits", one_of(DATASETS))
    data_file: str | None = None
    num_samples: int = checked(256, at_least(2))
    widths: tuple[int, ...] = checked((64, 64, 64), each(at_least(1)))
    optimizer: str = checked("momentum", one_of(OPTIMIZERS))
    batch_size: int | None = checked(None, or_none(at_least(1)))
    learning_rate: float = checked(0.01, positive())
    weight_decays: tuple[float, ...] = checked((0.0, 0.01, 0.03), each(at_least(0.0)))
    seeds: tuple[int, ...] = checked((0, 1), each(at_least(0)))
    steps: int = 6000
    log_every: int = 600
    ufm_seeds: tuple[int, ...] = (0, 1)
    ufm_lambda_h: float = checked(4.0, positive())
    ufm_lambda_w: float = checked(0.015, positive())
    ufm_width: int = checked(16, at_least(1))
    ufm_steps: int = checked(4000, at_least(1))
    ufm_learning_rate: float = checked(1.0, positive())
    nrc3_gamma: str = checked("exact", one_of(measure.GAMMA_CHOICES))
    nrc3_grid_points: int = checked(1000, at_least(2))

    RUN_FIELDS = ("learning_rate", "weight_decays", "seeds", "ufm_seeds")

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.dataset == "d4rl" and self.data_file is None:
            raise SettingError("data_file", "dataset d4rl reads a D4RL HDF5 file: pass its path")
        if self.dataset != "d4rl" and self.data_file is not None:
            raise SettingError("data_file", f"{self.dataset} is embedded and reads no file")
        if self.dataset == "digits" and self.num_samples > DIGITS_SAMPLES:
            raise SettingError(
                "num_samples", f"must be <= {DIGITS_SAMPLES} for digits, got {self.num_samples}"
            )
        if self.batch_size is not None and self.batch_size > self.num_samples:
            raise SettingError(
                "batch_size", f"must lie in [1, num_samples = {self.num_samples}] or be none"
            )
        check_steps(self.steps, self.log_every)

    def model(self, num_targets: int) -> MLP:
        """The MLP: ReLU layers of ``widths`` with biases, a linear output of ``num_targets``."""
        return MLP((*self.widths, num_targets), num_linear=1, bias=True, head_bias=True)

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            loss="mse",
            reduction="mean",
            optimizer=self.optimizer,
            momentum=MOMENTUM,
            batch_size=self.batch_size,
            metrics=False,  # the in-loop class metrics need labels; regression has none
        )

    def ufm(self, num_targets: int) -> UFM:
        """The regression UFM with C3's regularisers mapped onto the engine's decay groups."""
        return UFM(
            self.num_samples,
            self.ufm_width,
            num_targets,
            bias=True,
            init_scale=UFM_INIT_SCALE,
            feature_decay_scale=self.ufm_lambda_h / (self.num_samples * self.ufm_lambda_w),
            bias_decay_scale=0.0,
        )

    def ufm_config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.ufm_steps, log_every=self.ufm_steps, reduction="mean", metrics=False
        )

    def decay_efolds(self, weight_decay: float) -> float:
        """eta lambda T / (1 - momentum): e-folds by which the decay alone shrinks a weight."""
        beta = MOMENTUM if self.optimizer == "momentum" else 0.0
        return self.learning_rate * weight_decay * self.steps / (1.0 - beta)

    def runs(self) -> list[RunSpec]:
        """The MLP runs, one per (weight decay, seed), weight decay major, then the UFM runs,
        one per UFM seed (at lambda_W = ufm_lambda_w)."""
        grid = [("mlp", wd, seed) for wd in self.weight_decays for seed in self.seeds]
        grid += [("ufm", self.ufm_lambda_w, seed) for seed in self.ufm_seeds]
        return [
            RunSpec(
                f"{kind} wd={wd:g} seed={seed}",
                {"model": kind, "weight_decay": float(wd), "seed": int(seed)},
            )
            for kind, wd, seed in grid
        ]

    def cost(self) -> float:
        """Training FLOPs of one run (an MLP's: 6 x multiply-adds per sample x samples per
        step x steps)."""
        per_sample = self.model(1).multiply_adds_per_sample(self.input_dim())
        batch = self.batch_size or self.num_samples
        return 6.0 * per_sample * batch * self.steps

    def input_dim(self) -> int:
        """D: 32 pixels for digits; a D4RL file's observation size is only known once read."""
        return 32 if self.dataset == "digits" else 1


def _params_of(state_params: Any, index: int) -> Any:
    return jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf[index], jnp.float64), state_params)


def _nrc_values(
    setting: Setting, model: MLP, params: Any, data: RegressionSet, grid_points: int
) -> tuple[dict[str, float], jax.Array, jax.Array]:
    """The NRC quantities of an MLP at ``params`` (features and last weight; NRC3's gamma on
    ``grid_points``), with that weight W and the output."""
    h, w, output = measure.mlp_parts(model, params, jnp.asarray(data.x))
    values = measure.feature_quantities(h, w)
    values |= measure.weight_quantities(w, data.targets, setting.nrc3_gamma, grid_points)
    return values, w, output


def _mlp_quantities(
    setting: Setting,
    model: MLP,
    final: Any,
    initial: Any,
    before: Any,
    data: RegressionSet,
) -> dict[str, float]:
    """The MLP's quantities at the end of training, ``<name>_init`` at initialisation and
    ``<name>_settling``, the NRC values SETTLING_WINDOW of training before the end (NaN when
    ``before`` is None)."""
    q, w, output = _nrc_values(setting, model, final, data, setting.nrc3_grid_points)
    q |= measure.fit_quantities(output, data.targets)
    start, _, _ = _nrc_values(setting, model, initial, data, 2)
    names = ("nrc1_c", "nrc2_c", "nrc3")
    q |= {f"{k}_init": start[k] for k in names}
    earlier = (
        {}
        if before is None
        else _nrc_values(setting, model, before, data, setting.nrc3_grid_points)[0]
    )
    q |= {f"{k}_settling": earlier.get(k, float("nan")) for k in names}
    return q | {"is_ufm": 0.0, "n": float(w.shape[0]), "d": float(w.shape[1])}


def _ufm_quantities(setting: Setting, model: UFM, final: Any, data: RegressionSet):
    x = ufm_inputs(setting.num_samples, jnp.float64)
    output, layers = jax.jit(model.apply)(final, x)
    h, w = np.asarray(layers.features[0]), np.asarray(layers.weights[1])
    lambda_h, lambda_w = setting.ufm_lambda_h, setting.ufm_lambda_w
    q = measure.feature_quantities(h, w)
    q |= measure.weight_quantities(w, data.targets, setting.nrc3_gamma, setting.nrc3_grid_points)
    q |= measure.fit_quantities(np.asarray(output), data.targets)
    q |= {
        "ufm_error": measure.ufm_closed_form_error(w, data.targets, lambda_h, lambda_w),
        "c": lambda_h * lambda_w,
        "is_ufm": 1.0,
        "n": float(w.shape[0]),
        "d": float(w.shape[1]),
    }
    return q


def _complete(quantities: dict[str, float], setting: Setting, run: PlannedRun) -> dict[str, float]:
    """Every run reports every quantity the checks read (NaN where it does not apply) and its
    training."""
    weight_decay = run.params["weight_decay"]
    efolds = (
        setting.decay_efolds(weight_decay)
        if run.params["model"] == "mlp"
        else setting.ufm_learning_rate * weight_decay * setting.ufm_steps
    )
    training = {"weight_decay": weight_decay, "decay_efolds": efolds}
    return complete_quantities(quantities | training, THEOREMS)


SETTLING_WINDOW = 0.2  # the MLP's NRC values are also measured this fraction before the end


def _settling_step(config: TrainConfig) -> int | None:
    """The logged step SETTLING_WINDOW of training before the end (None when no log falls
    strictly inside the run)."""
    step = int((1 - SETTLING_WINDOW) * config.steps) // config.log_every * config.log_every
    return step if 0 < step < config.steps else None


def _train_kind(
    runs: list[PlannedRun],
    model: Any,
    config: TrainConfig,
    data: Any,
    input_dim: int,
    learning_rate: float,
    context: TrainContext,
    settling: bool = False,
) -> tuple[TrainResult, Any, Any] | None:
    """Train ``runs`` (one kind) as one program: (result, initial state, the state at the
    settling step or None), or None if empty. ``settling``: one training stopped at
    ``_settling_step`` too (TrainContext.train_to), for the NRC claims' settled hypothesis."""
    if not runs:
        return None
    wds, seeds = run_values(runs, "weight_decay", "seed")
    initial = init_runs(model, config, input_dim, learning_rate, wds, seeds)
    earlier = _settling_step(config) if settling else None
    if earlier is None:
        return context.train(model, config, data, initial), initial, None
    reached = context.train_to(model, config, data, initial, [earlier, config.steps])
    return reached[config.steps], initial, reached[earlier].state


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train the MLP runs of every setting (one bucket) as one compiled program and its UFM
    runs as another, then measure each of this process's runs in float64. One CellOutcome per
    setting; its arrays the MLPs' logged training loss (``curve/training loss (MLP)`` against
    ``step``; NaN rows for the UFM runs, which log once)."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """This process's MLP runs and UFM runs, each kind trained as one program, measured in
    float64."""
    first = settings[0]
    data = load(first.dataset, first.num_samples, first.data_file)
    n = data.targets.shape[1]
    kinds = {
        kind: [i for i, r in enumerate(runs) if r.params["model"] == kind]
        for kind in ("mlp", "ufm")
    }
    if kinds["ufm"] and n < 2:
        raise ValueError(
            f"the regression UFM needs n >= 2 targets, {data.name} has {n}: pass --ufm-seeds ''"
        )
    models = {"mlp": first.model(n), "ufm": first.ufm(n)}
    mlp_data = make_regression_data(data.x, data.targets)
    ufm_data = make_regression_data(ufm_inputs(first.num_samples), data.targets)
    trained = {
        "mlp": _train_kind(
            [runs[i] for i in kinds["mlp"]],
            models["mlp"],
            first.config(),
            mlp_data,
            data.x.shape[1],
            first.learning_rate,
            context,
            settling=True,
        ),
        "ufm": _train_kind(
            [runs[i] for i in kinds["ufm"]],
            models["ufm"],
            first.ufm_config(),
            ufm_data,
            first.num_samples,
            first.ufm_learning_rate,
            context,
        ),
    }
    outcomes: list[RunOutcome] = [RunOutcome(None)] * len(runs)
    with jax.enable_x64(True):
        for kind, members in kinds.items():
            if trained[kind] is None:
                continue
            result, initial, settling = trained[kind]
            diverged = diverged_steps(result.trajectory)
            for position, index in enumerate(members):
                arrays = {} if kind == "ufm" else _loss_curve(result, position)
                if diverged[position] is not None:
                    outcomes[index] = RunOutcome(None, diverged[position], arrays)
                    continue
                setting, final = (
                    settings[runs[index].cell],
                    _params_of(result.state.params, position),
                )
                if kind == "mlp":
                    start = _params_of(initial.params, position)
                    before = None if settling is None else _params_of(settling.params, position)
                    q = _mlp_quantities(setting, models[kind], final, start, before, data)
                else:
                    q = _ufm_quantities(setting, models[kind], final, data)
                outcomes[index] = RunOutcome(_complete(q, setting, runs[index]), None, arrays)
    return outcomes


def _loss_curve(result: TrainResult, position: int) -> dict[str, np.ndarray]:
    """An MLP run's logged training loss and its steps, (logs,) each."""
    return {
        "curve/training loss (MLP)": np.asarray(result.trajectory["loss"][position], np.float64),
        "step": np.asarray(result.trajectory["step"][position]),
    }
