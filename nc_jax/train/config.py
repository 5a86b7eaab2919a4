"""What a training job is made of: its static configuration (``TrainConfig``), the state of its
runs (``RunState``) and the training set they share (``TrainData``, built by ``make_data`` or
``make_regression_data``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics.layerwise import NETWORK_METRICS, check_metric_names
from nc_jax.models.base import Params
from nc_jax.train.losses import LOSSES, REDUCTIONS
from nc_jax.validation import check_labels, check_matrix, check_num_classes

OPTIMIZERS: tuple[str, ...] = ("gd", "momentum", "adam")
LOG_SPACINGS: tuple[str, ...] = ("linear", "geometric")
WEIGHT_DECAY_MODES: tuple[str, ...] = ("l2", "decoupled")


@dataclass(frozen=True)
class TrainConfig:
    """Static training configuration (one compiled program per config and shape).

    Attributes:
        steps: number of optimisation steps; a multiple of ``log_every``.
        log_every: steps between two logged measurements (compiled_measure after each); with
            geometric spacing, the first logged step and the unit every logged step is a
            multiple of.
        log_spacing: "linear" (a log every ``log_every`` steps) or "geometric": at most
            ``geometric_logs`` logs spread geometrically from ``log_every`` to ``steps``
            (``log_steps``), for curves read on log axes at a fraction of the cost.
        geometric_logs: the number of geometric logs before rounding to multiples of
            ``log_every`` (steps that round to the same multiple are logged once).
        logs_per_chunk: logs per compiled chunk (host progress and checkpoints happen between
            chunks); None picks about ten chunks. Must divide the number of logs.
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
    log_spacing: str = "linear"
    geometric_logs: int = 100
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
        for name, value, allowed in (
            ("log_spacing", self.log_spacing, LOG_SPACINGS),
            ("loss", self.loss, LOSSES),
            ("reduction", self.reduction, REDUCTIONS),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("weight_decay_mode", self.weight_decay_mode, WEIGHT_DECAY_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.geometric_logs < 1:
            raise ValueError(f"geometric_logs must be >= 1, got {self.geometric_logs}")
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
                f"({self.num_logs})"
            )
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
    def log_steps(self) -> np.ndarray:
        """The logged steps after step 0, ascending, the last one ``steps``: (num_logs,) ints.
        Linear: log_every, 2 log_every, ...; geometric: ``log_every`` times the distinct
        roundings of geomspace(1, steps / log_every, geometric_logs)."""
        units = self.steps // self.log_every
        if self.log_spacing == "linear":
            return self.log_every * np.arange(1, units + 1)
        spread = np.geomspace(1, units, min(self.geometric_logs, units))
        return self.log_every * np.unique(np.rint(spread).astype(np.int64))

    @property
    def num_logs(self) -> int:
        if self.log_spacing == "linear":
            return self.steps // self.log_every
        return len(self.log_steps)

    def log_intervals(self) -> np.ndarray:
        """Steps between consecutive logs (the first from step 0): (num_logs,) ints."""
        return np.diff(self.log_steps, prepend=0)

    def chunk_steps(self, index: int) -> int:
        """Steps trained by compiled chunk ``index`` (0-based)."""
        logs = self.log_intervals()[index * self.chunk_logs : (index + 1) * self.chunk_logs]
        return int(logs.sum())

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


def run_params(params: Params, run: int, dtype: Any = None) -> Params:
    """The parameters of run ``run`` out of a batch of runs (every leaf's leading run axis
    dropped), as a JAX array of ``dtype`` (None: unchanged; float64 inside ``jax.enable_x64``)."""
    return jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf[run], dtype), params)


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
