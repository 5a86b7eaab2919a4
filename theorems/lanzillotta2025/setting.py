"""The setting of Lanzillotta, Meier, Hofmann (ICLR 2026) and the function that trains and
measures its runs (docs/theory/lanzillotta2025.md).

One cell trains three kinds of run on the same tasks (classes split into ``num_tasks`` tasks of
``classes_per_task``), each kind as one compiled program (nc_jax.train.continual):

- replay runs, one per (buffer size b, seed): an MLP (ReLU layers ``widths``, bias-free linear
  head) trained task after task with class-balanced experience replay of b samples per class,
  the authors' minibatch split, SGD with coupled weight decay and the mean cross entropy;
  measured after every task: own-head accuracies A_ij, linear probes A*_ij on the frozen
  penultimate features (fit on the train features of the seen classes, scored on test), the
  SNR of the first task's classes, the ranks of the class means;
- frozen runs, one per ``frozen_seeds`` entry: a linear feature map phi = A x under a frozen
  bias-free head, trained in float64 on each task's data only (no replay), for the exact
  S-perp decay; and a Monte-Carlo draw of the two-component mixture for its closed form;
- decay runs, one per ``decay_seeds`` entry: the replay network with a trainable single head
  over the first two tasks' classes, no replay, trained on those two tasks with
  ``decay_weight_decay``, its parameters read ``decay_logs`` times per task, for the S-perp
  decay of the first task's class means while the second task trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks import CellOutcome, SettingError, complete_quantities
from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    measured_outcomes,
    outcomes_by_kind,
    run_bucket,
    run_values,
)
from nc_jax.checks.fields import at_least, checked, each, inside, one_of, positive, validate_fields
from nc_jax.checks.validate import check_dataset
from nc_jax.data import gaussian, load_dataset
from nc_jax.metrics.collapse import nc3_cosines, pairwise_snr
from nc_jax.metrics.forgetting import forgetting
from nc_jax.metrics.probes import LDA_COUNTERFACTUALS, lda_counterfactuals
from nc_jax.metrics.stats import class_stats
from nc_jax.models import MLP
from nc_jax.train import TrainConfig, init_runs
from nc_jax.train.continual import (
    ContinualConfig,
    ContinualData,
    ContinualResult,
    TaskHeads,
    run_buffer,
    split_tasks,
    train_continual,
)
from nc_jax.train.continual_readout import class_feature_means, read_tasks, snapshot_at
from theorems.lanzillotta2025 import measure
from theorems.lanzillotta2025.bounds import THEOREMS

if TYPE_CHECKING:
    from nc_jax.checks.context import TrainContext

DATASETS = ("gaussian", "mnist5k")
HEADS = ("single", "multi")
KINDS = ("replay", "frozen", "decay")  # the kinds of run of a cell
MNIST5K_PER_CLASS = 500
PROBE_TOL = 1e-6  # gradient norm of the probe's mean objective at which L-BFGS stops
NAN = float("nan")


@dataclass(frozen=True)
class Setting:
    """Replay on a sequence of tasks (defaults: the notes' small Gaussian instance, 2 tasks of 5
    classes, about a minute on 2 CPU cores).

    Attributes:
        dataset: "gaussian" (classes at separation * orthonormal directions + N(0, I), from
            seed 0) or "mnist5k" (embedded MNIST, standardised; 500 images per digit).
        num_tasks: T, tasks trained one after another.
        classes_per_task: K, classes per task (T K <= 10).
        n_train: training samples per class.
        n_test: test samples per class (after the training ones).
        input_dim: D of the gaussian tasks.
        separation: distance scale of the gaussian class centres.
        widths: widths of the ReLU layers; the last is the feature dimension p.
        heads: "single" (class-incremental, one head of T K) or "multi" (one head per task).
        learning_rate: SGD learning rate eta.
        weight_decay: coupled weight decay lambda.
        batch_size: the overall minibatch B (new + buffer samples).
        steps: SGD steps per task (every task the same).
        buffer_sizes: samples per class in the replay buffer b (0: no replay), one run each.
        seeds: initialisation, buffer and data-order seeds of the replay runs.
        probe_c: the probes' inverse L2 strength C (scikit-learn's convention).
        probe_max_iter: L-BFGS iterations of a probe at most.
        frozen_seeds: one linear frozen-head run and one mixture draw per seed (empty: none).
        frozen_width: p of the linear feature map (> T K, so that S-perp is not empty).
        frozen_weight_decay: lambda of the frozen-head runs.
        frozen_steps: steps per task of the frozen-head runs.
        mixture_pi: pi, the weight of the collapsed component of the mixture.
        mixture_samples: Monte-Carlo draws per class of the mixture.
        decay_seeds: one decay run per seed (empty: none).
        decay_weight_decay: lambda of the decay runs (eta lambda sets the predicted decay).
        decay_logs: parameter reads per task of the decay runs (>= 6, dividing ``steps``).
    """

    dataset: str = checked("gaussian", one_of(DATASETS))
    num_tasks: int = checked(2, at_least(2))
    classes_per_task: int = checked(5, at_least(2))
    n_train: int = checked(500, at_least(2))
    n_test: int = checked(200, at_least(1))
    input_dim: int = checked(20, at_least(1))
    separation: float = checked(6.0, positive())
    widths: tuple[int, ...] = checked((128, 32), each(at_least(1)))
    heads: str = checked("single", one_of(HEADS))
    learning_rate: float = checked(0.05, positive())
    weight_decay: float = checked(5e-4, at_least(0.0))
    batch_size: int = checked(64, at_least(1))
    steps: int = checked(3000, at_least(1))
    buffer_sizes: tuple[int, ...] = checked((0, 1, 2, 5, 20, 100, 500), each(at_least(0)))
    seeds: tuple[int, ...] = checked((0, 1), each(at_least(0)))
    probe_c: float = checked(10.0, positive())
    probe_max_iter: int = checked(2000, at_least(1))
    frozen_seeds: tuple[int, ...] = (0,)
    frozen_width: int = 16
    frozen_weight_decay: float = checked(5e-3, at_least(0.0))
    frozen_steps: int = checked(300, at_least(1))
    mixture_pi: float = checked(0.15, inside(0, 1))
    mixture_samples: int = checked(400000, at_least(10 * measure.MIXTURE_BATCHES))
    decay_seeds: tuple[int, ...] = (0,)
    decay_weight_decay: float = checked(5e-3, at_least(0.0))
    decay_logs: int = checked(10, at_least(6))

    RUN_FIELDS = ("buffer_sizes", "seeds", "frozen_seeds", "decay_seeds")

    def __post_init__(self) -> None:
        validate_fields(self)
        check_dataset(self.dataset, None)
        if self.num_tasks * self.classes_per_task > 10:
            raise SettingError("num_tasks", "num_tasks x classes_per_task must be <= 10 classes")
        if self.dataset == "mnist5k" and self.n_train + self.n_test > MNIST5K_PER_CLASS:
            raise SettingError("n_test", f"n_train + n_test must be <= {MNIST5K_PER_CLASS}")
        if self.batch_size > self.n_train:
            raise SettingError("batch_size", f"must lie in [1, n_train = {self.n_train}]")
        if max(self.buffer_sizes) > self.n_train:
            raise SettingError("buffer_sizes", f"must lie in [0, n_train = {self.n_train}]")
        if self.steps % self.decay_logs:
            raise SettingError("decay_logs", f"must divide steps = {self.steps}")
        if self.frozen_width <= self.num_tasks * self.classes_per_task:
            raise SettingError("frozen_width", "must exceed num_tasks x classes_per_task")

    @property
    def num_classes(self) -> int:
        return self.num_tasks * self.classes_per_task

    def runs(self) -> list[RunSpec]:
        """The replay runs, one per (buffer size, seed), buffer size major, then the frozen
        runs and the decay runs."""
        replay = [
            RunSpec(
                f"b={b} seed={seed}",
                {"run_kind": "replay", "buffer_size": int(b), "seed": int(seed)},
            )
            for b in self.buffer_sizes
            for seed in self.seeds
        ]
        others = [
            RunSpec(f"{kind} seed={s}", {"run_kind": kind, "buffer_size": 0, "seed": int(s)})
            for kind, seeds in (("frozen", self.frozen_seeds), ("decay", self.decay_seeds))
            for s in seeds
        ]
        return replay + others

    def tasks(self) -> ContinualData:
        """The tasks' train and test inputs by task and class (nc_jax.train.continual)."""
        per_class = self.n_train + self.n_test
        if self.dataset == "gaussian":
            ds = gaussian(self.num_classes, per_class, self.input_dim, self.separation, seed=0)
        else:
            ds = load_dataset("mnist5k")
        return split_tasks(
            ds.x, ds.y, self.num_tasks, self.classes_per_task, self.n_train, self.n_test
        )

    def model(self) -> Any:
        mlp = MLP((*self.widths, self.num_classes), num_linear=1)
        return mlp if self.heads == "single" else TaskHeads(mlp, self.classes_per_task)

    def config(self, max_buffer: int = 0, kind: str = "replay") -> ContinualConfig:
        """The continual training of a kind of run: ``replay`` (``heads``, one read per task,
        ``max_buffer`` slots per class: the largest b of the runs trained together, which may
        come from several cells of a bucket), ``frozen`` (single head frozen from the first
        task, ``frozen_steps`` per task) or ``decay`` (single head, the first two tasks,
        ``decay_logs`` reads per task)."""
        steps = self.frozen_steps if kind == "frozen" else self.steps
        train = TrainConfig(
            steps=steps,
            log_every=steps // (self.decay_logs if kind == "decay" else 1),
            loss="cross_entropy",
            reduction="mean",
            batch_size=self.batch_size,
            metrics=False,
        )
        heads = self.heads if kind == "replay" else "single"
        tasks = 2 if kind == "decay" else self.num_tasks
        return ContinualConfig(train, tasks, max_buffer, heads, 0 if kind == "frozen" else None)

    def cost(self) -> float:
        """Training FLOPs of one replay run: 6 x multiply-adds x B x T steps."""
        dim = self.input_dim if self.dataset == "gaussian" else 784
        per_sample = MLP((*self.widths, self.num_classes), 1).multiply_adds_per_sample(dim)
        return 6.0 * per_sample * self.batch_size * self.steps * self.num_tasks


