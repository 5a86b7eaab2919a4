"""The shipped grids' tables and the scripts of experiments/: jacot2025/head_depth,
learning_rate, nonlinear_depth and deep_mlp --quick trained, checked, written and summarised as
the tables that answer their questions (the [zip] axes of the head-depth grid move widths and
num_linear together), through ``nc_jax.experiment.main``, what every script calls; every paper's
``tables`` names shipped grids of its own and every script is a thin front over one."""

from __future__ import annotations

import ast
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures import verdict_status

from nc_jax import experiment, results, sweep
from nc_jax.checks import load_papers
from nc_jax.models.ufm import dnc_loss
from theorems.jacot2025 import tables
from theorems.jacot2025.regime import regime_frame

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
SCRIPTS = sorted(p for p in EXPERIMENTS.glob("*.py") if not p.name.startswith("bench_"))
THIN = 40  # lines a script may have


def _sweep(name, *argv):
    """What ``python experiments/<script>.py ARGV`` does for the shipped grid ``name``."""
    return experiment.main(name, list(argv), "", "results/unused")


def test_every_table_names_a_shipped_grid_of_its_paper():
    """A paper's ``tables`` key is the name of one of its shipped grids without the paper's
    prefix (or, for a grid not named after its paper, the whole name), and
    ``sweep.grid_table`` finds the function under both spellings of the name."""
    shipped = sweep.shipped_grids()
    for name, paper in load_papers().items():
        for key, table in paper.tables.items():
            stem = next((s for s in (f"{name}_{key}", key) if s in shipped), None)
            assert stem is not None, f"{name}: no shipped grid {name}_{key} or {key}"
            assert sweep.grid_table(stem) is table, (name, key)  # the grid's paper is this one
            assert sweep.grid_table(stem.replace("_", "/", 1)) is table, stem
    assert sweep.grid_table("jacot2025/training_time") is None  # a grid with no table
    assert sweep.grid_table(shipped["jacot2025_width"]) is tables.width_table
    assert sweep.grid_table("nosuch/grid") is None


def test_a_grid_file_of_the_users_own_has_no_table(tmp_path):
    grid = tmp_path / "jacot2025_width.toml"
    grid.write_text(sweep.shipped_grids()["jacot2025_width"].read_text())
    assert sweep.grid_table(grid) is None


def test_a_directory_without_finished_cells_answers_without_its_table(tmp_path):
    """A multi-host job's process k > 0 writes only its parts: ``nc-jax sweep NAME`` there prints
    the (empty) verdicts, not the grid's table, which needs cells (the two-process doc test)."""
    results.write_grid(tmp_path, {"paper": "jacot2025", "fixed": {}, "axes": {}})
    checks = sweep.load(tmp_path)
    assert len(checks) == 0
    text = experiment.answer("jacot2025/learning_rate", tmp_path, checks)
    assert "Every check on these networks" not in text


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_is_a_thin_front_over_a_grid_with_a_table(script, monkeypatch, capsys):
    """Under THIN lines, every shipped grid it names (a string in its code, after the
    docstring) has a table, and it parses the common options (--help exits 0 before anything
    trains)."""
    source = script.read_text()
    assert len(source.splitlines()) < THIN, script.name
    shipped = sweep.shipped_grids()
    names = [
        node.value
        for statement in ast.parse(source).body[1:]
        for node in ast.walk(statement)
        if isinstance(node, ast.Constant) and str(node.value).replace("/", "_") in shipped
    ]
    assert names and all(sweep.grid_table(name) is not None for name in names), names
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(script), run_name="__main__")
    assert done.value.code == 0
    assert "--table DIR" in capsys.readouterr().out


