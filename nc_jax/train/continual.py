"""Continual learning: a sequence of tasks trained one after another, with experience replay,
as ONE compiled program per batch of runs (a scan over tasks, then over the steps of a task,
vmapped over runs).

The tasks split the classes: task t holds classes t K, ..., t K + K - 1 (K classes per task).
``ContinualData`` keeps every task's inputs class by class, x (T, K, n, D), so that a class's
samples and a buffer's slots are plain indices and every shape is fixed.

Experience replay (ER) with a class-balanced buffer, as the ``er_balanced`` model of
Lanzillotta, Meier and Hofmann's code (ICLR 2026, "Heads collapse, features stay"):

- the buffer holds ``b`` training samples of every class of every finished task; ``b`` is a
  per-run value (an array of the batch, so runs with different buffer sizes share one program).
  Slot i of class (s, k) is sample ``buffer_index[s, k, i]`` of that class, the first
  ``max_buffer`` entries of a per-run random permutation; only slots i < b are valid (the
  buffer's contents are masked to the fixed shape (T, K, max_buffer));
- the minibatch of overall size B mixes new and buffer samples by the code's formula
  (``er_split``): during task t >= 1 (t tasks finished) new = B // (t + 1) and buffer = B - new,
  the code's ``batch_size = overall // (current_task + 2)`` set at the end of task
  ``current_task = t - 1``. Without a buffer (b = 0, or task 0) all B samples are new;
- every task trains ``steps`` steps (``TrainConfig.steps``): the code runs as many iterations in
  each later task as in the first;
- samples are drawn uniformly with replacement, new ones from the current task, buffer ones
  from the valid slots (the code shuffles the task's data by epoch and samples the buffer
  without replacement within a batch: equal in distribution over a step, up to repeats).

Heads: ``single`` (class-incremental: one head over all T K classes, trained with the softmax
over all outputs) or ``multi`` (task-incremental: ``TaskHeads``, one head of K outputs per task,
every sample trained and evaluated on its own task's head). ``freeze_head_from``: the last
layer of an MLP-like model (the last entry of its parameter list) stays at its value from the
start of that task on (no gradient, no weight decay).

One step is the engine's own update (nc_jax.train.step.make_update, full batch) applied to the
mixed minibatch, so the loss, optimiser, weight decay, penalty and learning-rate schedule are
the engine's; the divergence guard runs once per log period (``guard_divergence``). Two
consequences of handing the update the minibatch whole: a model's penalty is scaled as on a
full batch (by N / B = 1, not by a task's training set over B), and a schedule reads the run's
step counter, which runs on across tasks (a warm-up happens in the first task only;
``lr_drop_at`` is a fraction of one task's ``steps`` from the start of the first task, and the
rate stays dropped after it). The program returns the parameters at every log (``log_every``
steps) of every task.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from nc_jax.models.base import Layers, Params
from nc_jax.models.wrapper import Wrapped
from nc_jax.train.cache import program_cache
from nc_jax.train.config import RunState, TrainConfig, TrainData
from nc_jax.train.devices import per_device, run_mesh
from nc_jax.train.step import guard_divergence, make_update, update_config

HEADS: tuple[str, ...] = ("single", "multi")
MASKED_LOGIT = -1e9  # a logit outside a sample's task head: softmax weight exactly 0
BUFFER_STREAM = 2**31 - 1  # fold_in datum of the buffer draw (steps fold in their own count)


class ContinualData(NamedTuple):
    """The tasks' inputs by task, class and sample: train x (T, K, n, D), test x_test
    (T, K, m, D). Class k of task t has the global label t K + k."""

    x: Any
    x_test: Any

    @property
    def num_tasks(self) -> int:
        return int(self.x.shape[0])

    @property
    def classes_per_task(self) -> int:
        return int(self.x.shape[1])


def split_tasks(
    x: Any, y: Any, num_tasks: int, classes_per_task: int, n_train: int, n_test: int
) -> ContinualData:
    """Split a labelled set (x (N, D), y (N,)) into tasks of consecutive classes: task t holds
    classes t K .. t K + K - 1; of each class the first ``n_train`` samples (in order) train and
    the next ``n_test`` test. Raises ValueError when a class has fewer than n_train + n_test."""
    x, y = np.asarray(x), np.asarray(y)
    train, test = [], []
    for c in range(num_tasks * classes_per_task):
        members = x[y == c]
        if len(members) < n_train + n_test:
            raise ValueError(
                f"class {c} has {len(members)} samples, fewer than n_train + n_test = "
                f"{n_train + n_test}"
            )
        train.append(members[:n_train])
        test.append(members[n_train : n_train + n_test])
    shape = (num_tasks, classes_per_task)
    return ContinualData(
        np.stack(train).reshape(*shape, n_train, -1), np.stack(test).reshape(*shape, n_test, -1)
    )


def task_inputs(x: jax.Array, task: Any) -> jax.Array:
    """Inputs (N, D) with their task index appended as a last column (N, D + 1): what
    ``TaskHeads`` reads."""
    column = jnp.broadcast_to(jnp.asarray(task, x.dtype), x.shape[:1])
    return jnp.concatenate([x, column[:, None]], axis=1)


@dataclass(frozen=True)
class TaskHeads(Wrapped):
    """Multi-head (task-incremental) wrapper: ``model`` outputs T K logits, read as T heads of K;
    a sample's input carries its task index as its last column (``task_inputs``), and the
    logits of every other task's head are set to MASKED_LOGIT, so the softmax, its gradient and
    the argmax see only the sample's own head. Every other attribute is the model's
    (models.wrapper.Wrapped).

    Attributes:
        model: the wrapped model (num_outputs = num_tasks * classes_per_task).
        classes_per_task: K.
    """

    classes_per_task: int

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """The model's parameters on ``input_dim - 1`` inputs (the last column is the task)."""
        return self.model.init(key, input_dim - 1)

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        """Logits (N, T K), every head but the sample's masked; the model's layer record."""
        output, layers = self.model.apply(params, x[:, :-1])
        task = x[:, -1].astype(jnp.int32)
        head = jnp.arange(output.shape[1]) // self.classes_per_task
        return jnp.where(head[None, :] == task[:, None], output, MASKED_LOGIT), layers


