"""The training engine: learning, no retracing, divergence isolation, determinism, run groups,
checkpoint-resume, optimisers and the exact GD + weight-decay update."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.data import gaussian, load_dataset
from nc_jax.models.mlp import MLP
from nc_jax.train import (
    TrainConfig,
    cast_runs,
    init_runs,
    make_data,
    make_step,
    run_params,
    train,
)

SMALL = MLP((32, 16, 16, 4), num_linear=2)


@pytest.fixture(scope="module")
def small_data():
    ds = gaussian(num_classes=4, n_per_class=15, dim=8, seed=3)
    return make_data(ds.x, ds.y, 4)


def _states(config, lrs, wds, seeds, model=SMALL):
    return init_runs(model, config, 8, lrs, wds, seeds)


def _assert_trees_equal(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow  # 22 s cold; by default the quick checks train on real data (mnist5k, digits)
def test_mlp_with_deep_linear_head_collapses_on_digits():
    """Issue 3's acceptance run: an MLP with a 3-layer linear head reaches near-zero MSE on
    digits; NC1 of the penultimate layer decreases and the linear layers' balancedness decays
    like the (1 - eta lambda)^(2t) envelope of the theory (jacot2025.md section 4)."""
    ds = load_dataset("digits", n_per_class=20)
    model = MLP((256, 64, 64, 64, 10), num_linear=3)
    config = TrainConfig(steps=2000, log_every=200, reduction="mean")
    lr, wd = 0.04, 1e-2
    state = init_runs(model, config, ds.input_dim, [lr, lr], [wd, wd], [0, 1])
    trajectory = train(model, config, make_data(ds.x, ds.y, 10), state).trajectory
    loss = trajectory["loss"]
    assert not trajectory["diverged"].any()
    assert (loss[:, -1] < 0.02).all() and (loss[:, -1] < 1e-2 * loss[:, 0]).all()
    assert (trajectory["accuracy"][:, -1] == 1.0).all()
    nc1 = trajectory["layer/nc1_trace_ratio"][:, :, 3]  # Z_{L-1}
    assert (nc1[:, -1] < 0.1 * nc1[:, 0]).all()
    assert (np.diff(nc1[:, 1:], axis=1) < 0).mean() > 0.8
    balance = trajectory["layer/balancedness"][:, :, 2:4]  # pairs (W3, W4), (W4, W5)
    envelope = (1 - lr * wd) ** (2 * config.steps)
    assert (balance[:, -1] < 2 * envelope * balance[:, 0]).all()
    assert (np.diff(balance[:, 1:], axis=1) < 0).all()


def test_changing_hyperparameters_does_not_retrace(small_data):
    traces = []

    @dataclasses.dataclass(frozen=True)
    class CountingMLP(MLP):
        def apply(self, params, x):
            traces.append(1)
            return super().apply(params, x)

    model = CountingMLP((32, 16, 16, 4), num_linear=2)
    config = TrainConfig(steps=20, log_every=10, reduction="mean")
    train(model, config, small_data, _states(config, [0.1, 0.2], [1e-3, 0.0], [0, 1], model))
    first = len(traces)
    assert first > 0
    train(model, config, small_data, _states(config, [0.05, 0.3], [1e-2, 1e-4], [5, 6], model))
    assert len(traces) == first


def test_a_diverging_run_is_frozen_flagged_and_isolated(small_data):
    config = TrainConfig(steps=40, log_every=10, reduction="sum")
    batch = train(SMALL, config, small_data, _states(config, [1e-3, 50.0, 2e-3], 1e-3, [0, 1, 2]))
    alone = train(SMALL, config, small_data, _states(config, [1e-3, 2e-3], 1e-3, [0, 2]))
    diverged = batch.trajectory["diverged"][:, -1]
    assert diverged.tolist() == [False, True, False]
    assert np.isnan(batch.trajectory["layer/nc1_trace_ratio"][1, -1]).all()
    assert np.isfinite(jax.tree_util.tree_leaves(batch.state.params)[0][1]).all()
    for key in ("loss", "layer/nc1_pinv", "layer/balancedness"):
        np.testing.assert_allclose(
            batch.trajectory[key][[0, 2]], alone.trajectory[key], rtol=1e-6, err_msg=key
        )


def test_same_seed_same_bits(small_data):
    config = TrainConfig(steps=30, log_every=10, batch_size=20, optimizer="momentum")
    first = train(SMALL, config, small_data, _states(config, 0.01, 1e-3, [3, 4]))
    second = train(SMALL, config, small_data, _states(config, 0.01, 1e-3, [3, 4]))
    _assert_trees_equal(first.state, second.state)
    _assert_trees_equal(first.trajectory, second.trajectory)


def test_run_groups_match_one_batch(small_data):
    config = TrainConfig(steps=20, log_every=10, reduction="mean")
    states = _states(config, [0.1, 0.2, 0.3], 1e-3, [0, 1, 2])
    whole = train(SMALL, config, small_data, states)
    grouped = train(SMALL, config, small_data, states, run_group=2)
    for key in ("loss", "layer/nc1_trace_ratio"):
        np.testing.assert_allclose(grouped.trajectory[key], whole.trajectory[key], rtol=1e-6)
    assert grouped.state.step.shape == (3,)


def test_checkpoint_resume_loses_nothing(small_data, tmp_path):
    config = TrainConfig(steps=40, log_every=10, logs_per_chunk=1, reduction="mean")
    states = _states(config, [0.1, 0.2], 1e-3, [0, 1])
    reference = train(SMALL, config, small_data, states)

    class KilledError(Exception):
        pass

    def kill_after_two(chunks_done, _state):
        if chunks_done == 2:
            raise KilledError

    with pytest.raises(KilledError):
        train(SMALL, config, small_data, states, checkpoint_dir=tmp_path, on_chunk=kill_after_two)
    seen = []
    resumed = train(
        SMALL,
        config,
        small_data,
        states,
        checkpoint_dir=tmp_path,
        on_chunk=lambda done, _: seen.append(done),
    )
    assert seen == [3, 4]  # only the two missing chunks were trained
    _assert_trees_equal(resumed.state, reference.state)
    _assert_trees_equal(resumed.trajectory, reference.trajectory)
    other = TrainConfig(steps=40, log_every=10, logs_per_chunk=1, reduction="sum")
    with pytest.raises(ValueError, match="different job"):
        train(SMALL, other, small_data, _states(other, 0.1, 1e-3, [0, 1]), checkpoint_dir=tmp_path)


def test_gd_step_with_coupled_weight_decay_is_the_theory_update(small_data):
    """theta <- (1 - eta lambda) theta - eta grad of 1/2 ||Z_L - Y||_F^2 (jacot2025.md s. 1)."""
    config = TrainConfig(steps=10, log_every=10)
    state = jax.tree_util.tree_map(lambda leaf: leaf[0], _states(config, 0.01, 0.1, [0]))
    new = make_step(SMALL, config)(state, small_data)

    def loss(params):
        return 0.5 * jnp.sum((SMALL.apply(params, small_data.x)[0] - small_data.targets) ** 2)

    grads = jax.grad(loss)(state.params)
    expected = jax.tree_util.tree_map(
        lambda p, g: (1 - 0.01 * 0.1) * p - 0.01 * g, state.params, grads
    )
    for got, want in zip(
        jax.tree_util.tree_leaves(new.params), jax.tree_util.tree_leaves(expected)
    ):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize(
    "options",
    [
        {"optimizer": "momentum"},
        {"optimizer": "adam", "weight_decay_mode": "decoupled"},
        {"batch_size": 12},
        {"loss": "cross_entropy"},
        {"lr_drop_at": 0.5, "lr_drop_factor": 0.1},
    ],
    ids=["momentum", "adamw", "sgd", "cross-entropy", "lr-drop"],
)
def test_every_optimiser_and_loss_learns(small_data, options):
    lr = 1e-2 if options.get("optimizer") == "adam" else 0.05
    config = TrainConfig(steps=60, log_every=20, reduction="mean", **options)
    trajectory = train(SMALL, config, small_data, _states(config, lr, 1e-4, [0])).trajectory
    assert trajectory["loss"][0, -1] < 0.5 * trajectory["loss"][0, 0]


def test_lr_drop_to_zero_freezes_training(small_data):
    config = TrainConfig(steps=40, log_every=10, reduction="mean", lr_drop_at=0.5, lr_drop_factor=0)
    loss = train(SMALL, config, small_data, _states(config, 0.05, 1e-3, [0])).trajectory["loss"]
    assert loss[0, 1] > loss[0, 2]  # learning before the drop
    np.testing.assert_array_equal(loss[0, 2:], loss[0, 2])  # frozen after step 20


def test_lr_warmup_scales_each_step_linearly(small_data):
    """With lr_warmup_steps = 4, step t (from 0) moves by lr min(1, (t + 1)/4) times the plain
    step: 1/4, 2/4, 3/4, then the full rate, checked step by step against make_step at the
    scaled rate."""
    warm = TrainConfig(steps=6, log_every=1, lr_warmup_steps=4)
    plain = TrainConfig(steps=6, log_every=1)
    state = jax.tree_util.tree_map(lambda leaf: leaf[0], _states(warm, 0.05, 0.1, [0]))
    step_warm, step_plain = make_step(SMALL, warm), make_step(SMALL, plain)
    for t in range(6):
        expected = step_plain(
            state._replace(learning_rate=state.learning_rate * min(1.0, (t + 1) / 4)), small_data
        )
        state = step_warm(state, small_data)
        for got, want in zip(
            jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(expected.params)
        ):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="lr_warmup_steps"):
        TrainConfig(steps=10, log_every=10, lr_warmup_steps=-1)


def test_minibatch_order_depends_on_the_seed(small_data):
    config = TrainConfig(steps=10, log_every=10, batch_size=10, reduction="mean")
    out = train(SMALL, config, small_data, _states(config, 0.05, 0.0, [0, 0, 1]))
    w = np.asarray(out.state.params[0]["w"])
    np.testing.assert_array_equal(w[0], w[1])
    assert not np.array_equal(w[0], w[2])


def test_bad_configuration_is_rejected(small_data):
    with pytest.raises(ValueError, match="log_every"):
        TrainConfig(steps=25, log_every=10)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(steps=10, log_every=10, optimizer="lbfgs")
    with pytest.raises(ValueError, match="logs_per_chunk"):
        TrainConfig(steps=30, log_every=10, logs_per_chunk=2)
    config = TrainConfig(steps=10, log_every=10, batch_size=1000)
    with pytest.raises(ValueError, match="batch_size"):
        train(SMALL, config, small_data, _states(config, 0.1, 0.0, [0]))
    with pytest.raises(ValueError, match="learning_rate"):
        _states(config, -0.1, 0.0, [0])
    with pytest.raises(ValueError, match="run_group"):
        train(
            SMALL,
            TrainConfig(steps=10, log_every=10),
            small_data,
            _states(config, 0.1, 0.0, [0]),
            run_group=0,
        )


def test_on_chunk_reports_every_chunk_of_every_group_and_drives_a_progress_bar(capsys):
    """Progress is the caller's: ``on_chunk`` after every chunk of every run group (chunks done
    within the group, the group's states), enough to advance a rich bar on stderr to 100%."""
    from nc_jax.progress import progress_bars

    ds = load_dataset("digits", n_per_class=3)
    model = MLP((16, 8, 8, 10), num_linear=2)
    config = TrainConfig(steps=20, log_every=10, metrics=False)  # two chunks of one log
    state = init_runs(model, config, ds.input_dim, 1e-3, 0.1, [0, 1, 2])
    calls = []
    with progress_bars() as bars:
        task = bars.add_task("training 3 runs", total=2 * config.steps)  # two groups

        def on_chunk(chunks, group_state):
            calls.append((chunks, [int(s) for s in group_state.step]))
            bars.advance(task, config.chunk_logs * config.log_every)

        train(model, config, make_data(ds.x, ds.y, 10), state, run_group=2, on_chunk=on_chunk)
    # group 0 trains runs 0-1, group 1 run 2 padded with a copy of it
    assert calls == [(1, [10, 10]), (2, [20, 20]), (1, [10, 10]), (2, [20, 20])]
    captured = capsys.readouterr()
    assert "training 3 runs" in captured.err and "100%" in captured.err
    assert captured.out == ""