def test_quick_head_depth_sweep_tabulates_nc2_against_the_head_depth(tmp_path, capsys):
    assert _sweep("jacot2025/head_depth", "--quick", "--out", str(tmp_path)) == verdict_status(
        tmp_path
    )
    out = capsys.readouterr().out
    runs = sweep.load_runs(tmp_path)
    assert sorted(runs["num_linear"].unique()) == [1, 2]
    assert {len(w) for w in runs["widths"]} == {3, 4}  # widths moved with num_linear
    assert "L2 1 -> 2: NC2 decreased on" in out
    assert "weight decay lambda = 0.2: claim 'NC2 improves with a deeper head'" in out
    assert "Theorem 3.1's regime per cell" in out and "Every check on these networks" in out
    assert "balanced_head" in out and "NC2 bound informative" in out
    first = tables.first_linear_layer(tmp_path)  # Z_{L1+1}: the output at L2 = 1
    assert len(first) == len(runs) and np.isfinite(first["NC2 first linear"]).all()
    assert set(first["weight_decay"]) == {0.2}
    checks = sweep.load(tmp_path)
    head_checks = checks[(checks["num_linear"] == 1) & checks["check"].str.contains("thm3_1")]
    assert (head_checks["verdict"] == "vacuous").all()  # L2 = 1 is outside Theorem 3.1
    assert _sweep("jacot2025/head_depth", "--table", str(tmp_path)) == verdict_status(tmp_path)


def test_quick_learning_rate_sweep_tabulates_stability_and_divergence(tmp_path, capsys):
    assert _sweep("jacot2025/learning_rate", "--quick", "--out", str(tmp_path)) == (
        verdict_status(tmp_path)
    )
    out = capsys.readouterr().out
    for text in ("divergence rate", "eta lambda_max median", "EoS bound h/v/vac", "balancing"):
        assert text in out
    table = sweep.load(tmp_path)
    edge = table[table["check"] == "jacot2025.sec5_2.edge_of_stability"]
    assert set(edge["learning_rate"]) == {2e-3, 4e-3}  # the run's own value, not a quantity
    # a bad override is an error, nothing trains
    assert _sweep("jacot2025/learning_rate", "--set", "steps=7") == 2


@pytest.mark.slow  # 15-25 s: kept out of the default run (pytest -m slow)
def test_quick_nonlinear_depth_sweep_tabulates_negativity_and_balancedness(tmp_path, capsys):
    assert _sweep("jacot2025/nonlinear_depth", "--quick", "--out", str(tmp_path)) == (
        verdict_status(tmp_path)
    )
    out = capsys.readouterr().out
    assert "negativity mean" in out and "balancedness min" in out
    assert "learning rate 0.002: claim 'deeper non-linear part" in out
    rows = tables.nonlinear_layer_summaries(tmp_path)
    assert sorted(rows["L1"].unique()) == [2, 3]
    assert sorted(rows["learning_rate"].unique()) == [1e-3, 2e-3]
    weight_decays = {r["config"]["weight_decay"] for r in results.read_cells(tmp_path)}
    assert weight_decays == {0.2, 0.15}  # the weight decay moved with the depth ([zip])
    assert (rows["negativity mean"] > 0).all() and np.isfinite(rows["balancedness mean"]).all()


@pytest.mark.parametrize("profile", [None, "paper_scale"])
def test_nonlinear_depth_grid_follows_the_papers_depths_and_weight_decay_rule(profile):
    """Figure 3: non-linear depth 4, 6, .., 12 and weight decay 0.016 / L per sample, L the
    total depth, i.e. lambda = 0.016 N / L of the summed loss."""
    grid = sweep.read_grid_file("jacot2025/nonlinear_depth", profile)
    num_linear, samples = grid.fixed["num_linear"], 10 * grid.fixed["n_per_class"]
    widths, decays = grid.zipped["widths"], grid.zipped["weight_decay"]
    assert [len(w) - num_linear for w in widths] == [4, 6, 8, 10, 12]
    assert decays == pytest.approx([0.016 * samples / len(w) for w in widths], rel=1e-12)


