"""nc_jax.train.continual_readout: the own-head and train accuracies and the features of a tiny
trained model against a float64 NumPy forward pass, and the probe convention (single head: one
probe on every seen class; multi-head: one probe per task) against probes fit run by run."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.data import gaussian
from nc_jax.metrics.probes import fit_logistic, probe_accuracy
from nc_jax.models import MLP
from nc_jax.train import TrainConfig, init_runs
from nc_jax.train.continual import ContinualConfig, TaskHeads, split_tasks, train_continual
from nc_jax.train.continual_readout import class_feature_means, read_tasks, snapshot_at

T, K, N, M, D, P = 3, 2, 12, 10, 5, 6
C, MAX_ITER, TOL = 10.0, 150, 1e-8


def _trained(heads: str, seeds: list[int], separation: float = 3.0):
    """A ReLU layer of P features under a linear head, trained 20 steps per task with a buffer
    of 2: (model, snapshots, data). The head rows of the classes not yet trained are set to a
    large constant, so that a readout that read them would predict them (features are >= 0)."""
    ds = gaussian(num_classes=T * K, n_per_class=N + M, dim=D, separation=separation, seed=4)
    data = split_tasks(ds.x, ds.y, T, K, N, M)
    train = TrainConfig(
        steps=20,
        log_every=10,
        loss="cross_entropy",
        reduction="mean",
        batch_size=8,
        metrics=False,
    )
    mlp = MLP((P, T * K), num_linear=1)
    model = mlp if heads == "single" else TaskHeads(mlp, K)
    dim = D + (heads == "multi")
    state = init_runs(model, train, dim, 0.1, 1e-3, seeds)
    config = ContinualConfig(train, T, max_buffer=2, heads=heads)
    snapshots = train_continual(model, config, data, state, [2] * len(seeds)).snapshots
    head = np.array(snapshots[1]["w"])  # (R, T, logs, T K, P)
    for i in range(T):
        head[:, i, :, (i + 1) * K :] = 50.0
    return model, [snapshots[0], {"w": jnp.asarray(head)}], data


def _numpy_forward(snapshots, r: int, i: int, x: np.ndarray):
    """Run r's penultimate features and logits after task i on inputs x (K, n, D), NumPy."""
    w0, w1 = (np.asarray(layer["w"][r, i, -1], np.float64) for layer in snapshots)
    features = np.maximum(x.reshape(-1, D).astype(np.float64) @ w0.T, 0.0)
    return features, features @ w1.T


