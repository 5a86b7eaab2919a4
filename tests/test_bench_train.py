"""The training benchmark: its parameter and FLOP counts against the networks it trains and
against hand counts, that every implementation (the engine, the PyTorch trainers and a NumPy
reference written here) trains the same networks from the same weights to the same loss, and
that the report's numbers are consistent with each other (timings themselves not asserted)."""

from __future__ import annotations

import numpy as np
import pytest

from nc_jax.bench import train as bench
from nc_jax.models.mlp import MLP
from nc_jax.train import TrainConfig, init_runs, make_data, train

TINY = bench.Regime(
    "tiny",
    runs=3,
    samples=20,
    input_dim=6,
    width=8,
    steps=20,
    classes=4,
    learning_rate=0.05,
    weight_decay=1e-2,
    metrics_every=10,
    targets=(bench.Target("torch.func", 1.0), bench.Target("ceiling", 0.0)),
)


def test_flop_count_by_hand():
    # widths (4, 4, 2) on 3 inputs: 4*3 + 4*4 + 2*4 = 36 weights; 6 N P R = 6 * 5 * 36 * 2
    regime = bench.Regime(
        "hand",
        runs=2,
        samples=5,
        input_dim=3,
        width=4,
        steps=7,
        classes=2,
        num_nonlinear=1,
        num_linear=2,
    )
    assert regime.model.widths == (4, 4, 2)
    assert regime.params_per_model == 36
    assert regime.flops_per_step == 2160
    assert regime.flops == 7 * 2160
    # biases count: a 4-unit ReLU layer with bias (12 + 4) and a bias-free 2-unit head (8)
    assert bench.param_count(MLP((4, 2), num_linear=1, bias=True), 3) == 24
    assert bench.training_flops(samples=10, params=100, runs=3, steps=2) == 36_000


def test_mnist_regime_has_the_shapes_of_the_deep_mlp_grid():
    """The benchmark row the MNIST experiment's throughput is compared with trains the very
    networks of nc_jax/grids/jacot2025_deep_mlp.toml: same widths, head, N, D, runs."""
    from pathlib import Path

    from nc_jax import sweep
    from nc_jax.data import INPUT_DIMS

    grid = Path(__file__).resolve().parent.parent / "nc_jax/grids/jacot2025_deep_mlp.toml"
    fixed = sweep.read_grid_file(grid).fixed
    regime = bench.REGIMES["mnist_deep"]
    assert list(regime.model.widths) == fixed["widths"]
    assert regime.num_linear == fixed["num_linear"]
    assert regime.samples == 10 * fixed["n_per_class"]
    assert regime.input_dim == INPUT_DIMS[fixed["dataset"]] == 784
    assert regime.runs == len(fixed["seeds"]) * len(fixed["learning_rates"])


@pytest.mark.parametrize("name", list(bench.REGIMES))
def test_parameter_and_flop_counts_are_those_of_the_networks_trained(name):
    """param_count is the number of entries the engine initialises for the regime's model, and
    the FLOP count 6 N P per network and step, times R and the steps (also when scaled)."""
    import jax

    regime = bench.REGIMES[name]
    params = regime.model.init(jax.random.PRNGKey(0), regime.input_dim)
    entries = sum(leaf.size for leaf in jax.tree_util.tree_leaves(params))
    assert regime.params_per_model == entries
    assert regime.flops == 6 * regime.samples * entries * regime.runs * regime.steps
    assert regime.model.widths[-1] == regime.classes
    assert len(regime.model.widths) == regime.num_nonlinear + regime.num_linear
    scaled = regime.scaled(3)
    assert (scaled.runs, scaled.model) == (3 * regime.runs, regime.model)
    assert scaled.flops == 3 * regime.flops


def _numpy_gradient_descent(regime: bench.Regime, problem: bench.Problem) -> list[np.ndarray]:
    """The benchmark's job written out in float64 NumPy, backpropagation by hand: per run,
    W_l <- W_l - lr (dL/dW_l + wd W_l) with L = 1/(2N) ||Z_L - Y||_F^2 (ReLU on the first
    num_nonlinear layers)."""
    weights = [w.astype(np.float64) for w in problem.weights]
    x, targets = problem.x.astype(np.float64), problem.targets.astype(np.float64)
    lrs = problem.learning_rates.astype(np.float64)[:, None, None]
    wds = problem.weight_decays.astype(np.float64)[:, None, None]
    for _ in range(regime.steps):
        inputs, z = [], np.broadcast_to(x, (regime.runs, *x.shape))
        for layer, w in enumerate(weights):
            inputs.append(z)
            z = z @ np.swapaxes(w, 1, 2)
            if layer < regime.num_nonlinear:
                z = np.maximum(z, 0.0)
        grad_z = (z - targets) / x.shape[0]
        grads = [None] * len(weights)
        for layer in reversed(range(len(weights))):
            if layer < regime.num_nonlinear:  # through the ReLU of this layer's output
                grad_z = grad_z * (inputs[layer + 1] > 0)
            grads[layer] = np.swapaxes(grad_z, 1, 2) @ inputs[layer]
            grad_z = grad_z @ weights[layer]
        weights = [w - lrs * (g + wds * w) for w, g in zip(weights, grads)]
    return weights