def test_cast_runs_keeps_the_draw_and_sets_the_exact_hyperparameters():
    """A float64 copy of float32 states: the same parameters, the per-run learning rate and
    weight decay exactly as given (init_runs rounds them to float32), integer leaves kept."""
    config = TrainConfig(steps=10, log_every=10, optimizer="momentum")
    drawn = _states(config, [0.1, 0.3], 1e-3, [0, 1])
    assert drawn.weight_decay.dtype == jnp.float32 and float(drawn.weight_decay[0]) != 1e-3
    with jax.enable_x64(True):
        cast = cast_runs(drawn, jnp.float64, [0.1, 0.3], 1e-3)
        assert [float(v) for v in cast.learning_rate] == [0.1, 0.3]
        assert [float(v) for v in cast.weight_decay] == [1e-3, 1e-3]
    _assert_trees_equal(drawn.params, jax.tree_util.tree_map(np.asarray, cast.params))
    _assert_trees_equal((drawn.seed, drawn.key, drawn.step), (cast.seed, cast.key, cast.step))
    for before, after in zip(jax.tree_util.tree_leaves(drawn), jax.tree_util.tree_leaves(cast)):
        floating = jnp.issubdtype(before.dtype, jnp.floating)
        assert after.dtype == (jnp.float64 if floating else before.dtype)