def run(settings: Sequence[Setting], context: TrainContext) -> list[CellOutcome]:
    """Train and measure every run of the bucket (``train_and_measure``: each kind of run one
    program); ``finish_cell`` then compares each cell's replay runs with their seed's b = 0
    run."""
    return run_bucket(settings, context, train_and_measure)


def train_and_measure(
    settings: Sequence[Setting], runs: Sequence[PlannedRun], context: TrainContext
) -> list[RunOutcome]:
    """This process's replay, frozen and decay runs of the bucket, each kind one compiled
    program, its runs split over the context's devices."""
    first = settings[0]
    kinds = {"replay": _replay_outcomes, "frozen": _frozen_outcomes, "decay": _decay_outcomes}
    data = first.tasks()
    return outcomes_by_kind(
        runs, "run_kind", {k: partial(f, first, data, context.devices) for k, f in kinds.items()}
    )


def _replay_outcomes(
    setting: Setting, data: ContinualData, devices: Any, runs: list[PlannedRun]
) -> list[RunOutcome]:
    seeds, sizes = run_values(runs, "seed", "buffer_size")
    model, config = setting.model(), setting.config(int(sizes.max()))
    dim = data.x.shape[-1] + (1 if setting.heads == "multi" else 0)
    state = init_runs(model, config.train, dim, setting.learning_rate, setting.weight_decay, seeds)
    result = train_continual(model, config, data, state, sizes, devices)
    slots = np.asarray(
        jax.vmap(lambda k: run_buffer(k, data.x.shape[:3], setting.n_train))(state.key)
    )
    with jax.enable_x64(True):
        measured = _measure_tasks(setting, model, result, data, (slots, sizes), devices)

    def quantities(r: int) -> dict[str, float]:
        q = {key: float(value[r]) for key, value in measured.items()}
        q |= {"buffer_fraction": sizes[r] / setting.n_train}
        return _complete(q, setting, "replay")

    return measured_outcomes(result.diverged_steps(config.train.log_every), quantities)


