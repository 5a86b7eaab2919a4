"""The training engine: many networks of one shape trained as one compiled program.

Structure:

- Everything is written for ONE run (one network) and batched with ``vmap`` over a leading run
  axis; per-run hyperparameters (learning rate, weight decay, seed) are arrays in the run state,
  so changing them never recompiles.
- A compiled *chunk* is ``jit(vmap(scan over logs(loop over log_every steps)))``; it returns the
  run states at every log (without the optimiser state: ``log_snapshot``), and one compiled
  *measure* program, ``jit(vmap(measure))``, measures each of them and the initial state. So the
  layer-wise metrics, the costliest code to compile, are compiled once per job rather than twice
  (once inside the chunk and once for the step-0 log): a small test job's first call (3 runs,
  metrics on) went from 10.3 to 6.6 s. The host only sees chunk boundaries, where it reports
  progress and checkpoints.
- A run whose parameters become non-finite is rolled back to its state at the start of that
  log period, frozen there and flagged; its neighbours in the batch are unaffected (runs never
  interact). The check runs once per log period, not after every step (``guard_divergence``),
  which spares a select over every parameter and optimiser state at every step (its share of
  the step was not measured on its own: the small regime went from 2.62 to 2.35 s together
  with the other changes of issue 13).
- The run axis can be sharded over a device mesh (``NamedSharding(mesh, P("run"))``) and split
  into groups of at most ``run_group`` runs when the whole batch does not fit in memory.
- On a multi-core CPU, XLA runs each batched matmul of the step on one core; ``use_cpu_cores()``
  (called before JAX starts) exposes the cores as devices and ``train(..., mesh=run_mesh(R))``
  then trains the runs of each core in parallel (issue 3 benchmark: 2x on 2 cores).

Optimisers are decomposed as direction (identity for GD/SGD, momentum trace, Adam scaling) times
a per-run learning rate. Weight decay is either coupled ("l2": lambda/2 ||theta||^2 added to the
objective, the setting the theory analyses, giving theta <- (1 - eta lambda) theta - eta grad for
GD) or decoupled ("decoupled": theta <- theta - eta lambda theta after the optimiser direction).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from nc_jax.metrics.layerwise import NETWORK_METRICS, check_metric_names, network_metrics
from nc_jax.models.base import Model, Params
from nc_jax.train.checkpoint import load_checkpoint, save_checkpoint
from nc_jax.train.losses import LOSSES, REDUCTIONS, get_loss
from nc_jax.validation import check_labels, check_matrix, check_num_classes

OPTIMIZERS: tuple[str, ...] = ("gd", "momentum", "adam")
WEIGHT_DECAY_MODES: tuple[str, ...] = ("l2", "decoupled")
PER_RUN_INPUT_BYTES = 64 * 2**20  # largest per-run copy of the inputs (_per_run_inputs)


@dataclass(frozen=True)
class TrainConfig:
    """Static training configuration (one compiled program per config and shape).

    Attributes:
        steps: number of optimisation steps; a multiple of ``log_every``.
        log_every: steps between two logged measurements (compiled_measure after each).
        logs_per_chunk: logs per compiled chunk (host progress and checkpoints happen between
            chunks); None picks about ten chunks. Must divide steps / log_every.
        loss: "mse" or "cross_entropy"; ``reduction`` "sum" (the theory's 1/2 ||Z_L - Y||_F^2)
            or "mean" (divided by N).
        optimizer: "gd" (plain full-batch GD, or SGD with ``batch_size``), "momentum", "adam".
        momentum: the momentum coefficient for "momentum".
        weight_decay_mode: "l2" (coupled, in the objective) or "decoupled".
        batch_size: None for full-batch GD, else the minibatch size (per-run data order).
        lr_drop_at: fraction of training after which the learning rate is multiplied by
            ``lr_drop_factor`` (None: constant learning rate).
        lr_warmup_steps: a linear warm-up, the learning rate at step t (from 0) being
            lr min(1, (t + 1) / lr_warmup_steps); 0: none. In steps, not a fraction, so a
            training measured at several lengths (TrainContext.train_to) is one trajectory.
        metrics: measure the layer-wise metrics at every log (else only losses and accuracy).
        metric_names: only these layer-wise metrics (a subset of
            nc_jax.metrics.NETWORK_METRICS; None: all). Only they are computed: the in-loop
            cost of a log falls with the set (the spectral ones cost most).
        metric_layers: only these layers (indices into the model's Layers record, negative from
            the output; None: all); the others are logged as NaN.
    """

    steps: int
    log_every: int = 100
    logs_per_chunk: int | None = None
    loss: str = "mse"
    reduction: str = "sum"
    optimizer: str = "gd"
    momentum: float = 0.9
    weight_decay_mode: str = "l2"
    batch_size: int | None = None
    lr_drop_at: float | None = None
    lr_drop_factor: float = 0.1
    lr_warmup_steps: int = 0
    metrics: bool = True
    metric_names: tuple[str, ...] | None = None
    metric_layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.log_every < 1 or self.steps < self.log_every or self.steps % self.log_every:
            raise ValueError(
                f"steps ({self.steps}) must be a positive multiple of log_every "
                f"({self.log_every}); adjust one of them"
            )
        if self.logs_per_chunk is not None and (
            self.logs_per_chunk < 1 or self.num_logs % self.logs_per_chunk
        ):
            raise ValueError(
                f"logs_per_chunk ({self.logs_per_chunk}) must divide the number of logs "
                f"steps / log_every = {self.num_logs}"
            )
        for name, value, allowed in (
            ("loss", self.loss, LOSSES),
            ("reduction", self.reduction, REDUCTIONS),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("weight_decay_mode", self.weight_decay_mode, WEIGHT_DECAY_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None (full batch), got {self.batch_size}")
        if self.lr_drop_at is not None and not 0.0 < self.lr_drop_at < 1.0:
            raise ValueError(f"lr_drop_at must be a fraction in (0, 1), got {self.lr_drop_at}")
        if self.lr_warmup_steps < 0:
            raise ValueError(f"lr_warmup_steps must be >= 0, got {self.lr_warmup_steps}")
        if self.metric_names is not None:
            names = check_metric_names(self.metric_names, NETWORK_METRICS)
            object.__setattr__(self, "metric_names", names)
        if self.metric_layers is not None:
            object.__setattr__(self, "metric_layers", tuple(int(i) for i in self.metric_layers))

    @property
    def num_logs(self) -> int:
        return self.steps // self.log_every

    @property
    def chunk_logs(self) -> int:
        """Logs per compiled chunk: the given value, or the largest divisor of num_logs that
        gives at least ten chunks (one log per chunk when num_logs < 10)."""
        if self.logs_per_chunk is not None:
            return self.logs_per_chunk
        target = max(1, self.num_logs // 10)
        return max(d for d in range(1, target + 1) if self.num_logs % d == 0)


class RunState(NamedTuple):
    """State of one run (or, with a leading run axis, of a batch of runs).

    Attributes:
        params: the model parameters (a pytree).
        opt_state: the optimiser-direction state (momentum trace, Adam moments).
        key: raw uint32 PRNG key of the run (data order of SGD).
        learning_rate, weight_decay: per-run scalars (arrays: no recompilation).
        seed: the integer seed the run was initialised from.
        step: number of steps taken.
        diverged: True once a step produced a non-finite loss or parameters; the run is then
            frozen at its last finite state.
    """

    params: Params
    opt_state: Any
    key: jax.Array
    learning_rate: jax.Array
    weight_decay: jax.Array
    seed: jax.Array
    step: jax.Array
    diverged: jax.Array


class TrainData(NamedTuple):
    """Training set shared by all runs: x (N, D) float, y (N,) int, one-hot targets (N, K)."""

    x: jax.Array
    y: jax.Array
    targets: jax.Array


def make_data(x: Any, y: Any, num_classes: int, dtype: Any = jnp.float32) -> TrainData:
    """Validate a training set and build its one-hot targets (N, K)."""
    num_classes = check_num_classes(num_classes)
    check_matrix(x, "x")
    check_labels(y, np.shape(x)[0], num_classes)
    y = jnp.asarray(y, jnp.int32)
    return TrainData(jnp.asarray(x, dtype), y, jax.nn.one_hot(y, num_classes, dtype=dtype))


def make_regression_data(x: Any, targets: Any, dtype: Any = jnp.float32) -> TrainData:
    """Validate a regression training set: inputs x (N, D) and real targets (N, n), which the
    "mse" loss reads (docs/theory/andriopoulos2024.md: neural regression collapse).

    ``y`` is a placeholder of N zeros: a regression set has no classes, so train it with
    ``TrainConfig(metrics=False)`` (the in-loop layer metrics group features by ``y``) and
    ignore the logged "accuracy" (argmax of the output against ``y``, meaningless here).
    """
    check_matrix(x, "x")
    check_matrix(targets, "targets")
    if np.shape(targets)[0] != np.shape(x)[0]:
        raise ValueError(
            f"targets has {np.shape(targets)[0]} rows but x has {np.shape(x)[0]}: one target "
            "row (N, n) per input row (N, D)"
        )
    num_samples = np.shape(x)[0]
    return TrainData(
        jnp.asarray(x, dtype), jnp.zeros((num_samples,), jnp.int32), jnp.asarray(targets, dtype)
    )


def _direction(optimizer: str, momentum: float) -> optax.GradientTransformation:
    """The update direction of TrainConfig's ``optimizer`` (its ``momentum`` for "momentum")."""
    if optimizer == "gd":
        return optax.identity()
    if optimizer == "momentum":
        return optax.trace(decay=momentum)
    return optax.scale_by_adam()


def init_runs(
    model: Model,
    config: TrainConfig,
    input_dim: int,
    learning_rate: Any,
    weight_decay: Any,
    seeds: Any,
) -> RunState:
    """Initial states of R runs, with a leading run axis on every leaf.

    Args:
        model: the network (init/apply).
        config: the training configuration (for the optimiser state).
        input_dim: D.
        learning_rate, weight_decay: (R,) per-run values (or scalars broadcast to R).
        seeds: (R,) integer seeds; a run's initial parameters and data order depend only on it.
    """
    seeds = np.atleast_1d(np.asarray(seeds))
    if seeds.ndim != 1 or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seeds must be a vector of integers (R,), got {seeds}")
    num_runs = seeds.shape[0]
    lrs = np.broadcast_to(np.asarray(learning_rate, np.float32), (num_runs,))
    wds = np.broadcast_to(np.asarray(weight_decay, np.float32), (num_runs,))
    if np.any(lrs <= 0) or not np.all(np.isfinite(lrs)):
        raise ValueError(f"learning_rate must be positive and finite, got {lrs}")
    if np.any(wds < 0) or not np.all(np.isfinite(wds)):
        raise ValueError(f"weight_decay must be >= 0 and finite, got {wds}")
    initial_states = _compiled_init(model, config.optimizer, config.momentum, int(input_dim))
    return initial_states(jnp.asarray(seeds, jnp.int32), jnp.asarray(lrs), jnp.asarray(wds))


@functools.lru_cache(maxsize=32)
def _compiled_init(model: Model, optimizer: str, momentum: float, input_dim: int):
    """jit(vmap(initial state of one run)) (seeds, lrs, wds) -> RunState, cached per model,
    optimiser and D (the only parts of the config the initial state depends on), so that
    repeated ``init_runs`` calls, also for configs that differ in steps or logging (a sweep's
    buckets), do not recompile."""
    direction = _direction(optimizer, momentum)

    def one(seed, lr, wd):
        init_key, data_key = jax.random.split(jax.random.PRNGKey(seed))
        params = model.init(init_key, input_dim)
        return RunState(
            params=params,
            opt_state=direction.init(params),
            key=data_key,
            learning_rate=lr,
            weight_decay=wd,
            seed=seed,
            step=jnp.zeros((), jnp.int32),
            diverged=jnp.zeros((), bool),
        )

    return jax.jit(jax.vmap(one))


def cast_runs(state: RunState, dtype: Any, learning_rate: Any, weight_decay: Any) -> RunState:
    """``state`` (from ``init_runs``) in the float precision ``dtype``: every floating leaf cast,
    and the per-run learning rates and weight decays set again from their exact values.

    ``init_runs`` stores them in float32, so a cast alone would train a float64 run with
    fl32(lambda), about 6e-8 off in relative terms: enough to move a closed-form optimum that
    float64 checks compare with to 1e-12. The draw itself is unchanged (every precision starts
    from the same initial parameters). For float64, call it inside ``jax.enable_x64``.

    Args:
        state: R runs with a leading run axis.
        dtype: the target float dtype.
        learning_rate, weight_decay: (R,) per-run values (or scalars broadcast to R), the ones
            given to ``init_runs``.
    """
    num_runs = int(state.step.shape[0])
    cast = jax.tree_util.tree_map(
        lambda leaf: leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf,
        state,
    )
    return cast._replace(
        learning_rate=jnp.broadcast_to(jnp.asarray(learning_rate, dtype), (num_runs,)),
        weight_decay=jnp.broadcast_to(jnp.asarray(weight_decay, dtype), (num_runs,)),
    )


def _sq_norm(tree: Params) -> jax.Array:
    return sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(tree))