def test_quick_deep_mlp_tabulates_every_layer_and_reads_the_claims(tmp_path, capsys):
    assert _sweep("jacot2025/deep_mlp", "--quick", "--out", str(tmp_path)) == verdict_status(
        tmp_path
    )
    out = capsys.readouterr().out
    assert "claim 'the final linear layers are balanced at convergence'" in out
    assert "claim 'NC2 falls through the linear head'" in out
    table, numbers = tables.layer_table(tmp_path)
    assert list(table.index) == list(range(1, 10)) and numbers["L1"] == 5
    assert list(table["kind"]) == ["ReLU"] * 5 + ["linear"] * 4
    assert table.loc[9, "rel. balancedness"] == "-"  # the last layer has no following pair
    assert table.loc[4, "class-mean |cos| off-diag."] == "-"  # only the head's inputs and outputs
    assert 0 <= numbers["head_balance_end"] <= 1 and 0 <= numbers["relu_balance_end"] <= 1
    regime = regime_frame(tmp_path)  # Theorem 3.1's regime: medians over the trained runs
    runs = sweep.load_runs(tmp_path)
    trained = runs[runs["diverged_step"].isna()]
    ratio = (trained["eps1"] / trained["s_K_Y"]).median()
    assert regime.loc[0, "eps1/s_K(Y)"] == f"{ratio:.3g}"
    assert regime.loc[0, "trained"] == f"{len(trained)}/{len(runs)}"
    checks = sweep.load(tmp_path)
    nc3 = checks[checks["check"] == "jacot2025.thm3_1.nc3"]
    applies = nc3[nc3["verdict"] != "vacuous"]
    expected = f"{int(applies['informative'].sum())}/{len(applies)}" if len(applies) else "vacuous"
    assert regime.loc[0, "nc3"] == expected
    assert "Every check on these networks" in out and "failing hypothesis" in out


def test_every_grid_file_of_the_experiments_parses_in_full_and_quick_mode():
    """A grid file's mistakes (an unknown key, a bad value) are named here, not after a user has
    waited for the full run; the quick mode of each is what CI trains."""
    grids = sorted(sweep.shipped_grids().values())
    assert len(grids) >= 6
    for path in grids:
        for profile in (None, *sweep.PROFILES):
            if profile is not None and f"[{profile}]" not in path.read_text():
                continue
            grid = sweep.read_grid_file(path, profile=profile)
            assert sweep.cells(sweep.get_paper(grid.paper), grid), path  # every cell validated


def _write_cifar_shaped_images(directory, per_class=3):
    """A tiny CIFAR-10 in the pickled python-version layout: every class a noisy copy of its own
    random 3 x 32 x 32 pattern, spread over the five training batches and the test batch."""
    import pickle

    from nc_jax import data

    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 256, size=(10, 3072))
    labels = np.repeat(np.arange(10), per_class)
    images = np.clip(patterns[labels] + rng.normal(0, 20, (len(labels), 3072)), 0, 255)
    directory.mkdir(parents=True)
    files = [*data.CIFAR_FILES["train"], *data.CIFAR_FILES["test"]]
    for index, name in enumerate(files):
        part = slice(index, None, len(files))
        batch = {b"data": images[part].astype(np.uint8), b"labels": labels[part].tolist()}
        (directory / name).write_bytes(pickle.dumps(batch))


