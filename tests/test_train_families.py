"""Every model family trains under the engine with per-layer metrics; the run axis shards over
a device mesh with results identical to one device."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nc_jax.data import gaussian
from nc_jax.models import MLP, ResNet, Transformer
from nc_jax.train import TrainConfig, init_runs, make_data, train

HEAD = MLP((6, 6, 6, 3), num_linear=3)


@pytest.mark.parametrize(
    "model",
    [
        ResNet(image_shape=(3, 4, 4), widths=(4, 4), blocks_per_stage=1, head=HEAD),
        Transformer(4, 12, model_dim=8, depth=1, num_heads=2, mlp_ratio=2, head=HEAD),
    ],
    ids=["resnet", "transformer"],
)
def test_backbone_families_train_with_layerwise_metrics(model):
    ds = gaussian(num_classes=3, n_per_class=6, dim=48, separation=3.0, seed=0)
    config = TrainConfig(steps=40, log_every=20, reduction="mean")
    state = init_runs(model, config, 48, 0.05, 1e-3, [0, 1])
    traj = train(model, config, make_data(ds.x, ds.y, 3), state).trajectory
    assert not traj["diverged"].any()
    assert (traj["loss"][:, -1] < traj["loss"][:, 0]).all()
    nc1 = traj["layer/nc1_trace_ratio"]
    assert nc1.shape[:2] == (2, 3) and np.isfinite(nc1).all()
    # backbone stages have no dense weight: balancedness is NaN there, finite in the head
    balance = traj["layer/balancedness"][:, -1]
    assert np.isnan(balance[:, 0]).all() and np.isfinite(balance[:, -2]).all()


SHARDING_SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from jax.sharding import Mesh
    from nc_jax.data import gaussian
    from nc_jax.models import MLP
    from nc_jax.train import TrainConfig, init_runs, make_data, run_mesh, train
    assert jax.device_count() == 4, jax.devices()
    # the largest device count that divides the runs: 3 of 4 for 6 runs, none for 5
    assert [run_mesh(n).size for n in (6, 8, 4, 2)] == [3, 4, 4, 2]
    assert run_mesh(5) is None and run_mesh(6, jax.devices()[:1]) is None
    model = MLP((16, 8, 8, 3), num_linear=2)
    ds = gaussian(num_classes=3, n_per_class=8, dim=6, seed=1)
    data = make_data(ds.x, ds.y, 3)
    config = TrainConfig(steps=20, log_every=10, batch_size=6, reduction="mean")
    state = init_runs(model, config, 6, [0.02, 0.05, 0.01, 0.03], 1e-3, [0, 1, 2, 3])
    single = train(model, config, data, state)
    mesh = Mesh(np.array(jax.devices()), ("run",))
    sharded = train(model, config, data, state, mesh=mesh)
    leaf = jax.tree_util.tree_leaves(sharded.state.params)[0]
    assert len(leaf.sharding.device_set) == 4, leaf.sharding
    # XLA's CPU kernels may round differently for a batch of 4 runs than for 1 run per device:
    # equal to float32 rounding against the 4-run batch; the trained state is equal bit for bit
    # to runs trained one at a time (the metrics' eigen-solvers to rounding)
    for a, b in zip(jax.tree_util.tree_leaves(single), jax.tree_util.tree_leaves(sharded)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    alone = train(model, config, data, state, run_group=1)
    leaves = jax.tree_util.tree_leaves
    for a, b in zip(leaves(alone.state), leaves(sharded.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for key, value in alone.trajectory.items():
        np.testing.assert_allclose(value, sharded.trajectory[key], rtol=1e-5, err_msg=key)
    # geometric logs: every chunk also takes its log intervals, replicated on every device
    geometric = TrainConfig(steps=40, log_every=10, log_spacing="geometric", geometric_logs=3)
    spread = train(model, geometric, data, state, mesh=mesh)
    for a, b in zip(leaves(train(model, geometric, data, state, run_group=1).state),
                    leaves(spread.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert spread.trajectory["step"][0].tolist() == [0, *geometric.log_steps]
    print("SHARDED-OK")
    """
)


@pytest.mark.slow  # 15-25 s: kept out of the default run (pytest -m slow)
def test_sharding_over_four_devices_matches_one_device():
    env = {
        **os.environ,
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    done = subprocess.run(
        [sys.executable, "-c", SHARDING_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SHARDED-OK" in done.stdout


def test_process_share_splits_the_runs_over_processes(monkeypatch):
    import jax

    from nc_jax.train import process_share

    np.testing.assert_array_equal(process_share(5), np.arange(5))  # one process: every run
    monkeypatch.setattr(jax, "process_count", lambda: 3)
    shares = []
    for index in range(3):
        monkeypatch.setattr(jax, "process_index", lambda index=index: index)
        shares.append(process_share(8))
    assert [s.tolist() for s in shares] == [[0, 3, 6], [1, 4, 7], [2, 5]]
    given = [process_share(8, index, 3).tolist() for index in range(3)]  # as a context has them
    assert given == [[0, 3, 6], [1, 4, 7], [2, 5]]