def decay_scales(model: Model, params: Params) -> Params:
    """Per-leaf weight-decay multipliers: ``model.decay_scales(params)`` where the model defines
    it (the UFMs regularise features and weights with separate lambdas), else 1 for every leaf.
    The effective decay of a leaf is ``weight_decay * scale``."""
    if hasattr(model, "decay_scales"):
        return model.decay_scales(params)
    return jax.tree_util.tree_map(lambda _: 1.0, params)


def regulariser(model: Model, params: Params) -> jax.Array:
    """sum over leaves of scale * ||leaf||^2: the objective adds weight_decay / 2 times it."""
    scaled = jax.tree_util.tree_map(
        lambda s, p: s * jnp.sum(p**2), decay_scales(model, params), params
    )
    return sum(jax.tree_util.tree_leaves(scaled))


def feature_penalty(model: Model, layers: Any, weight_decay: jax.Array) -> jax.Array:
    """``model.feature_penalty(layers, weight_decay)`` where the model defines it
    (models.FeatureDecay: the DUFM's lambda_H/2 ||H_1||_F^2 on a real network's features), else
    0: a term of the objective that depends on the features of the samples in ``layers``."""
    if hasattr(model, "feature_penalty"):
        return model.feature_penalty(layers, weight_decay)
    return jnp.zeros(())


