"""nc_jax.train.continual: the replay minibatch (the authors' split, buffer slots masked to a
fixed shape), independence of the vmapped runs, the frozen head (the S-perp part of a linear
feature map decays exactly as (1 - eta lambda)^t: a closed form), and the multi-head wrapper."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.data import gaussian
from nc_jax.models import MLP
from nc_jax.train import TrainConfig, cast_runs, init_runs
from nc_jax.train.continual import (
    MASKED_LOGIT,
    ContinualConfig,
    ContinualData,
    ContinualResult,
    TaskHeads,
    buffer_indices,
    er_split,
    minibatch,
    run_buffer,
    split_tasks,
    task_inputs,
    train_continual,
)

T, K, N, M, D = 3, 2, 6, 2, 4


def _config(steps=4, log_every=2, batch=8, **changes):
    train = TrainConfig(
        steps=steps,
        log_every=log_every,
        loss="cross_entropy",
        reduction="mean",
        batch_size=batch,
        metrics=False,
    )
    return ContinualConfig(train, T, **({"max_buffer": 3} | changes))


def _data():
    ds = gaussian(num_classes=T * K, n_per_class=N + M, dim=D, separation=4.0, seed=1)
    return split_tasks(ds.x, ds.y, T, K, N, M)


def test_er_split_is_the_codes_overall_over_finished_tasks_plus_one():
    assert [int(er_split(64, t, True)) for t in range(4)] == [64, 32, 21, 16]
    assert int(er_split(64, 3, False)) == 64  # nothing to replay: all new


def test_split_tasks_keeps_classes_in_order_and_refuses_small_classes():
    x = np.arange(12, dtype=float)[:, None] * np.ones((1, 2))
    y = np.repeat(np.arange(4), 3)
    data = split_tasks(x, y, 2, 2, 2, 1)
    assert data.x.shape == (2, 2, 2, 2) and data.x_test.shape == (2, 2, 1, 2)
    np.testing.assert_array_equal(data.x[1, 0, :, 0], [6, 7])  # class 2, first two samples
    np.testing.assert_array_equal(data.x_test[1, 1, :, 0], [11])
    with pytest.raises(ValueError, match="class 0 has 3 samples"):
        split_tasks(x, y, 2, 2, 3, 1)


@pytest.mark.parametrize("task, b", [(0, 2), (2, 0), (2, 2), (1, 3)])
def test_minibatch_draws_new_samples_then_valid_buffer_slots(task, b):
    """x encodes (task, class, sample) in its three coordinates: every new entry is of the
    current task, every buffer entry of a finished task's class and one of its first b slots."""
    grid = np.stack(np.meshgrid(np.arange(T), np.arange(K), np.arange(N), indexing="ij"), -1)
    x = jnp.asarray(grid, jnp.float32)
    slots = buffer_indices(jax.random.PRNGKey(3), T, K, N, 3)
    inputs, labels = minibatch(jax.random.PRNGKey(5), task, b, slots, x, 12)
    inputs, labels = np.asarray(inputs).astype(int), np.asarray(labels)
    new = int(er_split(12, task, b > 0))
    assert new == (12 if task == 0 or b == 0 else 12 // (task + 1))
    assert (inputs[:new, 0] == task).all() and (labels[:new] == task * K + inputs[:new, 1]).all()
    old = inputs[new:]
    assert (old[:, 0] < task).all() and (labels[new:] == old[:, 0] * K + old[:, 1]).all()
    allowed = {(s, k, int(i)) for s in range(T) for k in range(K) for i in slots[s, k, :b]}
    assert {tuple(row) for row in old} <= allowed


def test_run_buffer_is_what_training_replays():
    """With a buffer of b = 1 and one class per finished task, every replayed sample of task 1
    is the single slot run_buffer names for class (0, k)."""
    data = _data()
    key = jax.random.PRNGKey(9)
    slots = run_buffer(key, data.x.shape[:3], 3)
    assert slots.shape == (T, K, 3) and len(set(np.asarray(slots[0, 0]))) == 3
    x = jnp.asarray(data.x)
    inputs, labels = minibatch(key, 1, 1, slots, x, 16)
    old = np.asarray(inputs)[8:]
    expected = np.asarray(
        x[0, np.asarray(labels)[8:], np.asarray(slots[0, :, 0])[np.asarray(labels)[8:]]]
    )
    np.testing.assert_array_equal(old, expected)


def test_runs_with_different_buffers_share_one_program_and_do_not_interact():
    model, config, data = MLP((8, T * K), num_linear=1), _config(), _data()
    both = init_runs(model, config.train, D, 0.1, 1e-3, [0, 0])
    result = train_continual(model, config, data, both, [0, 3])
    alone = jax.tree_util.tree_map(lambda leaf: leaf[1:], both)
    single = train_continual(model, config, data, alone, [3])
    for a, b in zip(
        jax.tree_util.tree_leaves(result.snapshots), jax.tree_util.tree_leaves(single.snapshots)
    ):
        np.testing.assert_allclose(np.asarray(a)[1], np.asarray(b)[0], rtol=1e-6, atol=1e-7)
    assert int(result.state.step[0]) == T * config.train.steps
    assert result.diverged.shape == (2, T, 2) and not result.diverged.any()
    w0 = [np.asarray(s["w"]) for s in result.snapshots]
    assert not np.allclose(w0[0][0], w0[0][1])  # replay changed the trajectory


def test_diverged_steps_count_from_the_start_of_the_first_task():
    """diverged (R, T, logs): the first flagged log [t, l] is (t logs + l + 1) log_every steps
    in."""
    flags = np.zeros((3, 2, 4), bool)
    flags[1, 1, 2:] = True  # task 1, its third log: (4 + 3) logs of 25 steps
    flags[2, 0, 0] = True
    result = ContinualResult(None, None, flags)
    assert result.diverged_steps(25) == [None, 175, 25]


SPLIT_SCRIPT = """
import jax, numpy as np
import test_train_continual as t
from nc_jax.train import init_runs
from nc_jax.train.continual import train_continual
from nc_jax.train.continual_readout import read_tasks
from nc_jax.models import MLP

assert len(jax.devices()) == 2, jax.devices()
model, config, data = MLP((8, t.T * t.K), num_linear=1), t._config(), t._data()
state = init_runs(model, config.train, t.D, 0.1, 1e-3, [0, 1, 2, 3])
one = train_continual(model, config, data, state, [0, 3, 1, 2])
split = train_continual(model, config, data, state, [0, 3, 1, 2], jax.devices())
for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(split)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
alone = read_tasks(model, one.snapshots, data, probe_max_iter=50)
shared = read_tasks(model, one.snapshots, data, probe_max_iter=50, devices=jax.devices())
np.testing.assert_allclose(alone.probe, shared.probe, rtol=0, atol=1e-12)
print("SPLIT-OK")
"""


def test_runs_split_over_devices_train_exactly_as_on_one():
    """Two CPU devices (a subprocess: this one has a single device) each train half of the
    runs: the same states, snapshots and flags, bit for bit, and the same probe accuracies
    (the probes fit split over the devices)."""
    env = {
        **os.environ,
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", SPLIT_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SPLIT-OK" in done.stdout


def test_frozen_head_leaves_the_s_perp_part_of_a_linear_feature_map_to_pure_weight_decay():
    """phi = A x with a frozen head H (row space S), no replay: the gradient of A lies in S, so
    (I - P_S) A_t = (1 - eta lambda)^t (I - P_S) A_0 exactly (float64)."""
    model, config, data = MLP((12, T * K), num_linear=2), _config(steps=20, log_every=10), _data()
    lr, wd = 0.05, 0.01
    with jax.enable_x64(True):
        state = cast_runs(init_runs(model, config.train, D, lr, wd, [2]), jnp.float64, lr, wd)
        frozen = ContinualConfig(config.train, T, heads="single", freeze_head_from=0)
        result = train_continual(model, frozen, data, state, [0])
        a0, head = np.asarray(state.params[0]["w"][0]), np.asarray(state.params[1]["w"][0])
        a_t = np.asarray(result.state.params[0]["w"][0])
        np.testing.assert_array_equal(np.asarray(result.state.params[1]["w"][0]), head)
    perp = np.eye(12) - head.T @ np.linalg.pinv(head.T)
    steps = T * config.train.steps
    assert np.abs(perp @ a0).max() > 0.1
    np.testing.assert_allclose(perp @ a_t, (1 - lr * wd) ** steps * perp @ a0, atol=1e-13)
    assert not np.allclose(a_t, (1 - lr * wd) ** steps * a0)  # the S part did learn


def test_task_heads_mask_every_other_head_and_train_per_task():
    model = TaskHeads(MLP((8, T * K), num_linear=1), K)
    params = model.init(jax.random.PRNGKey(0), D + 1)
    x = task_inputs(jnp.ones((2, D)), jnp.array([0, 2]))
    logits, _ = model.apply(params, x)
    assert (np.asarray(logits[0, K:]) == MASKED_LOGIT).all()
    assert (np.asarray(logits[1, : 2 * K]) == MASKED_LOGIT).all() and model.num_outputs == T * K
    config = _config(heads="multi")
    state = init_runs(model, config.train, D + 1, 0.1, 0.0, [0])
    result = train_continual(model, config, _data(), state, [2])
    assert not result.diverged.any()
    with pytest.raises(ValueError, match="TaskHeads"):
        train_continual(model.model, config, _data(), state, [2])


def test_bad_configurations_and_buffer_sizes_are_refused():
    with pytest.raises(ValueError, match="batch_size"):
        ContinualConfig(TrainConfig(steps=2, log_every=1), T)
    with pytest.raises(ValueError, match="heads"):
        _config(heads="both")
    model, config = MLP((8, T * K), num_linear=1), _config()
    state = init_runs(model, config.train, D, 0.1, 0.0, [0])
    with pytest.raises(ValueError, match="buffer sizes"):
        train_continual(model, config, _data(), state, [4])
    with pytest.raises(ValueError, match="tasks"):
        train_continual(model, config, ContinualData(*(a[:2] for a in _data())), state, [0])