def test_init_runs_in_float64_is_the_float32_draw_cast_and_run_params_takes_one_run():
    config = TrainConfig(steps=10, log_every=10)
    drawn = _states(config, [0.1, 0.3], 1e-3, [0, 1])
    with jax.enable_x64(True):
        model = MLP((6, 3), num_linear=1)
        exact = init_runs(model, config, 4, [0.1, 0.3], 1e-3, [0, 1], jnp.float64)
        cast = cast_runs(
            init_runs(model, config, 4, [0.1, 0.3], 1e-3, [0, 1]), jnp.float64, [0.1, 0.3], 1e-3
        )
        _assert_trees_equal(exact, cast)
        assert [float(v) for v in exact.weight_decay] == [1e-3, 1e-3]
        second = run_params(exact.params, 1, jnp.float64)
        _assert_trees_equal(second, jax.tree_util.tree_map(lambda leaf: leaf[1], exact.params))
        assert all(leaf.dtype == jnp.float64 for leaf in jax.tree_util.tree_leaves(second))
    assert jax.tree_util.tree_structure(
        run_params(drawn.params, 0)
    ) == jax.tree_util.tree_structure(drawn.params)


def test_a_run_diverging_inside_a_log_period_is_rolled_back_to_the_period_start(small_data):
    """The guard runs once per log period: the run that blows up in its first period keeps its
    initial parameters exactly (its state at that period's start) and is flagged from the first
    log on; make_step still guards every single step."""
    from nc_jax.train import make_step

    config = TrainConfig(steps=20, log_every=10, reduction="sum")
    initial = _states(config, [1e-3, 50.0], 1e-3, [0, 1])
    result = train(SMALL, config, small_data, initial)
    assert result.trajectory["diverged"][:, 1:].tolist() == [[False, False], [True, True]]
    for start, end in zip(
        jax.tree_util.tree_leaves(initial.params), jax.tree_util.tree_leaves(result.state.params)
    ):
        np.testing.assert_array_equal(np.asarray(end)[1], np.asarray(start)[1])
    assert int(result.state.step[1]) == 20  # the step counter runs on
    one = jax.tree_util.tree_map(lambda leaf: leaf[1], initial)
    stepped = make_step(SMALL, config)(one, small_data)
    for _ in range(5):
        stepped = make_step(SMALL, config)(stepped, small_data)
    assert bool(stepped.diverged)
    assert all(
        np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree_util.tree_leaves(stepped.params)
    )