def _all_finite(tree: Params) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def _select(condition: jax.Array, new: Any, old: Any) -> Any:
    """``new`` where ``condition`` holds, else ``old``, leaf by leaf."""
    return jax.tree_util.tree_map(lambda a, b: jnp.where(condition, a, b), new, old)


def _batch_indices(config: TrainConfig, key: jax.Array, step: jax.Array, num_samples: int):
    """Indices of the minibatch of ``step``: a fresh per-run permutation every epoch."""
    per_epoch = num_samples // config.batch_size
    epoch, position = step // per_epoch, step % per_epoch
    order = jax.random.permutation(jax.random.fold_in(key, epoch), num_samples)
    return jax.lax.dynamic_slice_in_dim(order, position * config.batch_size, config.batch_size)


def make_update(model: Model, config: TrainConfig) -> Callable[[RunState, TrainData], RunState]:
    """One optimisation step of one run, unguarded: a run that diverges goes on with
    non-finite values. ``make_step`` guards every step; ``compiled_chunk`` guards once per log
    period (``guard_divergence``), which spares a select over every parameter at every step."""
    loss_fn = get_loss(config.loss)
    direction = _direction(config.optimizer, config.momentum)
    total_steps = config.steps

    def data_loss(params, x, targets, num_samples, weight_decay):
        """The loss on (x, targets) plus the feature penalty scaled from the batch to the
        ``num_samples`` of the training set (feature_penalty; models.feature_decay)."""
        output, layers = model.apply(params, x)
        penalty = feature_penalty(model, layers, weight_decay) * (num_samples / x.shape[0])
        return loss_fn(output, targets, config.reduction) + penalty

    def update(state: RunState, data: TrainData) -> RunState:
        x, targets = data.x, data.targets
        num_samples = x.shape[0]
        if config.batch_size is not None:
            index = _batch_indices(config, state.key, state.step, num_samples)
            x, targets = x[index], targets[index]
        wd = state.weight_decay
        grads = jax.grad(data_loss)(state.params, x, targets, num_samples, wd)
        scales = decay_scales(model, state.params)
        if config.weight_decay_mode == "l2":
            grads = jax.tree_util.tree_map(
                lambda g, s, p: g + wd * s * p, grads, scales, state.params
            )
        updates, opt_state = direction.update(grads, state.opt_state, state.params)
        lr = state.learning_rate
        if config.lr_warmup_steps:
            lr = lr * jnp.minimum(1.0, (state.step + 1) / config.lr_warmup_steps)
        if config.lr_drop_at is not None:
            dropped = state.step >= int(config.lr_drop_at * total_steps)
            lr = jnp.where(dropped, lr * config.lr_drop_factor, lr)
        decay = wd if config.weight_decay_mode == "decoupled" else 0.0
        params = jax.tree_util.tree_map(
            lambda p, u, s: p - lr * u - lr * decay * s * p, state.params, updates, scales
        )
        return state._replace(params=params, opt_state=opt_state, step=state.step + 1)

    return update


