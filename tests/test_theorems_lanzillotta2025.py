"""lanzillotta2025's measurements against hand-computed values and float64 NumPy references:
the class-mean ranks (n K - 1 against n (K - 1)), the S-perp error, the mixture's closed form
(by hand, and against Monte Carlo), and the comparison of a replay run with its seed's b = 0
run (the code's pairwise SNR, forgetting, the LDA counterfactuals and the decay's log-linear
fit are the library's: tests/test_metrics_collapse.py, test_metrics_forgetting.py,
test_metrics_probes.py, test_metrics_fits.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from theorems.lanzillotta2025 import measure


def test_class_mean_ranks_global_n_k_minus_1_per_task_n_times_k_minus_1():
    means = np.random.default_rng(4).normal(size=(4 * 5, 64))
    assert measure.mean_ranks(means, 5) == {
        "rank_means": 20.0,
        "rank_global": 19.0,
        "rank_per_task": 16.0,
    }


def test_perp_error_vanishes_for_a_pure_decay_plus_an_s_component():
    rng = np.random.default_rng(1)
    head, a0 = rng.normal(size=(3, 7)), rng.normal(size=(7, 5))
    a_t = 0.9 * a0 + head.T @ rng.normal(size=(3, 5))  # moves only inside S = row(head)
    q = measure.perp_error(a0, a_t, head, 0.9)
    assert q["perp_error"] < 1e-14 and q["perp_dim"] == 4.0
    assert measure.perp_error(a0, a0, head, 0.9)["perp_error"] > 0.05  # no decay: flagged


def test_mixture_closed_form_by_hand_and_against_monte_carlo():
    instance = measure.mixture_instance(0.15)
    # ||mu_1 - mu_2||^2 = 0.3^2 + 2 (0.85 x 0.4)^2; tr Sigma_c = 0.15 x 0.05 + 0.85 x 0.8
    # + 0.15 x 0.85 x (1 + 0.16)
    expected = (0.09 + 2 * 0.34**2) / (2 * (0.0075 + 0.68 + 0.1275 * 1.16))
    assert measure.mixture_snr_closed_form(instance) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.19224, abs=1e-5)
    mc = measure.mixture_snr_monte_carlo(instance, 100000, seed=3)
    assert abs(mc["snr_mc"] - expected) <= 4 * mc["snr_mc_se"] < 0.01


def test_a_replay_run_against_its_seeds_runs_without_and_with_the_full_buffer():
    q = {
        "forgetting_deep": 0.05,
        "forgetting_shallow": 0.6,
        "classes_per_task": 5.0,
        "n_test": 200.0,
        "n_train": 500.0,
        "num_tasks": 3.0,
        "snr_retained": 0.8,
    }
    none = {
        "forgetting_deep": 0.25,
        "forgetting_shallow": 0.8,
        "snr_retained": 0.5,
        "train_accuracy_min": 1.0,
    }
    full = {"forgetting_deep": 0.0, "forgetting_shallow": 0.2, "train_accuracy_min": 0.995}
    out = measure.against_references(q, none, full)
    se = np.sqrt(0.5 / (1000 * 2))
    assert out["forgetting_se"] == pytest.approx(se)
    assert out["removable_deep"] == pytest.approx(0.25)
    assert out["removable_shallow"] == pytest.approx(0.6)
    assert out["deep_remaining"] == pytest.approx(0.2)
    assert out["shallow_remaining"] == pytest.approx(4 / 6)
    errors = np.sqrt(2) * se * np.hypot(1, [0.2, 4 / 6]) / [0.25, 0.6]
    assert out["gap_allowance"] == pytest.approx(3 * np.hypot(*errors))
    assert out["snr_allowance"] == pytest.approx(6 * np.sqrt(2 / 500) * 0.5)
    assert out["train_accuracy_min_ref"] == 0.995 and out["train_accuracy_min_none"] == 1.0
    assert np.isnan(measure.against_references(q, none, None)["deep_remaining"])


def test_code_nc_metrics_on_a_simplex_etf_and_per_task_centring():
    classes = 4
    etf = np.eye(classes) - 1 / classes  # centred simplex vertices, squared norm 3/4
    means = 2.0 * etf + 5.0  # shifted and scaled: global centring removes the shift
    out = measure.code_nc_metrics(means, etf, None)
    assert out["nc_beta"] == pytest.approx(4 * 0.75)
    assert out["nc2_offdiag"] == pytest.approx(-1 / (classes - 1))
    assert out["nc3_cos"] == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    means = rng.normal(size=(4, 6))
    local = measure.code_nc_metrics(means, -means, 2)  # two tasks of two classes
    pairs = means.reshape(2, 2, 6)
    centred = (pairs - pairs.mean(1, keepdims=True)).reshape(4, 6)
    assert local["nc_beta"] == pytest.approx(np.mean(np.sum(centred**2, 1)))
    assert local["nc2_offdiag"] <= 0.0 and -1 <= local["nc3_cos"] < 1


def test_the_replay_table_reads_a_results_directory_and_draws_the_figure(tmp_path):
    """A tiny check (no grid: the table names its one cell "grid"): the table's rows are the
    runs' forgetting, its summary line the remaining fractions, and the figure is written."""
    from nc_jax import results
    from nc_jax.checks.runner import main
    from theorems.lanzillotta2025 import PAPER
    from theorems.lanzillotta2025.tables import CLAIMS, FIGURE, replay_table

    argv = "--n-train 20 --n-test 20 --widths 16,8 --batch-size 16 --steps 100 --seeds 0"
    argv += " --buffer-sizes 0,2,20 --probe-max-iter 100 --results " + str(tmp_path)
    assert main(PAPER, [*argv.split(), "--frozen-seeds", "", "--decay-seeds", ""]) in (0, 1)
    text = replay_table(tmp_path)
    runs = results.load_runs(tmp_path).set_index("buffer_size")
    assert set(runs["run_kind"]) == {"replay"}
    f, noise = runs["forgetting_deep"], 3 * np.sqrt(2) * runs["forgetting_se"].max()
    if f[0] - f[20] > noise:
        share = (f[2] - f[20]) / (f[0] - f[20])
        assert f"leave {share:.0%} to {share:.0%} of the removable deep" in text
    else:
        assert "leave no removable deep forgetting beyond test noise" in text
    assert f"{runs.loc[2, 'forgetting_shallow']:.3g}" in text.splitlines()[4]
    for row in text.splitlines()[3:6]:  # b = 0, 2, 20: each claim's verdicts on the row's run
        assert len(re.findall(r"(?<![\d.])[01]/[01]/[01](?![\d.])", row)) == len(CLAIMS), row
    assert (tmp_path / f"{FIGURE}.png").is_file() and (tmp_path / f"{FIGURE}.pdf").is_file()