def _measure_tasks(
    setting: Setting,
    model: Any,
    result: ContinualResult,
    data: ContinualData,
    buffers: tuple[np.ndarray, np.ndarray],
    devices: Any,
) -> dict[str, np.ndarray]:
    """Per run (arrays over the leading run axis R), from the library's task-by-task readout
    (nc_jax.train.continual_readout): forgetting with the own head and with probes, the first
    task's final accuracies, the own head's final accuracy on every task's test samples, the
    lowest train accuracy at a task's end, the SNR of the first task's classes after the first
    and the last task; on the final features, the class-mean ranks, the code's NC2/NC3 logs of
    the class means and head, and ``_buffer_quantities`` (``buffers``: ``slots`` (R, T, K, n),
    per class the permutation whose first b samples are the buffer, and ``sizes`` (R,), b); the
    probes are fit split over ``devices``."""
    K = setting.classes_per_task
    slots, sizes = buffers
    probes = (setting.probe_c, setting.probe_max_iter, PROBE_TOL, devices)
    read = read_tasks(model, result.snapshots, data, *probes)
    runs, T, _, p = read.features.shape
    train = read.features.reshape(runs, T * K, -1, p)  # by class (R, T K, n, p)
    means = train.mean(2)  # (R, T K, p)
    tests = read.test_features.reshape(runs, -1, p)
    test_labels = np.arange(T * K).repeat(data.x_test.shape[2])
    first = np.arange(K).repeat(data.x.shape[2])  # the labels of the first task's samples
    snr = np.array(
        [[pairwise_snr(class_stats(f, first, K)) for f in run] for run in read.first_task_features]
    )
    head = np.asarray(jax.tree_util.tree_leaves(read.params[-1])[0])  # the last layer (R, T K, p)
    centring = None if setting.heads == "single" else K
    order = slots.reshape(runs, T * K, -1)
    per_run = [
        measure.mean_ranks(means[r], K)
        | measure.code_nc_metrics(means[r], head[r], centring)
        | _buffer_quantities(train[r], tests[r], test_labels, order[r], sizes[r], (T - 1) * K)
        for r in range(runs)
    ]
    return {
        "forgetting_shallow": forgetting(read.own),
        "forgetting_deep": forgetting(read.probe),
        "first_task_final": read.own[:, -1, 0],
        "first_task_probe_final": read.probe[:, -1, 0],
        "own_final": read.own[:, -1].mean(-1),  # every task's test samples (equal counts)
        "train_accuracy_min": read.train_accuracy.min(1),
        "snr_first": snr[:, 0],
        "snr_last": snr[:, -1],
        "snr_retained": snr[:, -1] / snr[:, 0],
    } | {key: np.array([q[key] for q in per_run]) for key in per_run[0]}