def guard_divergence(start: RunState, end: RunState) -> RunState:
    """``end`` where its parameters are finite and the run had not diverged by ``start``;
    otherwise ``start`` (with end's step counter), flagged as diverged: a diverged run stays
    frozen at its state before the steps that broke it, and its neighbours are unaffected."""
    healthy = _all_finite(end.params) & ~start.diverged
    return end._replace(
        params=_select(healthy, end.params, start.params),
        opt_state=_select(healthy, end.opt_state, start.opt_state),
        diverged=start.diverged | ~healthy,
    )


def make_step(model: Model, config: TrainConfig) -> Callable[[RunState, TrainData], RunState]:
    """One optimisation step of one run, frozen at its last finite state once diverged."""
    update = make_update(model, config)

    def step(state: RunState, data: TrainData) -> RunState:
        return guard_divergence(state, update(state, data))

    return step


def make_measure(model: Model, config: TrainConfig, num_classes: int):
    """Measurements of one run on the full training set: the data loss, the objective (loss +
    feature penalty + weight_decay/2 times the regulariser), accuracy, parameter norm and (with
    ``config.metrics``) every layer-wise metric of nc_jax.metrics.network_metrics."""
    loss_fn = get_loss(config.loss)

    def measure(state: RunState, data: TrainData) -> dict[str, jax.Array]:
        output, layers = model.apply(state.params, data.x)
        loss = loss_fn(output, data.targets, config.reduction)
        out = {
            "step": state.step,
            "loss": loss,
            "objective": loss
            + feature_penalty(model, layers, state.weight_decay)
            + 0.5 * state.weight_decay * regulariser(model, state.params),
            "accuracy": jnp.mean(jnp.argmax(output, axis=1) == data.y),
            "param_norm_sq": _sq_norm(state.params),
            "diverged": state.diverged,
        }
        if config.metrics:
            # A diverged run's frozen parameters may still give non-finite features; measure
            # zeros instead (LAPACK must never see NaN) and report NaN for that run.
            finite = _all_finite((layers.features, layers.weights)) & ~state.diverged
            clean = _select(finite, layers, jax.tree_util.tree_map(jnp.zeros_like, layers))
            layer_values = network_metrics(
                clean.features,
                data.y,
                num_classes,
                clean.weights,
                clean.preactivations,
                clean.biases,
                names=config.metric_names,
                layers=config.metric_layers,
            )
            out.update(
                {f"layer/{key}": jnp.where(finite, v, jnp.nan) for key, v in layer_values.items()}
            )
        return out

    return measure