def test_layer_metrics_are_traced_once_per_job(small_data, monkeypatch):
    """One measure program serves the step-0 log and the logs of every chunk: the layer-wise
    metrics, the costliest code of a job to compile, are traced (and compiled) once, and every
    log still comes back (R, 1 + steps / log_every)."""
    from nc_jax.metrics.layerwise import network_metrics
    from nc_jax.train import clear_compiled_programs, step

    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return network_metrics(*args, **kwargs)

    monkeypatch.setattr(step, "network_metrics", counting)
    clear_compiled_programs()
    config = TrainConfig(
        steps=40,
        log_every=10,
        logs_per_chunk=2,
        reduction="mean",
        metric_names=("nc1_trace_ratio",),  # a cheap set: compiling is what the test counts
    )
    out = train(SMALL, config, small_data, _states(config, 0.05, 1e-3, [0, 1]))
    assert len(calls) == 1
    assert out.trajectory["layer/nc1_trace_ratio"].shape[:2] == (2, 5)
    np.testing.assert_array_equal(out.trajectory["step"][0], [0, 10, 20, 30, 40])


def test_init_is_compiled_once_for_configs_that_differ_only_in_steps_and_logging():
    """The initial state depends on the model, the optimiser and D alone: a sweep's buckets that
    differ in steps or logging share one compiled init."""
    from nc_jax.train.optim import compiled_init

    model = MLP((24, 12, 4), num_linear=1)  # a model no other test initialises
    before = compiled_init.cache_info()
    first = init_runs(model, TrainConfig(steps=10, log_every=5), 6, 0.1, 0.0, [0, 1])
    again = init_runs(
        model, TrainConfig(steps=300, log_every=100, metrics=False), 6, 0.1, 0.0, [0, 1]
    )
    after = compiled_init.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)
    for a, b in zip(jax.tree_util.tree_leaves(first), jax.tree_util.tree_leaves(again)):
        np.testing.assert_array_equal(a, b)
    adam = init_runs(model, TrainConfig(steps=100, optimizer="adam"), 6, 0.1, 0.0, [0, 1])
    assert compiled_init.cache_info().misses - after.misses == 1  # its moments differ
    assert jax.tree_util.tree_structure(adam.opt_state) != jax.tree_util.tree_structure(
        first.opt_state
    )