@dataclass(frozen=True)
class ContinualConfig:
    """Static configuration of a continual training (one compiled program per config).

    Attributes:
        train: the engine's configuration of one task: ``steps`` per task, ``log_every``,
            loss, reduction, optimiser, weight-decay mode, schedule, and ``batch_size``, the
            overall minibatch size B (new + buffer; required).
        num_tasks: T.
        max_buffer: slots per class of the buffer (the largest per-run buffer size).
        heads: "single" (class-incremental) or "multi" (task-incremental, ``TaskHeads``).
        freeze_head_from: the task from which the last layer stays fixed (None: never).
    """

    train: TrainConfig
    num_tasks: int
    max_buffer: int = 0
    heads: str = "single"
    freeze_head_from: int | None = None

    def __post_init__(self) -> None:
        if self.train.batch_size is None:
            raise ValueError("train.batch_size must be the overall minibatch size B, not None")
        if self.num_tasks < 1 or self.max_buffer < 0:
            raise ValueError(
                f"num_tasks must be >= 1 and max_buffer >= 0, got {self.num_tasks}, "
                f"{self.max_buffer}"
            )
        if self.heads not in HEADS:
            raise ValueError(f"heads must be one of {HEADS}, got {self.heads!r}")
        if self.freeze_head_from is not None and not 0 <= self.freeze_head_from < self.num_tasks:
            raise ValueError(f"freeze_head_from must be a task index, got {self.freeze_head_from}")

    @property
    def logs_per_task(self) -> int:
        return self.train.steps // self.train.log_every


