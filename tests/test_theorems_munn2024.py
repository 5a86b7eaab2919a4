"""munn2024 beyond the generic contract tests: the Monte-Carlo terms of the stand-in bounds
against float64 NumPy loops, the cell-level quantities of the cross-run claims, the data
parts, the settings' errors, and the quick GC-vs-CDNV sweep with its table."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import spearmanr

from nc_jax import experiment
from nc_jax.checks import SettingError
from theorems.munn2024 import measure
from theorems.munn2024.setting import Setting, load_parts


def _se(values):
    return np.std(values, ddof=1) / np.sqrt(len(values))


def _toy(seed=0, k=3, n=40, p=2):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n)
    features = rng.normal(size=(k * n, p)) * 0.5 + rng.normal(size=(k, p))[y] * 3
    return features, y, rng.uniform(0.5, 2.0, size=k * n)


def test_poincare_terms_against_numpy():
    features, y, sq_norms = _toy()
    got = measure.poincare_terms(jnp.asarray(features), jnp.asarray(sq_norms), y, 3, 0.3, 4.0)
    means = np.stack([features[y == c].mean(0) for c in range(3)])
    residual = np.sum((features - means[y]) ** 2, axis=1)
    gap = residual - 0.3 * sq_norms
    var = np.array([residual[y == c].mean() for c in range(3)])
    cgc = np.array([0.3 * sq_norms[y == c].mean() for c in range(3)])
    se = np.array([_se(gap[y == c]) for c in range(3)])
    worst = np.argmax(var / (cgc + 4 * se))
    assert float(got["poincare_var"]) == pytest.approx(var[worst])
    assert float(got["poincare_cgc"]) == pytest.approx(cgc[worst])
    assert float(got["poincare_se"]) == pytest.approx(se[worst])
    d2 = np.sum((means[:, None] - means[None]) ** 2, -1)
    pairs = [(i, j) for i in range(3) for j in range(3) if i != j]
    assert float(got["pair_cdnv"]) == pytest.approx(
        np.mean([(var[i] + var[j]) / (2 * d2[i, j]) for i, j in pairs])
    )
    assert float(got["pair_cgcol"]) == pytest.approx(
        np.mean([(cgc[i] + cgc[j]) / (2 * d2[i, j]) for i, j in pairs])
    )
    # the difference Avg V - C Avg GCol is a sum over classes of weighted means
    weight = np.array([sum(1 / d2[c, j] for j in range(3) if j != c) for c in range(3)]) / 6
    difference = sum(weight[c] * gap[y == c].mean() for c in range(3))
    assert float(got["pair_cdnv"] - got["pair_cgcol"]) == pytest.approx(difference)
    want_se = np.sqrt(sum(_se(weight[c] * gap[y == c]) ** 2 for c in range(3)))
    assert float(got["pair_se"]) == pytest.approx(want_se)
    trivial = np.mean([2 / d2[i, j] for i, j in pairs])  # (p + p) / (2 d^2), p = 2
    assert float(got["pair_trivial"]) == pytest.approx(trivial)


def test_ncc_terms_against_numpy():
    features, y, _ = _toy(seed=1, p=3)
    features[::7] += 4.0  # some errors
    means = np.random.default_rng(2).normal(size=(3, 3)) * 3
    got = measure.ncc_terms(jnp.asarray(means), jnp.asarray(features), y, 3)
    d2 = np.sum((means[:, None] - means[None]) ** 2, -1)
    wrong = np.argmin(((features[:, None] - means[None]) ** 2).sum(-1), 1) != y
    residual = np.sum((features - means[y]) ** 2, 1)
    bound = 4 * residual * np.array([sum(1 / d2[c, j] for j in range(3) if j != c) for c in y])
    per_class = [(wrong[y == c].mean(), bound[y == c].mean()) for c in range(3)]
    assert float(got["ncc_error"]) == pytest.approx(np.mean([e for e, _ in per_class]))
    assert float(got["ncc_bound"]) == pytest.approx(np.mean([b for _, b in per_class]))
    gap = wrong - bound
    se = np.sqrt(sum(_se(gap[y == c]) ** 2 for c in range(3))) / 3
    assert float(got["ncc_se"]) == pytest.approx(se)


def test_cross_run_spread_and_rank_correlations():
    gc = np.array([1.0, 1.1, 2.0, 2.2, 4.0, 3.9])
    runs = [
        {"gc_train": g, "cdnv_train": g**2, "target_cdnv": -g, "few_shot_accuracy": 1 / g}
        | {"train_accuracy": 0.95 + 0.01 * i}
        for i, g in enumerate(gc)
    ]
    groups = [0, 0, 1, 1, 2, 2]
    got = measure.cross_run(runs, groups)
    logs = np.log(gc).reshape(3, 2)
    spread = np.var(logs.mean(1), ddof=1) / np.mean(np.var(logs, axis=1, ddof=1))
    assert got["gc_spread"] == pytest.approx(spread)
    assert got["cell_runs"] == 6 and got["min_train_accuracy"] == pytest.approx(0.95)
    assert got["rho_gc_cdnv"] == pytest.approx(1.0)
    assert got["rho_gc_target_cdnv"] == pytest.approx(-1.0)
    assert got["rho_gc_few_shot"] == pytest.approx(spearmanr(gc, 1 / gc).statistic)
    assert got["rho_cdnv_few_shot"] == pytest.approx(-1.0)  # CDNV = GC^2, accuracy = 1 / GC
    assert got["cdnv_spread"] == pytest.approx(spread)  # log CDNV = 2 log GC: the same ratio
    single = measure.cross_run(runs, [0, 1, 2, 3, 4, 5])  # no repeated seeds: no spread
    assert np.isnan(single["gc_spread"])


def test_gaussian_parts_are_the_classes_laws_and_mnist_parts_are_disjoint():
    setting = Setting(num_classes=5, source_classes=3, n_per_class=30, eval_per_class=2000)
    parts = load_parts(setting)
    assert parts.train.x.shape == (90, 10) and set(parts.train.y) == {0, 1, 2}
    assert parts.target.x.shape == (4000, 10) and set(parts.target.y) == {0, 1}
    train_means = np.stack([parts.train.x[parts.train.y == c].mean(0) for c in range(3)])
    for c in range(3):
        test = parts.test.x[parts.test.y == c]
        assert np.std(test - test.mean(0)) == pytest.approx(0.7, rel=0.03)  # sigma
        assert np.abs(test.mean(0) - train_means[c]).max() < 0.5  # the same centre
    mnist = load_parts(Setting(dataset="mnist5k", num_classes=10, source_classes=5,
                               n_per_class=100, eval_per_class=50))  # fmt: skip
    assert mnist.train.x.shape == (500, 784) and mnist.test.x.shape == (250, 784)
    assert mnist.target.x.shape == (2500, 784) and set(mnist.target.y) == set(range(5))
    rows = {row.tobytes() for row in mnist.train.x}
    assert not any(row.tobytes() in rows for row in mnist.test.x)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"dataset": "cifar"}, "dataset"),
        ({"source_classes": 11}, "source_classes"),
        ({"dataset": "mnist5k"}, "source_classes"),
        ({"eval_per_class": 5}, "eval_per_class"),
        ({"batch_size": 5000}, "batch_size"),
        ({"gc_penalty": -1.0}, "gc_penalty"),
        ({"mask_keep": 1.5}, "mask_keep"),
        ({"weight_decays": (-1.0,)}, "weight_decays"),
    ],
)
def test_bad_values_name_their_field(overrides, field):
    with pytest.raises(SettingError) as error:
        Setting(**overrides)
    assert error.value.field == field


def test_quick_gc_cdnv_sweep_prints_its_table(tmp_path, capsys):
    status = experiment.main("munn2024/gc_cdnv", ["--quick", "--out", str(tmp_path)], "", "")
    out = capsys.readouterr().out
    assert status == 0, out
    assert "rho(GC,CDNV) cell" in out and "rho(GC, gc_penalty)" in out
    assert "Over all 16 trained runs" in out  # 2 batch sizes x 2 penalties x 2 lrs x 2 seeds