def log_snapshot(state: RunState) -> RunState:
    """What a log measures of a run state: all of it but the optimiser state (``opt_state`` is
    ``()``), so the chunk hands out a light copy per log and one measure program reads both
    these and the initial state."""
    return state._replace(opt_state=())


@functools.lru_cache(maxsize=32)
def compiled_chunk(model: Model, config: TrainConfig, mesh: Mesh | None = None):
    """The compiled training unit for a batch of runs: ``chunk_logs`` x ``log_every`` steps.

    Returns jit(vmap(fn)) with fn(state, data) -> (state, snapshots): the state after the chunk
    and a list of ``chunk_logs`` log_snapshot states, the runs at the end of each log period,
    for ``compiled_measure``; run per device over the mesh's share of the runs (_per_device).
    Cached per (model, config, mesh): a new job with other hyperparameter values (arrays in the
    state) reuses the same program without retracing.
    """
    update = make_update(model, config)

    def one_run(state: RunState, data: TrainData):
        def log_period(start, _):
            end = jax.lax.fori_loop(0, config.log_every, lambda _, s: update(s, data), start)
            state = guard_divergence(start, end)
            return state, log_snapshot(state)

        return jax.lax.scan(log_period, state, None, length=config.chunk_logs)

    def chunk(state: RunState, data: TrainData):
        num_runs = state.step.shape[0]
        if data.x.size * data.x.dtype.itemsize * num_runs <= PER_RUN_INPUT_BYTES:
            per_run = _per_run_inputs(data, num_runs)
            state, stacked = jax.vmap(one_run, in_axes=(0, TrainData(0, None, None)))(
                state, per_run
            )
        else:
            state, stacked = jax.vmap(one_run, in_axes=(0, None))(state, data)
        snapshots = [
            jax.tree_util.tree_map(lambda leaf, i=i: leaf[:, i], stacked)
            for i in range(config.chunk_logs)
        ]
        return state, snapshots

    return jax.jit(_per_device(chunk, mesh))