COLLAPSE_QUANTITIES = ("buffer_variance_ratio", "buffer_norm_ratio")


def _buffer_quantities(
    train: np.ndarray,
    test: np.ndarray,
    test_labels: np.ndarray,
    order: np.ndarray,
    size: int,
    old_classes: int,
) -> dict[str, float]:
    """One run's LDA counterfactuals (b >= 2) and buffer collapse (2 <= b <= n / 2) on its final
    features, train by class (C, n, p) and test (M, p) with labels (M,); ``order`` (C, n) per
    class the permutation whose first b = ``size`` samples are the buffer. NaN where they do not
    apply."""
    q = dict.fromkeys((*LDA_COUNTERFACTUALS, *COLLAPSE_QUANTITIES), NAN)
    if size >= 2:
        q |= lda_counterfactuals(train, order[:, :size], test, test_labels)
    if 2 <= size <= order.shape[1] // 2:
        q |= measure.buffer_collapse(train, order, size, old_classes)
    return q


def _frozen_outcomes(
    setting: Setting, data: ContinualData, devices: Any, runs: list[PlannedRun]
) -> list[RunOutcome]:
    """One frozen-head run at a time (``_frozen_run``), in float64 on one device."""
    return [RunOutcome(_frozen_run(setting, data, r.params["seed"])) for r in runs]


def _frozen_run(setting: Setting, data: ContinualData, seed: int) -> dict[str, float]:
    """A linear feature map under a frozen head, trained in float64 on each task's data only:
    the S-perp error; and the mixture's Monte-Carlo SNR against its closed form."""
    model = MLP((setting.frozen_width, setting.num_classes), num_linear=2)
    config = setting.config(kind="frozen")
    lr, wd = setting.learning_rate, setting.frozen_weight_decay
    with jax.enable_x64(True):
        state = init_runs(model, config.train, data.x.shape[-1], lr, wd, [seed], jnp.float64)
        result = train_continual(model, config, data._replace(x=np.float64(data.x)), state, [0])
        a0, head = np.asarray(state.params[0]["w"][0]), np.asarray(state.params[1]["w"][0])
        a_t = np.asarray(result.state.params[0]["w"][0])
    steps = setting.num_tasks * setting.frozen_steps
    q = measure.perp_error(a0, a_t, head, (1 - lr * wd) ** steps)
    instance = measure.mixture_instance(setting.mixture_pi)
    q |= measure.mixture_snr_monte_carlo(instance, setting.mixture_samples, seed)
    q |= {"snr_closed_form": measure.mixture_snr_closed_form(instance), "eta_lambda": lr * wd}
    q |= {"head_moved": float(np.abs(np.asarray(result.state.params[1]["w"][0]) - head).max())}
    return _complete(q, setting, "frozen")


