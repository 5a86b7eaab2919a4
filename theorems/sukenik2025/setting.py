"""The setting of Sukenik, Lampert, Mondelli (2025) and the function that trains and measures
its runs (docs/theory/sukenik2025.md).

The standard check (``nc-jax check sukenik2025``): a class-balanced subset of the embedded digits;
LayerNorm ResNets (L-RN1, nc_jax.models.ln_resnet) of width d = 32 at depths L = 1, 2, 4, 8;
the mean cross entropy plus lambda/2 ||theta||^2 on every parameter but the head bias (coupled
weight decay), full-batch training; several seeds. A *run* of this paper is one seed's depth
profile: the networks of every depth trained from that seed. All depths and seeds train as
runs of ONE compiled program (a network of the largest depth whose later blocks are switched
off, ``with_active_blocks``: exactly the shallower network). Every quantity is measured in
float64 on the genuine depth-L network (``sliced_blocks``).

``architecture="transformer"`` trains pre-LN transformers (nc_jax.models.transformer, the
paper's other architecture) the same way: model_dim d = ``width``, a final LN without affine
parameters, mean pooling and the same one-layer head with an unregularised bias. What differs
is behind ``Setting.model``, ``GATING`` and ``Setting.ball_features`` (the features of the
transformer are only guaranteed to lie in the mean-zero ball of radius sqrt(d), the LN-ResNet's
on its sphere: docs/theory/sukenik2025.md, "Features in the ball").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks import CellOutcome, SettingError, check_dataset, check_log_spacing, check_steps
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    cell_values,
    diverged_steps,
    run_bucket,
    run_values,
)
from nc_jax.checks.fields import (
    Rule,
    at_least,
    checked,
    each,
    inside,
    one_of,
    or_none,
    positive,
    validate_fields,
)
from nc_jax.data import DATASET_CLASSES, INPUT_DIMS, Dataset, load_dataset
from nc_jax.models import ln_resnet, transformer
from nc_jax.models.base import Params
from nc_jax.models.ln_resnet import LNResNet
from nc_jax.models.mlp import MLP
from nc_jax.models.transformer import POOLS, Transformer
from nc_jax.train import OPTIMIZERS, TrainConfig, init_runs, make_data
from theorems.sukenik2025.closed_form import LOSSES, limit_optimum
from theorems.sukenik2025.measure import (
    METRICS,
    network_quantities,
    profile_quantities,
    with_pooled_trends,
)

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext

ARCHITECTURES: tuple[str, ...] = ("ln_resnet", "transformer")
# the single-field rules the library's one_of, at_least, ... do not spell
DEPTHS = Rule(
    "a non-empty increasing list without repeats, every value >= 1",
    lambda v: each(at_least(1)).test(v) and list(v) == sorted(set(v)),
)


class Gating(NamedTuple):
    """An architecture's helpers to train every depth in one program (the models' docstrings,
    "Gates"): ``with_active_blocks(params, k)`` switches off the blocks after the k-th (k may
    be traced), ``sliced_blocks(params, k)`` gives the genuine depth-k network's parameters."""

    with_active_blocks: Callable[[Params, Any], Params]
    sliced_blocks: Callable[[Params, int], Params]


GATING: dict[str, Gating] = {
    "ln_resnet": Gating(ln_resnet.with_active_blocks, ln_resnet.sliced_blocks),
    "transformer": Gating(transformer.with_active_blocks, transformer.sliced_blocks),
}