def _per_device(fn: Callable, mesh: Mesh | None) -> Callable:
    """fn(state, data) applied by every device of ``mesh`` to its own runs (``shard_map``; the
    data replicated). Runs never interact, so this is exact; left to XLA's automatic
    partitioning, the LAPACK calls of the metrics were replicated on every device (issue 3
    benchmark: a metrics log 4x slower on two CPU devices than on one)."""
    if mesh is None:
        return fn
    run, replicated = PartitionSpec("run"), PartitionSpec()
    return jax.shard_map(fn, mesh=mesh, in_specs=(run, replicated), out_specs=run)


def _per_run_inputs(data: TrainData, num_runs: int) -> TrainData:
    """The training set with its inputs repeated along a leading run axis: x (R, N, D).

    With x shared (vmap ``in_axes=None``), XLA folds the runs' first layers into one GEMM
    (N, D) x (D, R n_1), whose weight gradient needs the run-major activations (R, N, n_1)
    transposed to (R n_1, N); on CPU that transpose costs as much as a layer's GEMMs (issue 3
    benchmark, wide regime: about 15% of the step). A per-run copy of x keeps the first layer a
    batched GEMM like the others, so ``compiled_chunk`` makes one when it takes at most
    ``PER_RUN_INPUT_BYTES``. Results are the same either way.
    """
    return data._replace(x=jnp.broadcast_to(data.x, (num_runs, *data.x.shape)))


@functools.lru_cache(maxsize=32)
def compiled_measure(model: Model, config: TrainConfig, num_classes: int, mesh: Mesh | None = None):
    """jit(vmap(measure)) for a batch of log_snapshot states (the step-0 log and every log of
    compiled_chunk); per device and cached like compiled_chunk."""
    measure = jax.vmap(make_measure(model, config, num_classes), in_axes=(0, None))
    return jax.jit(_per_device(measure, mesh))


class TrainResult(NamedTuple):
    """Final states (leading run axis) and the trajectory: every logged measurement, each of
    shape (R, num_logs + 1, ...) (the first log is at step 0)."""

    state: RunState
    trajectory: dict[str, np.ndarray]


def use_cpu_cores(count: int | None = None) -> int:
    """Expose ``count`` CPU cores (default: all) as separate JAX CPU devices, so that a mesh over
    them (run_mesh) trains groups of runs in parallel, one group per core.

    XLA's CPU runtime runs the many small batched matmuls of a training step one at a time, each
    on a single core; sharding the run axis over per-core devices is what uses the other cores.
    Only possible before JAX initialises its backend (the first array or ``jax.devices()``):
    afterwards the device count is left as it is. Returns the number of CPU devices in effect.
    """
    count = (os.cpu_count() or 1) if count is None else int(count)
    with contextlib.suppress(RuntimeError):  # backend already initialised: keep its devices
        jax.config.update("jax_num_cpu_devices", count)
    return len(jax.devices("cpu"))