def test_buffer_collapse_against_a_closed_form_and_numpy():
    train = np.zeros((2, 4, 2))
    train[0] = [[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [2.0, 0.0]]  # buffer: two equal points
    train[1] = [[-1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]]
    order = np.tile(np.arange(4), (2, 1))
    out = measure.buffer_collapse(train, order, 2, 1)  # class 0 is the one old class
    # centre g = (0.25, 0): buffer mean (1, 0), control mean (1, 0): equal distances
    assert out == {"buffer_variance_ratio": 0.0, "buffer_norm_ratio": 1.0}
    rng = np.random.default_rng(6)
    train, order = rng.normal(size=(3, 10, 4)), np.stack([rng.permutation(10) for _ in range(3)])
    out = measure.buffer_collapse(train, order, 3, 2)
    centre = train.reshape(-1, 4).mean(0)
    ratios, norms = [], []
    for c in range(2):
        a, b = train[c, order[c, :3]], train[c, order[c, 3:6]]
        ratios.append(np.trace(np.cov(a.T)) / np.trace(np.cov(b.T)))
        norms.append(np.linalg.norm(a.mean(0) - centre) / np.linalg.norm(b.mean(0) - centre))
    assert out["buffer_variance_ratio"] == pytest.approx(np.mean(ratios), rel=1e-12)
    assert out["buffer_norm_ratio"] == pytest.approx(np.mean(norms), rel=1e-12)


def test_perp_norm_drops_the_span_of_the_centred_current_means():
    """S = span of the current means centred by their mean: a direction shared by every current
    mean (their offset) is NOT in S, so it stays in an old mean's S-perp part."""
    current = np.array([[1.0, 0, 0, 5], [0, 1, 0, 5], [0, 0, 0, 5]])  # S = span(e0, e1)
    old = np.array([[3.0, 4, 2, 0], [0, 0, 0, 1]])
    assert measure.perp_norm(old, current) == pytest.approx((2.0 + 1.0) / 2)
    rng = np.random.default_rng(0)
    current, old = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    q, _ = np.linalg.qr((current - current.mean(0)).T[:, :3])  # rank 3 = K - 1
    want = np.mean(np.linalg.norm(old - old @ q @ q.T, axis=1))
    assert measure.perp_norm(old, current) == pytest.approx(want, rel=1e-12)


def test_decay_rate_of_a_pure_weight_decay_is_one_and_its_window_prediction():
    steps = np.arange(0, 1600, 300.0)
    upsilon = 1 - 2.5e-4
    q = measure.decay_rate(steps, 3.0 * upsilon**steps, upsilon)
    assert q["decay_ratio"] == pytest.approx(1.0, rel=1e-9) and q["decay_se"] < 1e-9
    assert q["decay_predicted"] == pytest.approx(upsilon**1500)
    faster = measure.decay_rate(steps, 3.0 * upsilon ** (2 * steps), upsilon)
    assert faster["decay_ratio"] == pytest.approx(2.0, rel=1e-9)
    noisy = 3.0 * upsilon**steps * np.exp(np.random.default_rng(1).normal(0, 0.05, steps.size))
    assert measure.decay_rate(steps, noisy, upsilon)["decay_se"] > 0.01