class ContinualResult(NamedTuple):
    """Final states (leading run axis R) and the parameters at every log: ``snapshots`` has
    leaves (R, T, logs_per_task, ...), the entry [r, t, l] after (l + 1) log_every steps of task
    t; ``diverged`` (R, T, logs_per_task) the divergence flag there."""

    state: RunState
    snapshots: Params
    diverged: np.ndarray

    def diverged_steps(self, log_every: int) -> list[int | None]:
        """Per run, the step (counted from the start of the first task) of the first log that
        flagged it diverged, None where none did (``log_every``: the config's)."""
        flags = self.diverged.reshape(self.diverged.shape[0], -1)
        return [int(np.argmax(row) + 1) * log_every if row.any() else None for row in flags]


def er_split(batch_size: int, finished_tasks: Any, has_buffer: Any) -> Any:
    """New samples in a minibatch of ``batch_size`` after ``finished_tasks`` tasks: the code's
    ``overall // (current_task + 2)`` with current_task = finished_tasks - 1, i.e.
    B // (finished_tasks + 1); all B when there is no buffer to replay (``has_buffer`` False or
    no finished task). Works on Python ints and traced arrays."""
    replay = jnp.logical_and(has_buffer, jnp.asarray(finished_tasks) > 0)
    return jnp.where(replay, batch_size // (jnp.asarray(finished_tasks) + 1), batch_size)


def buffer_indices(key: jax.Array, num_tasks: int, classes: int, n: int, slots: int) -> jax.Array:
    """A run's buffer slots (T, K, slots): per class, the first ``slots`` entries of a random
    permutation of its n training samples (a buffer of size b keeps the first b)."""
    keys = jax.random.split(key, num_tasks * classes)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n)[:slots])(keys)
    return perms.reshape(num_tasks, classes, slots)


def run_buffer(key: jax.Array, shape: tuple[int, int, int], max_buffer: int) -> jax.Array:
    """A run's buffer slots (T, K, max(max_buffer, 1)) from its data key (``RunState.key``, which
    training leaves unchanged) for tasks of shape (T, K, n): what ``train_continual`` replays, so
    that a measurement can read the same buffer (a buffer of size b is slots [..., :b])."""
    return buffer_indices(jax.random.fold_in(key, BUFFER_STREAM), *shape, max(max_buffer, 1))


def minibatch(
    key: jax.Array,
    task: Any,
    buffer_size: Any,
    slots: jax.Array,
    x: jax.Array,
    batch_size: int,
) -> tuple[jax.Array, jax.Array]:
    """One mixed minibatch of task ``task``: inputs (B, D) and global labels (B,). The first
    ``er_split`` entries are new samples (uniform over the task's classes and samples), the rest
    buffer samples (uniform over the valid slots i < buffer_size of the finished tasks' classes).

    Args:
        key: the step's PRNG key.
        task: t, the current task (traced).
        buffer_size: b, samples per class in the buffer (traced).
        slots: the buffer's slots (T, K, max_buffer) from ``buffer_indices``.
        x: the training inputs (T, K, n, D).
        batch_size: B.
    """
    _, classes, n, _ = x.shape
    k_class, k_sample, k_buffer = jax.random.split(key, 3)
    new_class = jax.random.randint(k_class, (batch_size,), 0, classes)
    new_sample = jax.random.randint(k_sample, (batch_size,), 0, n)
    valid = task * classes * buffer_size
    per_class = jnp.maximum(buffer_size, 1)
    draw = jax.random.randint(k_buffer, (batch_size,), 0, jnp.maximum(valid, 1))
    old_class, slot = draw // per_class, draw % per_class
    old_task, old_k = old_class // classes, old_class % classes
    old_sample = slots[old_task, old_k, jnp.minimum(slot, slots.shape[2] - 1)]
    is_new = jnp.arange(batch_size) < er_split(batch_size, task, buffer_size > 0)
    inputs = jnp.where(
        is_new[:, None], x[task, new_class, new_sample], x[old_task, old_k, old_sample]
    )
    labels = jnp.where(is_new, task * classes + new_class, old_class)
    return inputs, labels