def test_clear_compiled_programs_empties_every_cache_of_the_engine(small_data):
    """After a job, the init, chunk and measure caches hold its programs; clearing empties them
    and every other registered program cache (the continual trainer's and the readout's too),
    and the next identical job builds (traces) them again and trains to the same result."""
    from nc_jax.train import clear_compiled_programs
    from nc_jax.train.cache import _PROGRAM_CACHES
    from nc_jax.train.continual import compiled_continual
    from nc_jax.train.continual_readout import _probe_program
    from nc_jax.train.optim import compiled_init
    from nc_jax.train.programs import compiled_chunk, compiled_measure

    config = TrainConfig(steps=10, log_every=5, metrics=False)
    caches = (compiled_init, compiled_chunk, compiled_measure)
    assert {*caches, compiled_continual, _probe_program} <= set(_PROGRAM_CACHES)
    first = train(SMALL, config, small_data, _states(config, 0.05, 1e-3, [0]))
    assert all(cache.cache_info().currsize >= 1 for cache in caches)
    clear_compiled_programs()
    assert all(cache.cache_info().currsize == 0 for cache in _PROGRAM_CACHES)
    again = train(SMALL, config, small_data, _states(config, 0.05, 1e-3, [0]))
    assert [cache.cache_info().misses for cache in caches] == [1, 1, 1]
    _assert_trees_equal(first.state.params, again.state.params)


# ------------------------------------------------------------------ geometric logs


def test_geometric_log_steps_by_hand():
    config = TrainConfig(steps=1000, log_every=10, log_spacing="geometric", geometric_logs=4)
    # geomspace(1, 100, 4) = 1, 4.64, 21.5, 100 -> 1, 5, 22, 100 units of 10 steps
    np.testing.assert_array_equal(config.log_steps, [10, 50, 220, 1000])
    np.testing.assert_array_equal(config.log_intervals(), [10, 40, 170, 780])
    assert config.num_logs == 4 and config.chunk_logs == 1 and config.chunk_steps(2) == 170
    wide = TrainConfig(steps=60000, log_every=50, log_spacing="geometric")
    steps = wide.log_steps
    assert steps[0] == 50 and steps[-1] == 60000 and (steps % 50 == 0).all()
    assert (np.diff(steps) > 0).all() and len(steps) == 76  # 24 early ones round together
    ratios = steps[40:] / steps[39:-1]  # past the rounding: one common ratio
    np.testing.assert_allclose(ratios, 1200 ** (1 / 99), rtol=0.05)
    linear = TrainConfig(steps=1000, log_every=10)
    np.testing.assert_array_equal(linear.log_steps, np.arange(10, 1001, 10))
    assert sum(linear.chunk_steps(i) for i in range(10)) == 1000
    with pytest.raises(ValueError, match="log_spacing"):
        TrainConfig(steps=100, log_spacing="log")