@dataclass(frozen=True)
class Setting:
    """The trained setting (defaults: the standard check, about a minute on 2 CPU cores).

    The defaults: lambda = 0.05 (at 0.01 the depth-1 network already comes within 20-35% of
    J* and optimisation noise hides the depth trend); full-batch GD at step size 0.2, cut to
    0.02 for the last quarter (0.5 without the cut, and heavy-ball momentum at 0.05, hop
    between objective values at the edge of stability, so the final states differ at random);
    blocks initialised small (s = 0.2) so the deepest networks do not start with a large
    penalty.

    Objective (docs/theory/sukenik2025.md, "Objective"): (1/N) sum_i loss(f(x_i), y_i) +
    lambda/2 ||theta||^2 over every parameter except the head bias (unregularised, as in the
    MSE limit model; ``head_bias_decay`` changes that), i.e. the engine's ``reduction="mean"``
    with coupled ("l2") weight decay. The limit model's head carries the same lambda.

    Attributes:
        dataset: the training data (digits and gaussian are embedded; mnist, fashion_mnist and
            cifar10 are read from --data-dir).
        data_dir: directory with the files of mnist, fashion_mnist or cifar10.
        n_per_class: samples per class of the class-balanced training subset (N = 10 n; >= 2:
            NC1 needs spread).
        width: d, the width of the residual stream (>= 2: LayerNorm of one value is 0); the LN
            features lie on the sphere of radius sqrt(d); the limit model needs d - 1 >= K - 1
            = 9 to be tight.
        depths: the depths L (numbers of residual blocks) trained from every seed, increasing;
            the depth trends need at least 3 of them.
        loss: "cross_entropy" or "mse" (1/2 ||f(x) - e_y||^2 per sample).
        weight_decay: lambda of the coupled weight decay (> 0 for the theorem).
        head_bias_decay: the decay multiplier of the head bias (0: unregularised).
        optimizer: "gd" (full-batch gradient descent), "momentum" or "adam".
        learning_rate: the step size.
        lr_drop_at: fraction of the steps after which the step size is multiplied by 0.1 (a
            value in (0, 1), or omitted for a constant step size).
        steps: training steps (a multiple of log_every).
        log_every: steps between two logged objectives.
        log_spacing: "linear" (a log every log_every steps) or "geometric" (at most 100 logs
            spread geometrically from log_every to steps: long runs read on log axes, at a
            fraction of the logging cost).
        branch_init_scale: s, the blocks' weights start as N(0, 2 s^2 / d) (LN-ResNet), or s
            times the LeCun-normal kernels of every block (transformer).
        seeds: initialisation seeds; each trains one network per depth.
        architecture: "ln_resnet" (L-RN1: LN before the head) or "transformer" (pre-LN
            transformer, final LN, pooling, the same head).
        num_heads: attention heads of the transformer (width must be a multiple).
        mlp_ratio: the transformer blocks' MLP has mlp_ratio * width hidden units.
        pool: how the transformer pools its final-LN tokens, "mean" or "first".
        token_dim: values per transformer token: an input row is read as input_dim / token_dim
            tokens (digits: 8 tokens of 8 pixels, one per image row).
    """

    dataset: str = "digits"
    data_dir: str | None = None
    n_per_class: int = checked(10, at_least(2))
    width: int = checked(32, at_least(2))
    depths: tuple[int, ...] = checked((1, 2, 4, 8), DEPTHS)
    loss: str = checked("cross_entropy", one_of(LOSSES))
    weight_decay: float = checked(0.05, at_least(0.0))
    head_bias_decay: float = checked(0.0, at_least(0.0))
    optimizer: str = checked("gd", one_of(OPTIMIZERS))
    learning_rate: float = checked(0.2, positive())
    lr_drop_at: float | None = checked(0.75, or_none(inside(0, 1)))
    steps: int = 2000
    log_every: int = 100
    log_spacing: str = "linear"
    branch_init_scale: float = checked(0.2, at_least(0.0))
    seeds: tuple[int, ...] = checked((0, 1, 2), each(at_least(0)))
    architecture: str = checked("ln_resnet", one_of(ARCHITECTURES))
    num_heads: int = checked(4, at_least(1))
    mlp_ratio: int = checked(2, at_least(1))
    pool: str = checked("mean", one_of(POOLS))
    token_dim: int = checked(8, at_least(1))

    RUN_FIELDS = ("seeds", "weight_decay", "learning_rate")

    def __post_init__(self) -> None:
        validate_fields(self)
        check_dataset(self.dataset, self.data_dir)
        check_steps(self.steps, self.log_every)
        check_log_spacing(self.log_spacing)
        self._check_transformer()

    def _check_transformer(self) -> None:
        """The transformer's shape fields against the width and the data (each field's own
        rule, checked whatever the architecture, is beside it: a bad value is a mistake either
        way)."""
        if self.architecture == "transformer" and self.width % self.num_heads:
            raise SettingError(
                "num_heads", f"must divide the width {self.width}, got {self.num_heads}"
            )
        if self.architecture == "transformer" and self.input_dim() % self.token_dim:
            raise SettingError(
                "token_dim",
                f"must divide the input dimension {self.input_dim()} of {self.dataset}, "
                f"got {self.token_dim}",
            )

    @property
    def ball_features(self) -> bool:
        """Whether the architecture only guarantees head features in the mean-zero ball of
        radius sqrt(d) (the transformer: flax's LN epsilon and pooling) rather than on its
        sphere (the LN-ResNet); it picks the lower bound's hypothesis (bounds.py)."""
        return self.architecture == "transformer"

    def model(self, depth: int | None = None) -> LNResNet | Transformer:
        """The network of ``depth`` blocks (default: the largest depth, the trained program),
        its later blocks gated (``GATING``): an LN-ResNet, or a transformer whose head is one
        linear layer with a bias decayed by ``head_bias_decay``, as the LN-ResNet's."""
        depth = max(self.depths) if depth is None else depth
        if self.architecture == "transformer":
            return Transformer(
                seq_len=self.input_dim() // self.token_dim,
                token_dim=self.token_dim,
                model_dim=self.width,
                depth=depth,
                num_heads=self.num_heads,
                mlp_ratio=self.mlp_ratio,
                head=MLP(widths=(DATASET_CLASSES,), num_linear=1, head_bias=True),
                pool=self.pool,
                gated=True,
                head_bias_decay=self.head_bias_decay,
                branch_init_scale=self.branch_init_scale,
            )
        return LNResNet(
            width=self.width,
            depth=depth,
            num_classes=DATASET_CLASSES,
            branch_init_scale=self.branch_init_scale,
            head_bias_decay=self.head_bias_decay,
        )

    def config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            log_every=self.log_every,
            log_spacing=self.log_spacing,
            loss=self.loss,
            reduction="mean",
            optimizer=self.optimizer,
            lr_drop_at=self.lr_drop_at,
            metrics=False,
        )

    def limit(self) -> float:
        """J*: the optimum of the limit model (closed form, radius sqrt(d)); NaN at lambda = 0
        (no finite optimum for CE)."""
        if self.weight_decay <= 0:
            return math.nan
        return limit_optimum(
            self.loss, DATASET_CLASSES, math.sqrt(self.width), self.weight_decay
        ).value

    def runs(self) -> list[RunSpec]:
        """One run (a depth profile) per seed."""
        return [RunSpec(f"seed={seed}", {"seed": int(seed)}) for seed in self.seeds]

    def input_dim(self) -> int:
        return INPUT_DIMS[self.dataset]

    def cost(self) -> float:
        """Training FLOPs of one run (one seed's profile): every depth trains the largest
        network (later blocks off), 6 N multiply-adds per sample and step."""
        multiply_adds = self.model().multiply_adds_per_sample(self.input_dim())
        samples = self.n_per_class * DATASET_CLASSES
        return 6.0 * samples * multiply_adds * self.steps * len(self.depths)

    def memory(self) -> float:
        """Bytes one run holds while training (float32): per depth, parameters, gradients and
        the update, the activations and a per-run copy of the inputs."""
        model, samples = self.model(), self.n_per_class * DATASET_CLASSES
        weights = model.num_weights(self.input_dim())
        per_network = 3 * weights + samples * (model.activations_per_sample() + self.input_dim())
        return 4.0 * per_network * len(self.depths)