def _freeze_last(frozen: jax.Array, new: Params, old: Params) -> Params:
    """``new`` with its last layer (the last entry of the parameter list) taken from ``old``
    where ``frozen``."""
    last = jax.tree_util.tree_map(lambda a, b: jnp.where(frozen, b, a), new[-1], old[-1])
    return [*new[:-1], last]


@program_cache(maxsize=16)
def compiled_continual(model: Any, config: ContinualConfig, mesh: Mesh | None = None):
    """jit(vmap(one run's whole sequence of tasks)) ((state, buffer_size), data_x) ->
    (state, snapshots, diverged), cached per (model, config, mesh); with a ``mesh``, every
    device trains its share of the runs (``per_device``: runs never interact)."""
    update = make_update(model, dataclasses.replace(update_config(config.train), batch_size=None))
    batch, multi = config.train.batch_size, config.heads == "multi"
    freeze_from = config.num_tasks if config.freeze_head_from is None else config.freeze_head_from

    def one_run(state: RunState, buffer_size: jax.Array, x: jax.Array):
        num_tasks, classes, _, _ = x.shape
        slots = run_buffer(state.key, x.shape[:3], config.max_buffer)

        def step(task, s: RunState) -> RunState:
            key = jax.random.fold_in(s.key, s.step)
            inputs, labels = minibatch(key, task, buffer_size, slots, x, batch)
            if multi:
                inputs = task_inputs(inputs, labels // classes)
            targets = jax.nn.one_hot(labels, num_tasks * classes, dtype=inputs.dtype)
            out = update(s, TrainData(inputs, labels, targets))
            return out._replace(params=_freeze_last(task >= freeze_from, out.params, s.params))

        def log_period(start: RunState, task):
            end = jax.lax.fori_loop(0, config.train.log_every, lambda _, s: step(task, s), start)
            end = guard_divergence(start, end)
            return end, (end.params, end.diverged)

        def one_task(s: RunState, task):
            tasks = jnp.full((config.logs_per_task,), task)
            return jax.lax.scan(log_period, s, tasks)

        return jax.lax.scan(one_task, state, jnp.arange(num_tasks))

    def program(runs: tuple[RunState, jax.Array], x: jax.Array):
        state, (snapshots, diverged) = jax.vmap(one_run, in_axes=(0, 0, None))(*runs, x)
        return state, snapshots, diverged

    return jax.jit(per_device(program, mesh))


def train_continual(
    model: Any,
    config: ContinualConfig,
    data: ContinualData,
    state: RunState,
    buffer_size: Any,
    devices: Any = None,
) -> ContinualResult:
    """Train R runs (``state`` from ``init_runs``; a ``TaskHeads`` model for heads "multi") on
    the tasks of ``data`` one after another, with a class-balanced replay buffer of
    ``buffer_size`` (R,) samples per class (0: no replay), as one compiled program; the runs
    are split over the largest number of ``devices`` that divides R (``run_mesh``; None: one
    device, e.g. a ``TrainContext``'s ``devices`` to use every CPU core)."""
    if data.num_tasks != config.num_tasks:
        raise ValueError(f"data has {data.num_tasks} tasks, the config {config.num_tasks}")
    if config.heads == "multi" and not isinstance(model, TaskHeads):
        raise ValueError("heads 'multi' trains a TaskHeads model")
    sizes = np.broadcast_to(np.asarray(buffer_size, np.int32), state.step.shape)
    if sizes.min() < 0 or sizes.max() > min(config.max_buffer, data.x.shape[2]):
        raise ValueError(
            f"buffer sizes must lie in [0, max_buffer = {config.max_buffer}] and not exceed the "
            f"{data.x.shape[2]} samples of a class, got {sizes}"
        )
    dtype = jax.tree_util.tree_leaves(state.params)[0].dtype
    mesh = None if devices is None else run_mesh(len(sizes), devices)
    program = compiled_continual(model, config, mesh)
    final, snapshots, diverged = program((state, jnp.asarray(sizes)), jnp.asarray(data.x, dtype))
    return ContinualResult(final, snapshots, np.asarray(diverged))