@pytest.mark.slow  # about 90 s of ResNet20 compilation
def test_resnet_head_depth_trains_resnet20_on_cifar_shaped_images(tmp_path, capsys):
    """Figure 5 in kind, one cell (L2 = 2, no in-loop metrics, for CI time): ResNet20 (no norm)
    with a linear head on CIFAR-shaped pickles; the head's input is the pooled backbone output
    (L1 = 3 recorded stages), the Section 4 hypotheses about the first dense layer are vacuous
    for a ResNet, the head's recursion identity holds through a float64 replay of the whole
    network."""
    cifar = tmp_path / "cifar-10-batches-py"
    _write_cifar_shaped_images(cifar)
    flags = ["--quick", "--set", 'dataset="cifar10"', "--set", f'data_dir="{cifar}"']
    flags += ["--set", "num_linear=[2]", "--set", "widths=[[16, 10]]", "--set", "log_metrics=false"]
    assert _sweep("jacot2025/resnet_head_depth", *flags, "--out", str(tmp_path / "out")) == (
        verdict_status(str(tmp_path / "out"))
    )
    assert "claim 'NC2 improves with a deeper head'" in capsys.readouterr().out
    runs = sweep.load_runs(tmp_path / "out")
    assert list(runs["num_linear"]) == [2] and (runs["L1"] == 3).all()
    assert runs["n1"].isna().all()  # no dense first layer: Assumption 4.1 cannot hold
    checks = sweep.load(tmp_path / "out")
    recursion = checks[checks["check"] == "jacot2025.sec4.recursion"]
    assert len(recursion) == 1 and (recursion["verdict"] == "holds").all()
    interpolation = checks[checks["check"] == "jacot2025.sec4.interpolation"]
    assert (interpolation["verdict"] == "vacuous").all()


@pytest.mark.slow
def test_quick_resnet_head_depth_tabulates_both_depths_with_layer_metrics(tmp_path, capsys):
    """The script's --quick as a user runs it (MNIST images, L2 = 1 and 2, layer metrics
    logged): the table compares the depths and reads the first linear layer."""
    assert _sweep("jacot2025/resnet_head_depth", "--quick", "--out", str(tmp_path)) == (
        verdict_status(tmp_path)
    )
    assert "L2 1 -> 2: NC2 decreased on" in capsys.readouterr().out
    first = tables.first_linear_layer(tmp_path)
    assert sorted(first["num_linear"]) == [1, 2] and np.isfinite(first["NC2 first linear"]).all()


@pytest.mark.slow  # the script end to end; its parts have default-run tests
def test_sukenik2024_resnet_quick_measures_the_dufm_view(tmp_path, capsys):
    """The real-data run of Súkeník et al. 2024 as --quick (ResNet20 + a 4-layer ReLU head on
    20 digits images, 20 steps): every run is measured through its DUFM view (H_1 = the 64
    pooled backbone features), against the 4-DUFM closed form with N = 20, lambda_H = 5e-6."""
    assert _sweep("sukenik2024/resnet", "--quick", "--out", str(tmp_path)) == verdict_status(
        tmp_path
    )
    assert "class-mean ranks (pre / post ReLU)" in capsys.readouterr().out
    runs = sweep.load_runs(tmp_path)
    assert len(runs) == 1 and runs["diverged_step"].isna().all()
    run = runs.iloc[0]
    assert run["lambda_H"] == pytest.approx(5e-6) and run["n"] == 2
    assert run["L_DNC"] == pytest.approx(dnc_loss(10, 2, 4, 5e-6, 0.005).loss)
    assert run["ratio"] > 1  # 20 steps from a random start: far above DNC
    for layer in range(1, 5):
        assert 1 <= run[f"rank_post_{layer}"] <= 10
    checks = sweep.load(tmp_path)
    identities = checks[checks["kind"] == "identity"]
    assert len(identities) and (identities["verdict"] == "holds").all()


@pytest.mark.slow
def test_sukenik2024_resnet_reads_cifar_shaped_pickles(tmp_path, capsys):
    """The documented full-mode command, shrunk: --set data_dir on local CIFAR-10 pickles."""
    cifar = tmp_path / "cifar-10-batches-py"
    _write_cifar_shaped_images(cifar)
    flags = ["--quick", "--set", 'dataset="cifar10"', "--set", f'data_dir="{cifar}"']
    assert _sweep("sukenik2024/resnet", *flags, "--out", str(tmp_path / "out")) == (
        verdict_status(str(tmp_path / "out"))
    )
    runs = sweep.load_runs(tmp_path / "out")
    assert len(runs) == 1 and runs["width"].iloc[0] == 64