def _decay_outcomes(
    setting: Setting, data: ContinualData, devices: Any, runs: list[PlannedRun]
) -> list[RunOutcome]:
    """The decay runs (module docstring), one program: per run, the S-perp norm of the first
    task's class means at every read of the second half of the second task (``decay_logs`` / 2
    + 1 reads, t0 the first) against its steps, fitted as a rate relative to log upsilon
    (measure.decay_rate), and the NC3 of the second task's classes at t0 (the mean cosine of
    their head rows with their centred means)."""
    (seeds,) = run_values(runs, "seed")
    lr, wd = setting.learning_rate, setting.decay_weight_decay
    K = setting.classes_per_task
    model = MLP((*setting.widths, 2 * K), num_linear=1)  # a head over the two tasks' classes
    config = setting.config(kind="decay")
    two = ContinualData(data.x[:2], data.x_test[:2])
    state = init_runs(model, config.train, data.x.shape[-1], lr, wd, seeds)
    result = train_continual(model, config, two, state, np.zeros(len(seeds), int), devices)
    first = setting.decay_logs // 2 - 1  # t0: the read after half of the second task
    every = setting.steps // setting.decay_logs
    steps = every * np.arange(setting.decay_logs - first)
    with jax.enable_x64(True):
        reads = [snapshot_at(result.snapshots, 1, j) for j in range(first, setting.decay_logs)]
        # class means (reads, R, K, p) of the first (old) and the second (current) task
        old, new = (
            np.stack([class_feature_means(model, p, two.x[t], t) for p in reads]) for t in (0, 1)
        )
    heads = np.asarray(jax.tree_util.tree_leaves(reads[0][-1])[0])[:, K : 2 * K]  # at t0

    def quantities(r: int) -> dict[str, float]:
        norms = np.array([measure.perp_norm(o[r], n[r]) for o, n in zip(old, new)])
        current = new[0, r] - new[0, r].mean(0)
        q = measure.decay_rate(steps, norms, 1 - lr * wd)
        q |= {"decay_nc3": float(np.mean(nc3_cosines(heads[r], current))), "eta_lambda": lr * wd}
        return _complete(q, setting, "decay")

    return measured_outcomes(result.diverged_steps(config.train.log_every), quantities)


def _complete(q: dict[str, float], setting: Setting, kind: str) -> dict[str, float]:
    """Every run reports every quantity the checks read (NaN where it does not apply), its kind
    (``is_replay``, ``is_frozen``, ``is_decay``: 1 or 0) and the cell's shape."""
    cell = {
        **{f"is_{name}": float(kind == name) for name in KINDS},
        "num_tasks": float(setting.num_tasks),
        "classes_per_task": float(setting.classes_per_task),
        "feature_dim": float(setting.widths[-1]),
        "multi_head": float(setting.heads == "multi"),
        "n_train": float(setting.n_train),
        "n_test": float(setting.n_test),
    }
    return complete_quantities(q | cell, THEOREMS)


def finish_cell(setting: Setting, outcome: CellOutcome) -> CellOutcome:
    """Each replay run with b > 0 compared with the runs of its seed with b = 0 and with the
    full buffer b = n_train (measure.against_references: the remaining fractions of deep and
    shallow forgetting, their noise allowance, the SNR retained without replay)."""
    records = [r for r in outcome.runs if r.quantities and r.params["run_kind"] == "replay"]

    def by_seed(size: int) -> dict[int, dict[str, float]]:
        return {r.params["seed"]: r.quantities for r in records if r.params["buffer_size"] == size}

    none, full = by_seed(0), by_seed(setting.n_train)
    for record in records:
        seed = record.params["seed"]
        if record.params["buffer_size"] > 0 and seed in none:
            record.quantities.update(
                measure.against_references(record.quantities, none[seed], full.get(seed))
            )
    return outcome