def runs_per_device(model: Model, platform: str) -> int | None:
    """The most runs one device of ``platform`` should train at once for ``model`` (None: no
    limit beyond memory): a model's ``cpu_runs_per_device`` on a CPU (convolutional models, whose
    vmapped convolutions are slow there: nc_jax.models.resnet.ResNet)."""
    if platform != "cpu":
        return None
    return getattr(model, "cpu_runs_per_device", None)


def run_mesh(num_runs: int, devices: Any = None) -> Mesh | None:
    """A one-axis mesh named "run" over the largest number of ``devices`` (default: all of JAX's
    devices) that divides ``num_runs``, for ``train(..., mesh=...)``; None when that is one."""
    devices = list(jax.devices() if devices is None else devices)
    count = max(d for d in range(1, len(devices) + 1) if num_runs % d == 0)
    return None if count == 1 else Mesh(np.array(devices[:count]), ("run",))


def process_share(num_runs: int) -> np.ndarray:
    """Indices of the runs this process trains in a multi-host job: runs
    ``process_index, process_index + P, ...`` of ``num_runs`` (P = jax.process_count()).

    Multi-host recipe (runs never communicate, so no global array is needed): every process
    calls ``jax.distributed.initialize()``, builds the initial states of
    ``process_share(R)`` only, trains them on its local devices with
    ``train(..., mesh=run_mesh(len(share), jax.local_devices()))`` and writes its own results;
    process 0 merges them. On one process this is every run.
    """
    return np.arange(jax.process_index(), num_runs, jax.process_count())


def _shard(tree: Any, mesh: Mesh | None, spec: PartitionSpec) -> Any:
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, spec))


def _fingerprint(model: Model, config: TrainConfig, state: RunState) -> str:
    return repr((model, config, int(state.step.shape[0])))


def _train_group(
    model: Model,
    config: TrainConfig,
    data: TrainData,
    state: RunState,
    mesh: Mesh | None,
    checkpoint_dir: Path | None,
    on_chunk: Callable[[int, RunState], None] | None,
) -> TrainResult:
    num_classes = data.targets.shape[1]
    data = _shard(data, mesh, PartitionSpec())
    state = _shard(state, mesh, PartitionSpec("run"))
    fingerprint = _fingerprint(model, config, state)
    resumed = (
        None if checkpoint_dir is None else load_checkpoint(checkpoint_dir, state, fingerprint)
    )
    measure = compiled_measure(model, config, num_classes, mesh)
    if resumed is None:
        logs = _stack_logs([measure(log_snapshot(state), data)])
        first_chunk = 0
    else:
        state, logs, first_chunk = resumed
        state = _shard(state, mesh, PartitionSpec("run"))
    chunk = compiled_chunk(model, config, mesh)
    num_chunks = config.num_logs // config.chunk_logs
    for index in range(first_chunk, num_chunks):
        state, snapshots = chunk(state, data)
        chunk_logs = _stack_logs([measure(snapshot, data) for snapshot in snapshots])
        logs = {key: np.concatenate([logs[key], chunk_logs[key]], axis=1) for key in logs}
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, state, logs, index + 1, fingerprint)
        if on_chunk is not None:
            on_chunk(index + 1, state)
    return TrainResult(state, logs)


def _stack_logs(measured: list[dict[str, jax.Array]]) -> dict[str, np.ndarray]:
    """Logs measured one after another, each value (R, ...), as arrays (R, len(measured), ...)."""
    return {key: np.stack([np.asarray(m[key]) for m in measured], axis=1) for key in measured[0]}


def _take_runs(tree: Any, index: np.ndarray) -> Any:
    return jax.tree_util.tree_map(lambda leaf: leaf[index], tree)