def test_geometric_logs_are_the_linear_runs_states_at_those_steps(small_data):
    """Logging geometrically changes when the host looks, not what trains: the logged losses
    and the final parameters are those of the same runs logged every 10 steps, at the
    geometric steps, and every chunk runs one compiled program."""
    from nc_jax.train.programs import chunk_program

    linear = TrainConfig(steps=300, log_every=10, reduction="mean")
    geometric = dataclasses.replace(linear, log_spacing="geometric", geometric_logs=6)
    state = _states(linear, [0.1, 0.2], [1e-3, 0.0], [0, 1])
    dense = train(SMALL, linear, small_data, state)
    sparse = train(SMALL, geometric, small_data, state)
    steps = geometric.log_steps  # 10, 20, 40, 80, 150, 300
    np.testing.assert_array_equal(sparse.trajectory["step"][0], [0, *steps])
    at = [0, *(steps // 10)]  # the dense run's log index of each geometric log
    for key in ("loss", "accuracy", "layer/nc1_trace_ratio"):
        np.testing.assert_array_equal(sparse.trajectory[key], dense.trajectory[key][:, at])
    _assert_trees_equal(sparse.state.params, dense.state.params)
    assert geometric.num_logs // geometric.chunk_logs > 1  # several chunks ...
    assert chunk_program(SMALL, geometric)._cache_size() == 1  # ... one program


def test_progress_counts_every_step_with_geometric_logs(small_data):
    from nc_jax.checks.context import TrainContext

    counted = []
    config = TrainConfig(steps=300, log_every=10, log_spacing="geometric", geometric_logs=6)
    state = _states(config, [0.1, 0.2], [1e-3, 0.0], [0, 1])
    TrainContext(on_steps=counted.append, devices=jax.devices()[:1]).train(
        SMALL, config, small_data, state
    )
    assert sum(counted) == 2 * 300 and len(counted) == config.num_logs // config.chunk_logs
    with pytest.raises(ValueError, match="geometric logs"):
        TrainContext().train_to(SMALL, config, small_data, state, [100, 300])


def test_update_config_keeps_what_a_step_reads_and_nothing_else(small_data):
    from nc_jax.train import update_config

    base = TrainConfig(steps=400, log_every=100, reduction="mean", optimizer="momentum")
    longer = dataclasses.replace(base, steps=800, log_every=200, log_spacing="geometric")
    assert update_config(base) == update_config(longer)  # one program for both
    assert update_config(dataclasses.replace(base, momentum=0.5)) != update_config(base)
    dropped = dataclasses.replace(base, lr_drop_at=0.5)  # the drop step depends on the length
    assert update_config(dropped) != update_config(dataclasses.replace(dropped, steps=800))
    state = _states(base, [0.1, 0.2], [1e-3, 0.0], [0, 1])
    from nc_jax.train.programs import compiled_chunk, compiled_measure

    compiled_chunk.cache_clear()
    compiled_measure.cache_clear()
    for steps in (20, 40):  # two lengths, one chunk and one measure program
        short = TrainConfig(steps=steps, log_every=10, logs_per_chunk=1)
        train(SMALL, short, small_data, _states(short, 0.1, 1e-3, [0]))
    assert compiled_chunk.cache_info().currsize == compiled_measure.cache_info().currsize == 1
    step, same = make_step(SMALL, base), make_step(SMALL, update_config(base))
    for _ in range(3):
        state, other = jax.vmap(step, in_axes=(0, None))(state, small_data), state
        other = jax.vmap(same, in_axes=(0, None))(other, small_data)
        _assert_trees_equal(state.params, other.params)