@pytest.mark.parametrize("heads", ["single", "multi"])
def test_own_head_and_train_accuracies_and_features_are_a_numpy_forward_pass(heads):
    model, snapshots, data = _trained(heads, [0, 1])
    read = read_tasks(model, snapshots, data, C, MAX_ITER, TOL)
    assert read.own.shape == read.probe.shape == (2, T, T)
    assert read.first_task_features.shape == read.features.shape == (2, T, K * N, P)
    labels = np.arange(T * K).reshape(T, K, 1)
    for r in range(2):
        for i in range(T):
            for j in range(T):
                _, logits = _numpy_forward(snapshots, r, i, data.x_test[j])
                if j > i:
                    assert np.isnan(read.own[r, i, j]) and np.isnan(read.probe[r, i, j])
                    continue
                # single head: the classes seen so far; multi-head: task j's own head
                first, last = (0, (i + 1) * K) if heads == "single" else (j * K, (j + 1) * K)
                predicted = first + np.argmax(logits[:, first:last], 1)
                expected = np.mean(predicted == np.repeat(labels[j], M))
                assert read.own[r, i, j] == pytest.approx(expected, abs=1e-15)
            _, logits = _numpy_forward(snapshots, r, i, data.x[i])
            first = 0 if heads == "single" else i * K
            predicted = first + np.argmax(logits[:, first : (i + 1) * K], 1)
            expected = np.mean(predicted == np.repeat(labels[i], N))
            assert read.train_accuracy[r, i] == pytest.approx(expected, abs=1e-15)
            first_task = _numpy_forward(snapshots, r, i, data.x[0])[0]
            np.testing.assert_allclose(
                read.first_task_features[r, i], first_task, rtol=1e-12, atol=1e-12
            )
        for t in range(T):
            final = _numpy_forward(snapshots, r, T - 1, data.x[t])[0]
            np.testing.assert_allclose(read.features[r, t], final, rtol=1e-12, atol=1e-12)
            test = _numpy_forward(snapshots, r, T - 1, data.x_test[t])[0]
            np.testing.assert_allclose(read.test_features[r, t], test, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(read.params[1]["w"], np.asarray(snapshots[1]["w"][:, -1, -1]))
    assert 0.0 < np.nanmin(read.own) < 1.0  # the fixture is neither trivial nor hopeless
    with pytest.raises(ValueError, match="3 tasks, the data 2"):
        read_tasks(model, snapshots, data._replace(x=data.x[:2], x_test=data.x_test[:2]))


def test_class_feature_means_at_every_read_are_a_numpy_forward_pass():
    model, snapshots, data = _trained("single", [0, 1])
    with jax.enable_x64(True):
        for i, read in ((0, 0), (1, -1), (2, 1)):
            params = snapshot_at(snapshots, i, read)
            assert all(leaf.dtype == jnp.float64 for leaf in jax.tree_util.tree_leaves(params))
            means = class_feature_means(model, params, data.x[1], 1)
            assert means.shape == (2, K, P)
            for r in range(2):
                w0 = np.asarray(snapshots[0]["w"][r, i, read], np.float64)
                x = data.x[1].astype(np.float64)  # (K, N, D)
                expected = np.maximum(x @ w0.T, 0.0).mean(1)
                np.testing.assert_allclose(means[r], expected, rtol=1e-12, atol=1e-12)


def _probe(z, y, classes, tests) -> list[float]:
    """One probe fit on (z, y), scored on each (test features, test labels) of ``tests``."""
    with jax.enable_x64(True):
        probe = fit_logistic(jnp.asarray(z), jnp.asarray(y), classes, C, TOL, MAX_ITER)
        return [float(probe_accuracy(probe, jnp.asarray(t), jnp.asarray(lab))) for t, lab in tests]


def _single_head_probes(read, i):
    """A*_{i, j} of one run: one probe on the final train features of tasks 0..i, scored on
    each task's test features."""
    z = read.features[0, : i + 1].reshape(-1, P)
    y = np.repeat(np.arange((i + 1) * K), N)
    tests = [(read.test_features[0, j], np.repeat(np.arange(K) + j * K, M)) for j in range(i + 1)]
    return _probe(z, y, (i + 1) * K, tests)


def _multi_head_probes(read, i):
    """A*_{i, j} of one run: per task j, one probe on its own K classes."""
    y, test_labels = np.repeat(np.arange(K), N), np.repeat(np.arange(K), M)
    return [
        _probe(read.features[0, j], y, K, [(read.test_features[0, j], test_labels)])[0]
        for j in range(i + 1)
    ]


@pytest.mark.parametrize("heads", ["single", "multi"])
def test_probe_accuracies_follow_the_codes_single_and_multi_head_convention(heads):
    """After the last task (features = the final ones): single head, one probe on every seen
    class; multi-head, one probe per task. The fixture's classes overlap, so that the two
    conventions give different accuracies (the test could not pass with the other one)."""
    model, snapshots, data = _trained(heads, [3], separation=1.0)
    read = read_tasks(model, snapshots, data, C, MAX_ITER, TOL)
    single, multi = _single_head_probes(read, T - 1), _multi_head_probes(read, T - 1)
    expected, other = (single, multi) if heads == "single" else (multi, single)
    np.testing.assert_allclose(read.probe[0, -1], expected, atol=1e-12)
    assert not np.allclose(read.probe[0, -1], other)
