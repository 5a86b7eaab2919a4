"""TrainContext.train_to: one training stopped at several step counts equals training for each
count alone (states and logged trajectories), so cells that differ only in their length can
share one trajectory."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.checks.context import TrainContext
from nc_jax.models import MLP
from nc_jax.train import TrainConfig, init_runs, make_data


def _problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5))
    y = np.arange(24) % 3
    model = MLP((8, 6, 3), num_linear=2)
    config = TrainConfig(steps=40, log_every=5, reduction="sum", metrics=True)
    data = make_data(x, y, 3, dtype=jnp.float64)
    state = init_runs(
        model, config, 5, np.array([1e-2, 2e-2]), np.array([0.1, 0.3]), np.array([0, 1])
    )
    state = jax.tree_util.tree_map(
        lambda a: a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, state
    )
    return model, config, data, state


def test_checkpoints_equal_separate_trainings_of_each_length():
    model, config, data, state = _problem()
    context = TrainContext(devices=jax.local_devices()[:1])
    reached = context.train_to(model, config, data, state, [40, 10, 25])
    assert sorted(reached) == [10, 25, 40]
    for steps, result in reached.items():
        alone = context.train(model, dataclasses.replace(config, steps=steps), data, state)
        assert np.asarray(result.state.step).tolist() == [steps, steps]
        for a, b in zip(
            jax.tree_util.tree_leaves(result.state.params),
            jax.tree_util.tree_leaves(alone.state.params),
        ):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14)
        assert result.trajectory.keys() == alone.trajectory.keys()
        for key, value in alone.trajectory.items():
            assert np.asarray(result.trajectory[key]).shape == np.asarray(value).shape, key
            np.testing.assert_allclose(
                np.asarray(result.trajectory[key], float),
                np.asarray(value, float),
                rtol=1e-10,
                atol=1e-12,
                err_msg=key,
            )
        np.testing.assert_array_equal(result.trajectory["step"][0], np.arange(0, steps + 1, 5))


def test_checkpoints_off_the_log_grid_and_a_learning_rate_drop_are_refused():
    model, config, data, state = _problem()
    context = TrainContext(devices=jax.local_devices()[:1])
    with pytest.raises(ValueError, match="multiples of log_every"):
        context.train_to(model, config, data, state, [12, 40])
    dropped = dataclasses.replace(config, lr_drop_at=0.5)
    with pytest.raises(ValueError, match="lr_drop_at"):
        context.train_to(model, dropped, data, state, [10, 40])


def test_on_trained_reports_the_wall_seconds_of_every_training():
    """The hook is called once per engine call (each segment of train_to is one), with seconds
    that are positive and together within the wall time of the whole call."""
    import time

    model, config, data, state = _problem()
    seconds: list[float] = []
    context = TrainContext(devices=jax.local_devices()[:1], on_trained=seconds.append)
    started = time.perf_counter()
    reached = context.train_to(model, config, data, state, [10, 20])
    elapsed = time.perf_counter() - started
    assert sorted(reached) == [10, 20]
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert sum(seconds) <= elapsed
    context.train(model, dataclasses.replace(config, steps=5), data, state)
    assert len(seconds) == 3
