"""Reading a continual training task by task: the accuracies of its own head and of linear
probes on its frozen penultimate features after every task, in float64.

``read_tasks`` takes the parameter snapshots of ``nc_jax.train.continual.train_continual`` (R
runs) and, at the end of every task i, runs every run's network on the tasks trained so far
(j <= i), as one compiled program per task shape (jit of vmap over runs):

- the own-head accuracy A_ij on the test samples of task j: single head, the argmax over the
  (i + 1) K classes seen so far (the outputs of later classes are ignored); multi-head
  (``TaskHeads``), task j's head;
- the probe accuracy A*_ij: multinomial logistic probes (``nc_jax.metrics.probes``) fit on the
  frozen *train* features and scored on the test features, as the ``feature_forgetting`` of
  Lanzillotta, Meier and Hofmann's code (ICLR 2026, "Heads collapse, features stay"): single
  head, ONE probe on the train features of every class seen so far, scored on each task j;
  multi-head, one probe per task j on its own K classes;
- the train accuracy on task i at the end of task i, the first task's train features after
  every task, and every task's train and test features after the last task.

Entries A_ij with j > i (tasks not yet trained) are NaN. ``nc_jax.metrics.forgetting`` reads
forgetting from A and A*.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics.probes import fit_logistic, probe_accuracy
from nc_jax.models.base import Params
from nc_jax.train.cache import program_cache
from nc_jax.train.continual import ContinualData, TaskHeads, task_inputs
from nc_jax.train.devices import per_device, run_mesh


class TaskReadout(NamedTuple):
    """What ``read_tasks`` reads of R runs on T tasks of K classes (n train and m test samples
    per class, features of dimension p), float64 NumPy arrays; a task's samples are ordered
    class by class (class k of task t has the global label t K + k).

    Attributes:
        own: (R, T, T), [r, i, j] the own-head test accuracy on task j after task i (NaN for
            j > i).
        probe: (R, T, T), the probe test accuracy A*_ij (NaN for j > i).
        train_accuracy: (R, T), [r, i] the own-head train accuracy on task i at the end of it.
        first_task_features: (R, T, K n, p), [r, i] the train features of task 0 after task i.
        features: (R, T, K n, p), [r, t] the train features of task t after the last task.
        test_features: (R, T, K m, p), the test features of every task after the last task.
        params: every run's parameters after the last task (leaves (R, ...), float64).
    """

    own: np.ndarray
    probe: np.ndarray
    train_accuracy: np.ndarray
    first_task_features: np.ndarray
    features: np.ndarray
    test_features: np.ndarray
    params: Params


def read_tasks(
    model: Any,
    snapshots: Params,
    data: ContinualData,
    probe_c: float = 10.0,
    probe_max_iter: int = 5000,
    probe_tol: float = 1e-6,
    devices: Any = None,
) -> TaskReadout:
    """Read R runs at the end of every task (module docstring), in float64.

    Args:
        model: the trained model; a ``TaskHeads`` model is read multi-head, any other single
            head.
        snapshots: ``ContinualResult.snapshots``, leaves (R, T, logs_per_task, ...); the last
            log of task i is the network after task i.
        data: the tasks, train x (T, K, n, D) and test x_test (T, K, m, D).
        probe_c: the probes' inverse L2 strength C (scikit-learn's convention; the code's 10).
        probe_max_iter: L-BFGS iterations of a probe at most (the code's 5000).
        probe_tol: gradient norm of a probe's mean objective at which L-BFGS stops.
        devices: the probes of the R runs are fit split over the largest number of these that
            divides R (``run_mesh``; None: one device).

    Raises:
        ValueError: when the snapshots and the data hold different numbers of tasks.
    """
    T, K, n, _ = data.x.shape
    labels = np.arange(T * K).repeat(n).reshape(T, K * n)
    test_labels = np.arange(T * K).repeat(data.x_test.shape[2]).reshape(T, -1)
    runs, tasks = jax.tree_util.tree_leaves(snapshots)[0].shape[:2]
    if tasks != T:
        raise ValueError(f"the snapshots hold {tasks} tasks, the data {T}")
    own, probe = np.full((runs, T, T), np.nan), np.full((runs, T, T), np.nan)
    train_accuracy, first_task = np.full((runs, T), np.nan), []
    mesh = None if devices is None else run_mesh(runs, devices)
    fit = functools.partial(
        _fit_probes, c=probe_c, max_iter=probe_max_iter, tol=probe_tol, mesh=mesh
    )
    single = not isinstance(model, TaskHeads)
    with jax.enable_x64(True):
        for i in range(T):
            params = snapshot_at(snapshots, i, -1)
            seen = (i + 1) * K  # the classes of the tasks trained so far
            train = [forward_task(model, params, data.x[t], t) for t in range(i + 1)]
            test = [forward_task(model, params, data.x_test[t], t) for t in range(i + 1)]
            train_accuracy[:, i] = _accuracy(train[i][1][..., :seen], labels[i])
            for j in range(i + 1):
                own[:, i, j] = _accuracy(test[j][1][..., :seen], test_labels[j])
            features, tests = [f for f, _ in train], [g for g, _ in test]
            probe[:, i, : i + 1] = _probe_accuracies(
                fit, features, tests, labels, test_labels, K, single
            )
            first_task.append(features[0])
    return TaskReadout(
        own,
        probe,
        train_accuracy,
        np.stack(first_task, 1),
        np.stack(features, 1),
        np.stack(tests, 1),
        params,
    )


def snapshot_at(snapshots: Params, task: int, read: int) -> Params:
    """Every run's parameters at one read (``read``: its index among the reads of the task,
    -1 the task's end) of one ``task``, leaves (R, ...) in float64 (inside
    ``jax.enable_x64``), from ``ContinualResult.snapshots`` (leaves (R, T, logs_per_task,
    ...))."""
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a[:, task, read], jnp.float64), snapshots)


def class_feature_means(model: Any, params: Params, x: np.ndarray, task: int) -> np.ndarray:
    """Per run, the mean penultimate feature of each class of one task's inputs x (K, n, D):
    (R, K, p), in float64 (``forward_task``)."""
    features = forward_task(model, params, x, task)[0]
    return features.reshape(features.shape[0], x.shape[0], x.shape[1], -1).mean(2)


def forward_task(model: Any, params: Params, x: np.ndarray, task: int) -> tuple[np.ndarray, ...]:
    """Penultimate features (R, K n, p) and logits (R, K n, T K) of every run (``params``,
    leaves (R, ...)) on the inputs of one task x (K, n, D), in float64 (inside
    ``jax.enable_x64``); a multi-head model reads its ``task`` head."""
    inputs = jnp.asarray(x.reshape(-1, x.shape[-1]), jnp.float64)
    features, logits = _forward_runs(model, params, inputs, task)
    return np.asarray(features), np.asarray(logits)


@functools.partial(jax.jit, static_argnums=(0,))
def _forward_runs(model: Any, params: Params, inputs: jax.Array, task: jax.Array):
    """``forward_task`` as one compiled program per model and shape (a TaskHeads model's layer
    record is its inner model's)."""
    if isinstance(model, TaskHeads):
        inputs = task_inputs(inputs, task)

    def one(p):
        logits, layers = model.apply(p, inputs)
        return layers.features[-2], logits

    return jax.vmap(one)(params)


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per run (R,), the fraction of argmax(logits (R, N, C)) equal to labels (N,)."""
    return (np.argmax(logits, -1) == labels).mean(-1)


def _fit_probes(
    z: Any, y: Any, num_classes: int, c: float, max_iter: int, tol: float, mesh: Any
) -> Any:
    """One logistic probe per run: features z (R, N, p), labels y (N,) in [0, num_classes);
    the runs split over ``mesh`` (None: one device)."""
    return _probe_program(num_classes, max_iter, mesh)(jnp.asarray(z), jnp.asarray(y), c, tol)


@program_cache(maxsize=32)
def _probe_program(num_classes: int, max_iter: int, mesh: Any):
    """jit of the probes of R runs (vmap over runs, split over ``mesh`` by ``per_device``),
    one program per class count, iteration cap and mesh."""

    def fit(z: jax.Array, y: jax.Array, c: jax.Array, tol: jax.Array) -> Any:
        return jax.vmap(lambda f: fit_logistic(f, y, num_classes, c, tol, max_iter))(z)

    return jax.jit(per_device(fit, mesh, shared=3, check_vma=False))


def _probe_accuracies(
    fit: Any,
    features: list[np.ndarray],
    tests: list[np.ndarray],
    labels: np.ndarray,
    test_labels: np.ndarray,
    classes_per_task: int,
    single: bool,
) -> np.ndarray:
    """A*_ij (R, i + 1) after task i = len(features) - 1, from the train and test features of
    the tasks j <= i (each (R, K n, p) and (R, K m, p)) and the global labels by task, train
    (T, K n) and test (T, K m): single head, one probe on every seen class; multi-head, one
    probe per task on its own classes (labels shifted to [0, K))."""
    i, K = len(features) - 1, classes_per_task
    if single:
        probes = fit(np.concatenate(features, 1), labels[: i + 1].reshape(-1), (i + 1) * K)
        fits = [(probes, 0)] * (i + 1)
    else:
        fits = [(fit(features[j], labels[j] - j * K, K), j * K) for j in range(i + 1)]
    score = jax.vmap(probe_accuracy, in_axes=(0, 0, None))
    accuracies = [
        score(probes, jnp.asarray(tests[j]), jnp.asarray(test_labels[j] - offset))
        for j, (probes, offset) in enumerate(fits)
    ]
    return np.stack([np.asarray(a) for a in accuracies], axis=1)