def test_the_engine_trains_the_job_a_numpy_reference_trains():
    """The engine's final weights and logged loss are those of plain GD with coupled weight
    decay on 1/(2N) ||Z_L - Y||^2 (the job the module docstring describes), and the loss
    falls for every run."""
    problem = bench.make_problem(TINY)
    weights = bench.engine_trainer(TINY, problem)()
    reference = _numpy_gradient_descent(TINY, problem)
    assert [w.shape for w in weights] == [w.shape for w in problem.weights]
    for ours, theirs in zip(weights, reference):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    before = bench.mse_objective(problem, problem.weights, TINY.num_nonlinear)
    after = bench.mse_objective(problem, weights, TINY.num_nonlinear)
    assert (after < 0.9 * before).all()
    np.testing.assert_allclose(
        after, bench.mse_objective(problem, reference, TINY.num_nonlinear), rtol=1e-5
    )
    # mse_objective is the engine's own logged loss (reduction "mean") on the final weights
    config = TrainConfig(steps=TINY.steps, log_every=TINY.steps, reduction="mean", metrics=False)
    lrs, wds = problem.learning_rates, problem.weight_decays
    runs = init_runs(TINY.model, config, TINY.input_dim, lrs, wds, np.arange(TINY.runs))
    for layer, w in zip(runs.params, problem.weights):  # make_problem's draw (float32)
        np.testing.assert_allclose(np.asarray(layer["w"]), w, rtol=1e-6)
    data = make_data(problem.x, problem.y, TINY.classes)
    logged = train(TINY.model, config, data, runs).trajectory["loss"]
    np.testing.assert_allclose(logged[:, -1], after, rtol=1e-4)
    np.testing.assert_allclose(logged[:, 0], before, rtol=1e-4)


def test_the_three_implementations_train_the_same_networks():
    pytest.importorskip("torch")
    problem = bench.make_problem(TINY)
    engine = bench.engine_trainer(TINY, problem)()
    for name in bench.TORCH_IMPLEMENTATIONS:
        weights = bench.make_trainer(name, TINY, problem)()
        for ours, theirs in zip(engine, weights):
            np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(
            bench.mse_objective(problem, weights, TINY.num_nonlinear),
            bench.mse_objective(problem, engine, TINY.num_nonlinear),
            rtol=1e-4,
            err_msg=name,
        )


@pytest.mark.slow
def test_report_prints_every_row_and_target(capsys):
    pytest.importorskip("torch")
    results = bench.run_benchmark([TINY], repeats=1, ceiling_size=128)
    entry = results["regimes"]["tiny"]
    assert set(entry["rows"]) == set(bench.IMPLEMENTATIONS)
    assert entry["rows"]["engine"]["speedup"] == pytest.approx(1.0)
    assert [check["passed"] for check in entry["targets"]] == [
        entry["targets"][0]["value"] >= 1.0,
        True,
    ]
    losses = entry["final_loss"]
    for name in bench.IMPLEMENTATIONS:
        np.testing.assert_allclose(losses[name], losses["engine"], rtol=1e-4)
    text = bench.format_results(results)
    for name in bench.IMPLEMENTATIONS:
        assert name in text
    assert "GFLOP/s" in text and "matmul ceiling" in text
    assert "target: engine >= 1x torch.func" in text and "of the matmul ceiling" in text


def _table(text: str, names) -> dict[str, list[float]]:
    """The printed rows of implementations ``names``: seconds, GFLOP/s, % of ceiling, engine x."""
    rows = {}
    for line in text.splitlines():
        for name in names:
            rest = line.strip().removeprefix(name)
            if rest != line.strip() and rest[:1] == " ":
                rows[name] = [float(v.rstrip("%")) for v in rest.split()]
    return rows