def train(
    model: Model,
    config: TrainConfig,
    data: TrainData,
    state: RunState,
    *,
    mesh: Mesh | None = None,
    run_group: int | None = None,
    checkpoint_dir: str | Path | None = None,
    on_chunk: Callable[[int, RunState], None] | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a batch of runs from ``state`` for ``config.steps`` steps.

    Args:
        model: the network.
        config: training configuration.
        data: the training set (make_data), shared by all runs.
        state: initial states with a leading run axis (init_runs).
        mesh: optional device mesh with an axis named "run": the run axis is sharded over it
            (``NamedSharding(mesh, P("run"))``) and the data replicated. The number of runs in a
            group must be a multiple of the mesh size.
        run_group: train at most this many runs at a time (when the whole batch does not fit in
            memory); the last group is padded with copies of its last run, so every group runs
            the same compiled program.
        checkpoint_dir: save the state and logs after every compiled chunk (a killed job loses at
            most ``config.chunk_logs * config.log_every`` steps) and resume from there if a
            checkpoint of the same job exists. With run groups, group g uses ``group-g/``.
        on_chunk: called as on_chunk(chunks_done, state) after every chunk (host side).
        progress: show a progress bar with the steps trained and an ETA (``rich``), updated
            between chunks.
    """
    if config.batch_size is not None and config.batch_size > data.x.shape[0]:
        raise ValueError(
            f"batch_size ({config.batch_size}) exceeds the {data.x.shape[0]} training samples"
        )
    num_runs = int(state.step.shape[0])
    group = num_runs if run_group is None else int(run_group)
    if group < 1:
        raise ValueError(f"run_group must be >= 1, got {run_group}")
    if mesh is not None and group % mesh.size:
        raise ValueError(
            f"the run axis ({group} runs per group) must be a multiple of the {mesh.size} "
            "devices of the mesh: change the number of runs or run_group"
        )
    directory = None if checkpoint_dir is None else Path(checkpoint_dir)
    with _progress_bar(progress, num_runs, config.steps * math.ceil(num_runs / group)) as bar:
        results = _train_groups(
            model, config, data, state, mesh, group, directory, bar.wrap(on_chunk, config)
        )
    if len(results) == 1:
        return results[0]
    return TrainResult(
        jax.tree_util.tree_map(_concat_runs, *[r.state for r in results]),
        jax.tree_util.tree_map(_concat_runs, *[r.trajectory for r in results]),
    )


def _train_groups(
    model: Model,
    config: TrainConfig,
    data: TrainData,
    state: RunState,
    mesh: Mesh | None,
    group: int,
    directory: Path | None,
    on_chunk: Callable[[int, RunState], None] | None,
) -> list[TrainResult]:
    """Train the run groups one after another (see ``train``)."""
    num_runs = int(state.step.shape[0])
    results = []
    for g, start in enumerate(range(0, num_runs, group)):
        index = np.minimum(np.arange(start, start + group), num_runs - 1)
        group_dir = (
            directory if directory is None or group == num_runs else directory / f"group-{g}"
        )
        result = _train_group(
            model, config, data, _take_runs(state, index), mesh, group_dir, on_chunk
        )
        keep = np.arange(min(group, num_runs - start))
        results.append(
            TrainResult(_take_runs(result.state, keep), _take_runs(result.trajectory, keep))
        )
    return results


class _ProgressBar:
    """A rich progress bar over the steps of every run group (a no-op when disabled)."""

    def __init__(self, bars: Any, task: Any) -> None:
        self.bars, self.task = bars, task

    def wrap(
        self, on_chunk: Callable[[int, RunState], None] | None, config: TrainConfig
    ) -> Callable[[int, RunState], None] | None:
        """``on_chunk`` that also advances the bar by one chunk's steps."""
        if self.bars is None:
            return on_chunk

        def advance(chunks: int, state: RunState) -> None:
            self.bars.advance(self.task, config.chunk_logs * config.log_every)
            if on_chunk is not None:
                on_chunk(chunks, state)

        return advance


@contextlib.contextmanager
def _progress_bar(enabled: bool, num_runs: int, total_steps: int):
    if not enabled:
        yield _ProgressBar(None, None)
        return
    from nc_jax.progress import progress_bars

    with progress_bars() as bars:
        yield _ProgressBar(bars, bars.add_task(f"training {num_runs} runs", total=total_steps))


def _concat_runs(*parts: Any) -> np.ndarray:
    return np.concatenate([np.asarray(part) for part in parts], axis=0)