def _run_params64(setting: Setting, params, index: int, depth: int):
    """Run ``index`` of batched parameters, float64, cut to its first ``depth`` blocks (call
    under x64)."""
    one = jax.tree_util.tree_map(
        lambda leaf: jnp.asarray(np.asarray(leaf[index]), jnp.float64), params
    )
    return GATING[setting.architecture].sliced_blocks(one, depth)


def measure_profile(
    setting: Setting, params, rows: Sequence[int], dataset: Dataset, weight_decay: float
) -> dict[str, float]:
    """One seed's record: the quantities of its networks (``rows`` of the batched ``params``,
    one per depth of the setting, in order), their trends, J* and the hypotheses' values."""
    with jax.enable_x64(True):
        x = jnp.asarray(dataset.x, jnp.float64)
        y = jnp.asarray(dataset.y, jnp.int32)
        networks = [
            network_quantities(
                setting.model(depth),
                _run_params64(setting, params, row, depth),
                x,
                y,
                setting.loss,
                weight_decay,
            )
            for depth, row in zip(setting.depths, rows)
        ]
    limit_value = (
        limit_optimum(setting.loss, DATASET_CLASSES, math.sqrt(setting.width), weight_decay).value
        if weight_decay > 0
        else math.nan
    )
    counts = np.bincount(dataset.y, minlength=DATASET_CLASSES)
    return profile_quantities(setting.depths, networks, limit_value) | {
        "J_star": limit_value,
        "weight_decay": weight_decay,
        "K": DATASET_CLASSES,
        "width": setting.width,
        "class_imbalance": int(counts.max() - counts.min()),
        "ball_features": int(setting.ball_features),
    }


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train every (seed, depth) network of every setting (one bucket: equal outside
    RUN_FIELDS) as runs of one compiled program, then measure each of this process's seeds in
    float64. One CellOutcome per setting; its arrays, per seed, the objective of every depth
    along training (``curve/objective L=<depth>``, against ``step``), J* as a constant curve,
    and the per-depth metrics (``depth/<metric>``, (seeds, depths))."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """This process's seeds, each one network per depth, trained as one program; a profile
    diverged where one of its networks did (at the first such step)."""
    first = settings[0]
    dataset = load_dataset(first.dataset, data_dir=first.data_dir, n_per_class=first.n_per_class)
    model, config = first.model(), first.config()
    depths = np.asarray(first.depths)
    (seeds,) = run_values(runs, "seed")
    lrs, wds = (cell_values(settings, runs, name) for name in ("learning_rate", "weight_decay"))
    state = init_runs(
        model, config, dataset.x.shape[1], *(np.repeat(v, len(depths)) for v in (lrs, wds, seeds))
    )
    gate = jax.vmap(GATING[first.architecture].with_active_blocks)
    state = state._replace(params=gate(state.params, jnp.tile(depths, len(runs))))
    data = make_data(dataset.x, dataset.y, dataset.num_classes)
    trained = context.train(model, config, data, state)
    diverged_at = diverged_steps(trained.trajectory)
    objective = np.asarray(trained.trajectory["objective"], float)
    steps = np.asarray(trained.trajectory["step"])
    outcomes = []
    for position, run in enumerate(runs):
        setting = settings[run.cell]
        rows = list(range(position * len(depths), (position + 1) * len(depths)))
        arrays = {
            "step": steps[rows[0]],
            "curve/J* (limit model)": np.full(steps.shape[1:], setting.limit()),
        }
        arrays |= {f"curve/objective L={d}": objective[row] for d, row in zip(depths, rows)}
        failed = [diverged_at[r] for r in rows if diverged_at[r] is not None]
        if failed:
            outcomes.append(RunOutcome(None, min(failed), arrays))
            continue
        q = measure_profile(setting, trained.state.params, rows, dataset, setting.weight_decay)
        arrays |= {f"depth/{name}": [q[f"{name}[L={d}]"] for d in depths] for name in METRICS}
        outcomes.append(RunOutcome(q, None, arrays))
    return outcomes


def finish_cell(setting: Setting, outcome: CellOutcome) -> CellOutcome:
    """The pooled depth trends over the cell's measured seeds, added to each."""
    with_pooled_trends([record.quantities for record in outcome.runs if record.quantities])
    return outcome