@pytest.mark.slow  # the script end to end; its parts have default-run tests
def test_quick_regime_atlas_tabulates_where_each_bound_speaks(tmp_path, capsys):
    """The atlas on 2 widths x 2 weight decays x 2 lengths (digits, one seed): one training per run
    measured at both lengths; the per-cell table, the informative regions, the (11) factor and
    the rate fits; the plot command draws the regime map with one row per other setting."""
    from nc_jax import plots
    from theorems.jacot2025 import atlas

    assert _sweep("jacot2025/regime_atlas", "--quick", "--out", str(tmp_path)) == (
        verdict_status(tmp_path)
    )
    out = capsys.readouterr().out
    for text in ("Per cell", "Where each Theorem 3.1 bound speaks", "Condition (11)", "Rates"):
        assert text in out
    runs = atlas.trained_runs(tmp_path)
    assert sorted(runs["steps"].unique()) == [100, 200]
    for _, group in runs.groupby(["widths", "seed", "weight_decay"]):
        assert len(group) == 2  # one run, measured at 100 and 200 steps
    frame = tables.atlas_cells(tmp_path)
    assert len(frame) == 8 and {"psi fit term", "first failing", "converged"} <= set(frame)
    assert set(frame["dominant"]) <= {"fit", "balance"}
    order = [name for name, _ in atlas.ATLAS_HYPOTHESES]
    assert order[0] == "eps1 < s_K(Y)" and order[-1] == "converged"
    rates = atlas.rate_table(tmp_path)
    assert set(rates["runs"]) == {"converged", "all"} and "eps1" in set(rates["check"])
    written = plots.plot_directory(tmp_path, "weight_decay", "steps", None)
    names = {path.name for path in written}
    assert {"regime_weight_decay_steps.png", "tightness_weight_decay_steps.png"} <= names


def test_atlas_reads_hypotheses_in_order_and_fits_rates_by_hand():
    import pandas as pd

    from theorems.jacot2025 import atlas

    runs = pd.DataFrame(
        {
            "eps1": [1.0, 5.0, 1.0],
            "s_K_Y": [4.0, 4.0, 4.0],
            "K": [10, 10, 10],
            "N": [200, 200, 200],
            "weight_decay": [1e-4, 1e-4, 2.0],
            "theta0_norm": [1.0, 1.0, 1.0],
            "lambda_F_init": [0.0, 0.0, 0.0],
            "n1": [256, 256, 64],
            "stability_product": [0.1, 0.1, 0.1],
            "eps2": [1e-3, 1e-3, 1e-3],
            "r_head": [1.0, 1.0, 1.0],
            "L2": [3, 3, 3],
            "head_sK": [1.0, 1.0, 1.0],
            "relative_stationarity": [1e-3, 1e-3, 0.5],
        }
    )
    assert list(atlas.converged(runs)) == [True, True, False]
    assert not atlas.converged(runs.assign(eps2=2e-3)).any()  # balanced to 0.1% of r_W^2
    # (11) allows 16 / (18 * 1) = 0.89: the first run holds everything, the second fails the
    # fit first, the third (11) first (n1 < N and convergence fail after it)
    assert list(atlas.first_failing(runs)) == ["", "eps1 < s_K(Y)", "(11)"]
    x = np.array([1.0, 10.0, 100.0, 1000.0])
    fit = atlas.loglog_fit(x, 0.5 * x**2)
    assert fit["slope"] == pytest.approx(2.0) and fit["constant"] == pytest.approx(0.5)
    assert fit["slope_low"] == pytest.approx(2.0) and fit["n"] == 4
    noisy = atlas.loglog_fit(x, x * np.array([1.0, 1.5, 0.8, 1.2]))
    assert noisy["slope_low"] < noisy["slope"] < noisy["slope_high"]
    assert np.isnan(atlas.loglog_fit(x[:2], x[:2])["slope"])  # fewer than 3 points
