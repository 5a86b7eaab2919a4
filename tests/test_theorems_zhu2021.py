"""theorems.zhu2021: the CE UFM's closed form (docs/theory/zhu2021.md) against hand values and a
numerical optimum, the measurements, the checks (holding on exact minimisers, flagging planted
violations, a wrong constant caught), the Setting's validation, the runner end to end and the
experiment's quick sweep."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize
from fixtures import verdict_status
from hypothesis import given, settings
from hypothesis import strategies as st

from nc_jax import experiment, metrics, results
from nc_jax.checks import SettingError, TrainContext, check, runner, setting_runs
from nc_jax.metrics import reference
from nc_jax.models.ufm import zhu_ufm_optimum
from theorems.zhu2021 import PAPER, THEOREMS, Setting, closed_form, measure, run, tables

BY_ID = {t.id: t for t in THEOREMS}
D1 = {"num_classes": 4, "n_per_class": 3, "dim": 6, "lambda_w": 5e-3, "lambda_h": 5e-3}


def _labels(k: int, n: int) -> np.ndarray:
    return np.repeat(np.arange(k), n).astype(np.int32)


def _params(w, h, b=None):
    head = {"w": jnp.asarray(w, jnp.float64)}
    if b is not None:
        head["b"] = jnp.asarray(b, jnp.float64)
    return {"features": jnp.asarray(h, jnp.float64), "head": [head]}


def _batched(*runs):
    """Parameter pytrees stacked along a leading run axis."""
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *runs)


def _measure(params, initial, k, n, lambdas):
    """measure_runs on one run."""
    (quantities,) = measure.measure_runs(
        _batched(params), _batched(initial), _labels(k, n), k, n, [lambdas]
    )
    return quantities


def _random_params(rng, k, n, d, bias=True, scale=1.0):
    b = rng.normal(size=k) if bias else None
    return _params(rng.normal(size=(k, d)) * scale, rng.normal(size=(k * n, d)) * scale, b)


def _verdicts(quantities, prefix="zhu2021"):
    return {t.id: check(t, quantities).verdict for t in THEOREMS if t.id.startswith(prefix)}


# ------------------------------------------------------------------------ closed form (D1)


def test_hand_computed_rho_and_optimum_for_two_classes():
    """K = 2, n = 1, lambda_W = lambda_H = 0.1: alpha = 1, beta = 2, threshold = 0.2 and
    rho* = (1/2) log((2 - 0.2) / 0.2) = (1/2) log 9 = log 3; f* = log(1 + e^{-2 log 3}) +
    0.1 * 2 * log 3 = log(10/9) + 0.2 log 3."""
    assert closed_form.alpha(1, 0.1, 0.1) == 1.0
    assert closed_form.threshold(2, 1, 0.1, 0.1) == pytest.approx(0.2, rel=1e-15)
    assert zhu_ufm_optimum(2, 1, 0.1, 0.1) == pytest.approx(math.log(3), rel=1e-14)
    expected = math.log(10 / 9) + 0.2 * math.log(3)
    assert closed_form.optimal_objective(2, 1, 0.1, 0.1) == pytest.approx(expected, rel=1e-14)


def test_closed_form_values_of_the_notes_instance():
    """D1's check instance: rho* = 6.13495, f* = 0.14902323, alpha = sqrt(1/3), threshold
    4 sqrt(3 * 2.5e-5) = 0.034641; the trivial regime at lambda = 0.2 (threshold 1.386) has
    f* = log 4."""
    k, n, lw, lh = 4, 3, 5e-3, 5e-3
    assert closed_form.alpha(n, lw, lh) == pytest.approx(1 / math.sqrt(3), rel=1e-15)
    assert closed_form.threshold(k, n, lw, lh) == pytest.approx(0.0346410161514, rel=1e-11)
    assert closed_form.optimal_objective(k, n, lw, lh) == pytest.approx(0.14902323, abs=5e-9)
    assert closed_form.optimal_objective(k, n, 0.2, 0.2) == pytest.approx(math.log(4), rel=1e-15)
    gram = closed_form.etf_gram(k, 6.0)
    np.testing.assert_allclose(np.diag(gram), 6.0, rtol=1e-15)
    np.testing.assert_allclose(gram[~np.eye(k, dtype=bool)], -2.0, rtol=1e-15)
    np.testing.assert_allclose(gram.sum(axis=1), 0.0, atol=1e-14)


@pytest.mark.parametrize("dim", [3, 4, 6])
def test_minimiser_builder_is_the_closed_form(dim):
    """W W^T = the ETF Gram at rho*, H = alpha W[y], b = 0, f(minimiser) = f* (float64), for
    d = K - 1 (the smallest Theorem 3.1 allows) and larger; a random rotation changes nothing."""
    k, n, lw, lh = 4, 3, 0.01, 0.003
    rotation = np.linalg.qr(np.random.default_rng(dim).normal(size=(dim, dim)))[0]
    w, h, b = closed_form.minimiser(k, n, dim, lw, lh, rotation)
    rho = zhu_ufm_optimum(k, n, lw, lh)
    np.testing.assert_allclose(w @ w.T, closed_form.etf_gram(k, rho), atol=1e-13)
    np.testing.assert_allclose(h, closed_form.alpha(n, lw, lh) * w[_labels(k, n)], atol=1e-15)
    targets = jax.nn.one_hot(_labels(k, n), k, dtype=jnp.float64)
    value = float(measure.objective(_params(w, h, b), targets, measure.Lambdas(lw, lh, 1e-3)))
    assert value == pytest.approx(closed_form.optimal_objective(k, n, lw, lh), rel=1e-13)
    with pytest.raises(ValueError, match="d >= K - 1"):
        closed_form.simplex_rows(k, k - 2)


def _lbfgs(k, n, d, lambdas, seed=0):
    """A numerical minimiser of D1's objective: scipy L-BFGS-B on (W, H, b), float64
    gradients from jax, from a random start (gtol 1e-11)."""
    rng = np.random.default_rng(seed)
    start = _random_params(rng, k, n, d, scale=0.5)
    flat, unravel = jax.flatten_util.ravel_pytree(start)
    targets = jax.nn.one_hot(_labels(k, n), k, dtype=jnp.float64)
    value_and_grad = jax.jit(
        jax.value_and_grad(lambda v: measure.objective(unravel(v), targets, lambdas))
    )

    def fun(v):
        value, grad = value_and_grad(jnp.asarray(v))
        return float(value), np.asarray(grad, np.float64)

    options = {"gtol": 1e-11, "ftol": 1e-16, "maxiter": 20000, "maxcor": 30}
    result = scipy.optimize.minimize(
        fun, np.asarray(flat), jac=True, method="L-BFGS-B", options=options
    )
    return unravel(jnp.asarray(result.x)), start


INSTANCES = {
    "notes D1": (4, 3, 6, measure.Lambdas(5e-3, 5e-3, 1e-3)),
    "lambda_W != lambda_H": (3, 2, 4, measure.Lambdas(0.02, 0.005, 0.01)),
}


@pytest.fixture(scope="module", params=sorted(INSTANCES))
def numerical_optimum(request):
    k, n, d, lambdas = INSTANCES[request.param]
    params, start = _lbfgs(k, n, d, lambdas)
    return k, n, d, lambdas, params, start


def test_closed_form_matches_the_numerical_optimum(numerical_optimum):
    """L-BFGS reaches f* to 1e-10 (relative) and, with it, the ETF Gram matrix at rho*,
    h = alpha w and b = 0 to 1e-5 (the distances are square roots of the objective's
    accuracy, so 1e-10 in f allows ~1e-5 in the parameters)."""
    k, n, _, lambdas, params, _ = numerical_optimum
    targets = jax.nn.one_hot(_labels(k, n), k, dtype=jnp.float64)
    value = float(measure.objective(params, targets, lambdas))
    best = closed_form.optimal_objective(k, n, lambdas.w, lambdas.h)
    assert value >= best * (1 - 1e-13)  # f* is a lower bound of f
    assert (value - best) / best < 1e-10
    distances = measure.minimiser_distances(params, _labels(k, n), k, n, lambdas)
    assert distances["gram_distance"] < 1e-5
    assert distances["feature_distance"] < 1e-5
    assert distances["bias_norm"] < 1e-5


def test_a_wrong_alpha_is_caught(numerical_optimum, monkeypatch):
    """alpha with n instead of sqrt(n), or lambda_W and lambda_H swapped: the features check
    fails on the numerical optimum (n > 1 in both instances; lambda_W != lambda_H in one)."""
    k, n, _, lambdas, params, start = numerical_optimum
    right = _measure(params, start, k, n, lambdas)
    assert check(BY_ID["zhu2021.thm3_1.features"], right).verdict == "holds"
    monkeypatch.setattr(closed_form, "alpha", lambda n, lw, lh: math.sqrt(lw / (lh * n * n)))
    wrong = measure.minimiser_distances(params, _labels(k, n), k, n, lambdas)
    assert wrong["feature_distance"] > 0.1
    verdict = check(BY_ID["zhu2021.thm3_1.features"], right | wrong).verdict
    assert verdict == "violated"


def test_the_zero_regime_minimiser_is_zero():
    """Above the threshold (K sqrt(n lambda_W lambda_H) = 1.39) L-BFGS goes to W = H = 0,
    f = log K, as rho* = 0 says."""
    lambdas = measure.Lambdas(0.2, 0.2, 0.1)
    params, _ = _lbfgs(4, 3, 6, lambdas)
    assert zhu_ufm_optimum(4, 3, 0.2, 0.2) == 0.0
    assert measure.weight_feature_norm(params) < 1e-5
    targets = jax.nn.one_hot(_labels(4, 3), 4, dtype=jnp.float64)
    assert float(measure.objective(params, targets, lambdas)) == pytest.approx(
        math.log(4), rel=1e-10
    )


# ----------------------------------------------------------------------------- measurement


def test_objective_is_d1_normalisation():
    """Mean CE over N plus lambda/2 ||.||^2 per group, not divided by N (NumPy reference)."""
    rng = np.random.default_rng(0)
    k, n, d = 3, 2, 4
    params = _random_params(rng, k, n, d)
    y = _labels(k, n)
    w, h, b = (
        np.asarray(a) for a in (params["head"][0]["w"], params["features"], params["head"][0]["b"])
    )
    logits = h @ w.T + b
    ce = np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(k * n), y])
    lambdas = measure.Lambdas(0.1, 0.2, 0.3)
    expected = ce + 0.05 * np.sum(w**2) + 0.1 * np.sum(h**2) + 0.15 * np.sum(b**2)
    targets = jax.nn.one_hot(y, k, dtype=jnp.float64)
    assert float(measure.objective(params, targets, lambdas)) == pytest.approx(expected, rel=1e-13)
    no_bias = _params(w, h)
    expected_no_bias = np.mean(optax.softmax_cross_entropy(h @ w.T, np.asarray(targets)))
    expected_no_bias += 0.05 * np.sum(w**2) + 0.1 * np.sum(h**2)
    assert float(measure.objective(no_bias, targets, lambdas)) == pytest.approx(expected_no_bias)


def test_engine_lambdas_are_the_per_group_decays():
    setting = Setting(lambda_w=0.02, lambda_h=0.005, lambda_b=0.001)
    lambdas = measure.engine_lambdas(setting.model(), 3 * 0.02)
    assert lambdas.w == pytest.approx(0.06, rel=1e-15)
    assert lambdas.h == pytest.approx(0.015, rel=1e-15)
    assert lambdas.b == pytest.approx(0.003, rel=1e-15)


SIZES = [(3, 2, 5), (4, 3, 6), (5, 1, 7)]


@pytest.mark.parametrize("seed", range(3))
def test_every_check_holds_on_random_exact_minimisers(seed):
    """Random instances satisfying every hypothesis (balanced, d > K, below the threshold,
    random rotation and lambdas): the exact minimiser passes every check; the zero-regime
    check is vacuous (its hypothesis fails)."""
    rng = np.random.default_rng(seed)
    k, n, d = SIZES[seed]
    lw, lh = 10 ** rng.uniform(-3, -1.5, size=2)
    lambdas = measure.Lambdas(lw, lh, 10 ** rng.uniform(-3, -1))
    assert closed_form.threshold(k, n, lw, lh) < 1
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    w, h, b = closed_form.minimiser(k, n, d, lw, lh, rotation)
    quantities = _measure(_params(w, h, b), _random_params(rng, k, n, d), k, n, lambdas)
    verdicts = _verdicts(quantities)
    assert verdicts.pop("zhu2021.thm3_1.zero") == "vacuous"
    assert set(verdicts.values()) == {"holds"}, verdicts
    assert quantities["hessian_min"] > -1e-10 and quantities["grad_norm"] < 1e-12
    assert set(BY_ID["zhu2021.thm3_1.loss_gap"].quantities) <= set(quantities)


def test_a_perturbed_minimiser_is_no_converged_run():
    """A minimiser with W perturbed by 1e-3 is no end point of GD (its gradient is not small):
    the reach claims and the landscape check are vacuous, naming 'GD converged' (a run stopped
    there says nothing about where GD goes; the saddle below is the planted violation), Zhu's
    NC2 and NC3 reported beside the Gram check are far from 0, and the consequence still holds
    (algebra)."""
    rng = np.random.default_rng(7)
    k, n, d = 4, 3, 6
    lambdas = measure.Lambdas(5e-3, 5e-3, 1e-3)
    w, h, b = closed_form.minimiser(k, n, d, lambdas.w, lambdas.h)
    perturbed = _params(w + 1e-3 * rng.normal(size=w.shape), h, b)
    quantities = _measure(perturbed, _random_params(rng, k, n, d), k, n, lambdas)
    verdicts = _verdicts(quantities)
    for name in ("thm3_1.loss_gap", "thm3_1.etf_gram", "thm3_1.features"):
        result = check(BY_ID[f"zhu2021.{name}"], quantities)
        assert result.verdict == "vacuous", name
        assert [h.name for h in result.failing] == ["GD converged: ||grad f||"]
    gram = check(BY_ID["zhu2021.thm3_1.etf_gram"], quantities)
    assert gram.extras["zhu_nc2"] > 1e-4 and gram.extras["zhu_nc3"] > 1e-4
    assert verdicts["zhu2021.thm3_2.stationary_end_point"] == "vacuous"
    assert verdicts["zhu2021.thm3_1.nc2_from_gram"] == "holds"


def test_the_strict_saddle_at_zero():
    """W = H = 0, b = 0 below the threshold is a critical point with negative curvature: the
    landscape check is vacuous for it (a strict saddle is no spurious minimum), the loss gap
    (log K - f*)/f* = 8.3 violates the reach claim from a random start, and a zero start makes
    every reach claim vacuous (GD never leaves the saddle; the claim is about random starts)."""
    k, n, d = 4, 3, 6
    lambdas = measure.Lambdas(5e-3, 5e-3, 1e-3)
    zero = _params(np.zeros((k, d)), np.zeros((k * n, d)), np.zeros(k))
    rng = np.random.default_rng(0)
    quantities = _measure(zero, _random_params(rng, k, n, d), k, n, lambdas)
    assert quantities["grad_norm"] < 1e-15
    # the (W, H) block [[lW I, -A], [-A^T, lH I]], A = (Y - J/K)^T / N of norm sqrt(n)/N
    lowest = 5e-3 - math.sqrt(n) / (k * n)
    assert quantities["hessian_min"] == pytest.approx(lowest, rel=1e-12)
    gap = (math.log(4) - 0.14902323) / 0.14902323
    assert quantities["loss_gap"] == pytest.approx(gap, rel=1e-6)
    result = check(BY_ID["zhu2021.thm3_2.stationary_end_point"], quantities)
    assert result.verdict == "vacuous"
    assert [h.name for h in result.failing] == ["no negative curvature: lambda_min(Hessian f)"]
    assert check(BY_ID["zhu2021.thm3_1.loss_gap"], quantities).verdict == "violated"
    assert math.isnan(quantities["zhu_nc1"])  # no geometry at W = H = 0
    from_zero = _measure(zero, zero, k, n, lambdas)
    reach = [t for t in THEOREMS if t.kind == "claim" and ".thm3_2." not in t.id]
    assert {check(t, from_zero).verdict for t in reach} == {"vacuous"}


def test_a_spurious_minimum_would_be_flagged():
    """The landscape check on made-up quantities: a second-order stationary point above f* is
    a violation; with negative curvature it is a saddle (vacuous); at f* it holds."""
    theorem = BY_ID["zhu2021.thm3_2.stationary_end_point"]
    base = {"K": 4, "d": 6, "class_imbalance": 0, "init_norm": 1.0}
    spurious = base | {"grad_norm": 1e-12, "hessian_min": 1e-6, "loss_gap": 0.1}
    assert check(theorem, spurious).verdict == "violated"
    assert check(theorem, spurious | {"hessian_min": -0.01}).verdict == "vacuous"
    assert check(theorem, spurious | {"loss_gap": 1e-13}).verdict == "holds"
    assert check(theorem, spurious | {"d": 4}).verdict == "vacuous"  # d > K [U] fails


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(2, 6),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(1e-3, 1e3),
)
def test_nc2_from_gram_holds_on_any_classifier(k, d, seed, scale):
    """The consequence is an inequality on any W (||a/|a| - b/|b||| <= 2|a - b|/|b|)."""
    w = scale * np.random.default_rng(seed).normal(size=(k, d))
    rho = 6.0
    gram = closed_form.etf_gram(k, rho)
    q = {
        "threshold": 0.5,
        "gram_distance": np.linalg.norm(w @ w.T - gram) / np.linalg.norm(gram),
        "zhu_nc2": reference.simplex_etf_deviation(w),
    }
    assert check(BY_ID["zhu2021.thm3_1.nc2_from_gram"], q).verdict == "holds"


def test_nc2_from_gram_needs_its_factor_two():
    """Rows all equal (W W^T along J, orthogonal to the ETF) and tiny: Zhu's NC2 is sqrt(2)
    while the relative Gram distance is ~1, so the constant 1 instead of 2 would fail."""
    k = 4
    w = 1e-4 * np.ones((k, 3))
    gram = closed_form.etf_gram(k, 6.0)
    distance = np.linalg.norm(w @ w.T - gram) / np.linalg.norm(gram)
    nc2 = float(metrics.simplex_etf_deviation(jnp.asarray(w)))
    assert nc2 == pytest.approx(math.sqrt(2), rel=1e-12)
    assert 1 * distance < nc2 <= 2 * distance
    result = check(
        BY_ID["zhu2021.thm3_1.nc2_from_gram"],
        {"threshold": 0.5, "gram_distance": distance, "zhu_nc2": nc2},
    )
    assert result.verdict == "holds" and result.informative is False  # 2 distance > 2


def test_theorem_records():
    kinds = {t.id: t.kind for t in THEOREMS}
    assert kinds.pop("zhu2021.thm3_1.nc2_from_gram") == "consequence"
    assert set(kinds.values()) == {"claim"}
    reported = set(BY_ID["zhu2021.thm3_1.etf_gram"].quantities)
    reported |= set(BY_ID["zhu2021.thm3_1.features"].quantities)
    assert set(measure.NC_METRICS) <= reported  # every NC metric beside the check implying it
    assert not [t.id for t in THEOREMS if ".nc." in t.id]  # none judged a second time
    assert len({t.id for t in THEOREMS}) == len(THEOREMS)


# --------------------------------------------------------------------------------- setting


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"num_classes": 1}, "num_classes"),
        ({"n_per_class": 0}, "n_per_class"),
        ({"feature_dim": 2}, "feature_dim"),
        ({"lambda_w": 0.0}, "lambda_w"),
        ({"lambda_h": float("inf")}, "lambda_h"),
        ({"lambda_b": -1.0}, "lambda_b"),
        ({"lambda_scales": ()}, "lambda_scales"),
        ({"learning_rates": (1.0, -1.0)}, "learning_rates"),
        ({"seeds": ()}, "seeds"),
        ({"steps": 750}, "steps"),
        ({"init_scale": -0.5}, "init_scale"),
    ],
)
def test_bad_settings_name_their_field(changes, field):
    with pytest.raises(SettingError) as error:
        Setting(**changes)
    assert error.value.field == field


def test_bad_setting_on_the_command_line_exits_2_naming_the_flag(tmp_path, capsys):
    code = runner.main(PAPER, ["--feature-dim", "2", "--results", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--feature-dim" in err and "K - 1 = 3" in err


def test_setting_grid_model_and_sizes():
    setting = Setting(lambda_scales=(1.0, 2.0), learning_rates=(1.0, 0.5), seeds=(3, 4, 5))
    runs = setting.runs()
    assert setting_runs(setting) == len(runs) == 12
    assert [r.params["lambda_scale"] for r in runs[:6]] == [1.0] * 6
    assert [r.params["seed"] for r in runs[:3]] == [3, 4, 5]
    assert runs[0].label == "seed=3 c=1 lr=1" and runs[-1].label == "seed=5 c=2 lr=0.5"
    # the threshold K sqrt(n lambda_W lambda_H) of each run's strengths: c = 2 doubles it
    assert runs[6].params["threshold"] == pytest.approx(2 * runs[0].params["threshold"])
    model = setting.model()
    assert model.feature_decay_scale == 1.0 and model.bias_decay_scale == pytest.approx(0.2)
    assert setting.config().loss == "cross_entropy" and setting.config().reduction == "mean"
    assert setting.cost() > 0 and setting.memory() > 0


# -------------------------------------------------------------------------- trained runs


def test_five_steps_are_vacuous_never_violated():
    """A run stopped after 5 GD steps is far from the minimiser (loss gap above 1) and far from
    converged: the reach claims and the landscape check are vacuous, naming 'GD converged';
    an unconverged run refutes nothing."""
    setting = Setting(steps=5, log_every=5, seeds=(0, 1), lambda_scales=(1.0,))
    (outcome,) = run([setting], TrainContext())
    for record in outcome.runs:
        assert record.quantities["loss_gap"] > 1.0
        for theorem in THEOREMS:
            if theorem.kind == "claim" and theorem.id != "zhu2021.thm3_1.zero":
                result = check(theorem, record.quantities)
                assert result.verdict == "vacuous", theorem.id
                assert "GD converged: ||grad f||" in [h.name for h in result.failing]


def test_cli_end_to_end(tmp_path, capsys):
    """The runner on both regimes, 2 seeds each, 4000 steps: exit 0, every check holds or is
    vacuous, the loss gap holds everywhere, the zero check holds at c = 40, results and the
    loss-gap curve written."""
    out = tmp_path / "zhu"
    argv = ["--seeds", "0,1", "--steps", "4000", "--log-every", "1000", "--results", str(out)]
    assert runner.main(PAPER, argv) == 0
    printed = capsys.readouterr().out
    assert "zhu2021.thm3_1.loss_gap" in printed and "zhu2021.thm3_1.features" in printed
    table = results.load(out)
    assert set(table["verdict"]) <= {"holds", "vacuous"}
    gap = table[table["check"] == "zhu2021.thm3_1.loss_gap"]
    assert (gap["verdict"] == "holds").all() and len(gap) == 4
    zero = table[table["check"] == "zhu2021.thm3_1.zero"]
    assert set(zero[zero["lambda_scale"] == 40.0]["verdict"]) == {"holds"}
    assert set(zero[zero["lambda_scale"] == 1.0]["verdict"]) == {"vacuous"}
    (record,) = results.read_cells(out)
    arrays = results.read_arrays(out, record["cell"])
    curve = arrays["curve/|f_t - f*| / f* (engine log)"]
    assert curve.shape == (4, 5) and (curve[:, -1] < 1e-9).all() and (curve[:, 0] > 1).all()
    assert (out / "checks.png").is_file()
    assert dataclasses.asdict(Setting()) != record["config"]  # the flags were applied


# ------------------------------------------------------------------------------ experiment


def _sweep(*argv):
    """What experiments/zhu2021_ufm.py does with ARGV."""
    return experiment.main("zhu2021/ufm", list(argv), "", "results/zhu2021_ufm")


def test_quick_experiment_tabulates_gap_and_distance_across_the_threshold(tmp_path, capsys):
    assert _sweep("--quick", "--out", str(tmp_path)) == verdict_status(tmp_path)
    out = capsys.readouterr().out
    assert "threshold" in out and "loss gap" in out and "regime" in out
    runs = results.load_runs(tmp_path)
    assert {"zero", "non-zero"} <= set(tables.regime_table(tmp_path)["regime"])
    assert np.isfinite(runs["loss_gap"]).all()
    assert _sweep("--table", str(tmp_path)) == verdict_status(tmp_path)