def test_main_without_torch_times_only_the_jax_rows(monkeypatch, capsys):
    """Without PyTorch: exactly the two JAX rows, their numbers consistent (GFLOP/s = FLOPs /
    seconds, the engine's speed-up 1, engine+metrics' its seconds over the engine's), printed as
    computed, and the targets that need a PyTorch row not evaluated."""
    monkeypatch.setitem(bench.REGIMES, "small", TINY)
    monkeypatch.setattr(bench, "torch_available", lambda: False)
    monkeypatch.setattr(bench, "matmul_ceiling", lambda *a, **k: {"jax": 100.0, "numpy": 50.0})
    computed = []
    run = bench.run_benchmark
    monkeypatch.setattr(
        bench, "run_benchmark", lambda *a, **k: computed.append(run(*a, **k)) or computed[0]
    )
    assert bench.main(["--regime", "small", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "PyTorch is not installed" in out
    (results,) = computed
    assert results["torch"] is False
    entry = results["regimes"]["tiny"]
    rows = entry["rows"]
    assert list(rows) == ["engine", "engine+metrics"]
    ceiling = results["ceiling"]["best"]
    assert ceiling == 100.0  # the best backend's rate
    for name, row in rows.items():
        assert np.isfinite(row["seconds"]) and row["seconds"] > 0, name
        assert row["gflops"] * row["seconds"] * 1e9 == pytest.approx(TINY.flops, rel=1e-12)
        assert row["speedup"] == pytest.approx(row["seconds"] / rows["engine"]["seconds"])
    assert rows["engine"]["speedup"] == 1.0
    printed = _table(bench.format_results(results), bench.IMPLEMENTATIONS)
    assert printed == _table(out, bench.IMPLEMENTATIONS)
    assert list(printed) == list(rows)
    for name, (seconds, gflops, percent, speedup) in printed.items():
        row = rows[name]
        assert seconds == pytest.approx(row["seconds"], abs=5e-4)
        assert gflops == pytest.approx(row["gflops"], abs=0.05)
        assert percent == pytest.approx(100 * row["gflops"] / ceiling, abs=0.5)
        assert speedup == pytest.approx(row["speedup"], abs=5e-3)
    torch_target, ceiling_target = entry["targets"]  # TINY's: 1x torch.func, 0% of the ceiling
    assert torch_target["value"] is None and torch_target["passed"] is None
    assert ceiling_target["value"] == pytest.approx(rows["engine"]["gflops"] / ceiling)
    assert ceiling_target["passed"] is True
    assert out.count("n/a (row not timed)") == 1


@pytest.mark.parametrize(
    ("target", "rows", "value", "passed"),
    [
        # the faster PyTorch row is torch.func (3 s): 3 / 2.5 = 1.2 >= 1.1
        (bench.Target(bench.FASTEST_TORCH, 1.1), {"torch loop": 4.0, "torch.func": 3.0}, 1.2, True),
        # metrics in the small regime (300 steps, a log every 50 and at step 0: 7 logs): a log
        # costs (2.8 - 2.5) / 7 s; a 20000-step run logged geometrically from step 50 has 69
        # logs and the step-0 one, over 20000 steps of 2.5 / 300 s: 70 * 0.3 / 7 / (20000 *
        # 2.5 / 300) = 1.8% <= 15%; at 6.0 s, 70 * 3.5 / 7 / 166.67 = 21% > 15%
        (bench.Target(bench.METRICS_OVERHEAD, 0.15), {"engine+metrics": 2.8}, 0.018, True),
        (bench.Target(bench.METRICS_OVERHEAD, 0.15), {"engine+metrics": 6.0}, 0.21, False),
        (bench.Target("ceiling", 0.8), {}, 100.0 / 200.0, False),
    ],
)
def test_targets_by_hand(target, rows, value, passed):
    timed = {"engine": {"seconds": 2.5, "gflops": 100.0}}
    timed |= {name: {"seconds": seconds} for name, seconds in rows.items()}
    small = bench.REGIMES["small"]
    check = bench._check(target, timed, ceiling=200.0, regime=small)
    assert check["value"] == pytest.approx(value) and check["passed"] is passed
    missing = bench._check(target, {"torch loop": {"seconds": 1.0}}, ceiling=200.0, regime=small)
    assert missing["value"] is None


def test_device_report_and_runs_scale(monkeypatch, capsys):
    monkeypatch.setitem(bench.REGIMES, "small", TINY)
    monkeypatch.setattr(bench, "torch_available", lambda: False)
    monkeypatch.setattr(bench, "matmul_ceiling", lambda *a, **k: {"jax": 100.0})
    monkeypatch.setattr(bench, "copy_bandwidth", lambda *a, **k: 2e9)
    assert (
        bench.main(["--regime", "small", "--repeats", "1", "--device-report", "--runs-scale", "2"])
        == 0
    )
    out = capsys.readouterr().out
    assert "tiny: 6 models" in out  # TINY's 3 runs, scaled by 2
    assert "device report: " in out and "cpu" in out and "peak float32 matmul" in out
    assert "models/hour (6 models x 20 steps each)" in out
    # the peak is the ceiling's JAX rate (not measured twice), at the CPU's matrix size
    assert "(JAX, 2048 x 2048, best of 5, matmul precision platform default): 100 GFLOP/s" in out
    bandwidth = "copy bandwidth (JAX, a 256 MiB float32 array read and written, best of 5)"
    assert f"{bandwidth}: 2.0 GB/s; ridge 50 FLOP/byte" in out  # 100 GFLOP/s over 2 GB/s
    scaled = TINY.scaled(2)
    line = f"{bench.step_bytes(scaled) / 2**20:.1f} MiB a step"
    assert line in out and "of the roofline" in out
    assert bench.jax_matmul_rate(64, repeats=1) > 0
    with pytest.raises(SystemExit):
        bench.main(["--runs-scale", "0"])


def test_implementations_flag_times_only_the_rows_named_and_rejects_unknown_names(
    monkeypatch, capsys
):
    monkeypatch.setitem(bench.REGIMES, "small", TINY)
    monkeypatch.setattr(bench, "matmul_ceiling", lambda *a, **k: {"jax": 100.0})
    argv = ["--regime", "small", "--repeats", "1", "--implementations", "engine"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "timed tiny / engine: " in out  # the progress line, printed as the row is timed
    assert "engine+metrics" not in out and "torch.func  " not in out
    for bad in ["engine,torch", ""]:
        with pytest.raises(SystemExit) as exit_info:
            bench.main(["--implementations", bad])
        assert exit_info.value.code == 2
        assert "--implementations takes a comma-separated list" in capsys.readouterr().err


def test_fastest_pytorch_target_says_which_pytorch_row_was_not_timed():
    pytest.importorskip("torch")
    wide_tiny = bench.Regime(
        "wide_tiny", runs=2, samples=20, input_dim=6, width=8, steps=5, classes=4,
        targets=(bench.Target(bench.FASTEST_TORCH, 1.1),),
    )  # fmt: skip
    results = bench.run_benchmark(
        [wide_tiny], repeats=1, ceiling_size=64, implementations=("engine", "torch.func")
    )
    text = bench.format_results(results)
    assert "target: engine >= 1.1x fastest PyTorch: " in text
    assert "(torch loop not timed)" in text


def test_matmul_precision_setting_reaches_jax_and_pytorch():
    import jax

    try:
        bench.set_matmul_precision("highest")
        assert jax.config.jax_default_matmul_precision == "highest"
        if bench.torch_available():
            import torch

            assert torch.get_float32_matmul_precision() == "highest"
        bench.set_matmul_precision("default")
        assert jax.config.jax_default_matmul_precision is None
        if bench.torch_available():
            assert torch.get_float32_matmul_precision() == "high"
        with pytest.raises(ValueError, match="precision must be one of"):
            bench.set_matmul_precision("tf32")
    finally:
        bench.set_matmul_precision("default")
        if bench.torch_available():
            torch.set_float32_matmul_precision("highest")  # PyTorch's own default


def test_ceiling_and_pytorch_rows_run_where_jax_runs():
    """On this CPU: NumPy is part of the ceiling (it is the same hardware) and PyTorch computes
    on the CPU; on an accelerator NumPy would time the host, so it is left out there."""
    rates = bench.matmul_ceiling(64, repeats=1)
    assert rates["jax"] > 0 and rates["numpy"] > 0
    assert bench.default_matmul_size() == 2048
    if bench.torch_available():
        assert bench.torch_device() == "cpu" and rates["torch"] > 0


def test_step_bytes_and_the_roofline_by_hand():
    """TINY: widths 8 x 5 then K = 4, no biases, D = 6, N = 20, 3 runs. P = 6*8 + 4 (8*8) +
    8*4 = 336, A = 20 (5 * 8 + 4) = 880; a step moves 4 bytes x 3 runs x (6 P + 2 A + N D) =
    12 (2016 + 1760 + 120) = 46752 bytes and computes 6 N P x 3 = 120960 FLOP."""
    assert TINY.params_per_model == 336
    assert bench.step_bytes(TINY) == 46752
    assert TINY.flops_per_step == 120960
    # at 1 GFLOP/s and 1 GB/s the FLOPs bound: 120.96 us a step; 20 steps measured in
    # 4.8384 ms are 241.92 us a step: half the roofline
    intensity, fraction = bench.roofline_fraction(TINY, 4.8384e-3, 1.0, 1e9)
    assert intensity == pytest.approx(120960 / 46752) and fraction == pytest.approx(0.5)
    # at 1000 GFLOP/s the bytes bound: 46.752 us a step
    _, fraction = bench.roofline_fraction(TINY, 4.8384e-3, 1000.0, 1e9)
    assert fraction == pytest.approx(46.752 / 241.92)
    assert bench.copy_bandwidth(megabytes=4, repeats=1) > 0
