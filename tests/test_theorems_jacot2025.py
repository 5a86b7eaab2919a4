"""Jacot et al. (ICLR 2025) checks: the measured quantities against float64 NumPy references,
every bound on random networks that satisfy its hypotheses (never violated), planted
violations (reported), failing hypotheses (vacuous), the float64 replay of the engine, and the
script end to end."""

from __future__ import annotations

import math

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from fixtures import balanced_labels
from hypothesis import given, settings
from hypothesis import strategies as st

from nc_jax import results
from nc_jax.checks import check
from nc_jax.checks.runner import main as check_main
from nc_jax.models import MLP
from nc_jax.train import TrainConfig, init_runs, make_data
from theorems.jacot2025 import PAPER
from theorems.jacot2025.bounds import THEOREMS, psi
from theorems.jacot2025.examples import IDEAL
from theorems.jacot2025.measure import (
    gradient_values,
    hessian_top_eigenvalue,
    initial_quantities,
    network_quantities,
    ntk_top_eigenvalue,
    python_floats,
    replay_balancedness,
)

BY_ID = {t.id: t for t in THEOREMS}
STATIC = [t for t in THEOREMS if t.kind == "consequence"]  # claims can fail on any network


def _orthonormal(rng, rows, cols):
    return np.linalg.qr(rng.normal(size=(rows, cols)))[0]


def random_network(
    seed, num_classes=4, n_per_class=6, depth=3, head_width=8, imbalance=1e-3, feature_scale=1.0
):
    """An MLP with one ReLU layer and a ``depth``-layer linear head: the head is a balanced
    factorisation of the least-squares fit of the labels (as falsify's near-balanced starts) plus a
    relative perturbation ``imbalance``; ``feature_scale`` scales the ReLU features (the head
    then scales by its inverse). Returns (model, params, x, y)."""
    rng = np.random.default_rng(seed)
    y = balanced_labels(num_classes, n_per_class)
    centres = rng.normal(size=(num_classes, 6)) * 3
    x = centres[y] + rng.normal(size=(y.size, 6))
    width = 4 * num_classes
    w1 = feature_scale * rng.normal(size=(width, 6)) / np.sqrt(6)
    z1 = np.maximum(x @ w1.T, 0)
    fit = np.linalg.lstsq(z1, np.eye(num_classes)[y], rcond=None)[0].T  # (K, width)
    u, s, vt = np.linalg.svd(fit, full_matrices=False)
    root = np.diag(s ** (1 / depth))
    frames = [_orthonormal(rng, head_width, num_classes) for _ in range(depth - 1)]
    head = [frames[0] @ root @ vt]
    head += [frames[i] @ root @ frames[i - 1].T for i in range(1, depth - 1)]
    head.append(u @ root @ frames[-1].T)
    head = [w + imbalance * np.linalg.norm(w, 2) * rng.normal(size=w.shape) / 3 for w in head]
    model = MLP((width, *(head_width,) * (depth - 1), num_classes), num_linear=depth)
    params = [{"w": jnp.asarray(w)} for w in (w1, *head)]
    return model, params, jnp.asarray(x), jnp.asarray(y)


def untrained(params, seed=0):
    """The same shapes with LeCun-normal weights: the 'network at initialisation' of the
    trivial references."""
    rng = np.random.default_rng(seed)
    return [
        {"w": jnp.asarray(rng.normal(size=p["w"].shape) / np.sqrt(p["w"].shape[1]))} for p in params
    ]


def _quantities(model, params, x, y, weight_decay=0.05):
    num_classes = int(y.max()) + 1
    config = TrainConfig(steps=1, log_every=1)
    data = make_data(x, y, num_classes, dtype=jnp.float64)
    q = network_quantities(model, params, data.x, data.y, num_classes)
    q |= initial_quantities(model, untrained(params), data.x, data.y, num_classes)
    ntk, change = ntk_top_eigenvalue(model, params, data.x, num_classes)
    sharpness, sharpness_change = hessian_top_eigenvalue(model, config, params, data, weight_decay)
    q.update(
        weight_decay=weight_decay,
        **python_floats(gradient_values(model, config, params, data, weight_decay)),
        ntk_lambda_max=ntk,
        ntk_relative_change=change,
        hessian_lambda_max=sharpness,
        hessian_relative_change=sharpness_change,
        eta=0.5 / sharpness,
        step_scale=0.5 / ntk,
        stability_product=0.5,
    )
    return q


# --------------------------------------------------------------------- measured quantities


def test_quantities_match_a_float64_numpy_reference():
    model, params, x, y = random_network(0, imbalance=0.05)
    q = _quantities(model, params, x, y)
    w = [np.asarray(p["w"]) for p in params]
    z1 = np.maximum(np.asarray(x) @ w[0].T, 0)
    z2 = z1 @ w[1].T
    z3 = z2 @ w[2].T
    out = z3 @ w[3].T
    yy = np.asarray(y)
    targets = np.eye(4)[yy]
    op = lambda a: np.linalg.norm(a, 2)  # noqa: E731
    pairs = [np.abs(np.linalg.eigvalsh(b.T @ b - a @ a.T)).max() for a, b in zip(w[1:], w[2:])]
    means = np.stack([z3[yy == c].mean(0) for c in range(4)])
    within = z3 - means[yy]
    between = means - z3.mean(0)
    s_head = np.linalg.svd(w[3] @ w[2] @ w[1], compute_uv=False)
    s_last = np.linalg.svd(w[3], compute_uv=False)
    s_means = np.linalg.svd(means, compute_uv=False)
    cosines = np.sum(w[3] * means, 1) / np.linalg.norm(w[3], axis=1) / np.linalg.norm(means, axis=1)
    reference = {
        "eps1": np.linalg.norm(out - targets),
        "eps2": max(pairs),
        "eps2_last": pairs[-1],
        "r": max(op(z2), op(z3), *(op(m) for m in w[1:])),
        "r_head": max(op(m) for m in w[1:]),
        "s_K_Y": np.sqrt(6),
        "within_mass": np.linalg.norm(within),
        "nc1": (np.sum(within**2) / 24) / (np.sum(between**2) / 4),
        "kappa_M": s_means[0] / s_means[3],
        "cos_min": cosines.min(),
        "kappa_WL": s_last[0] / s_last[3],
        "kappa_head": s_head[0] / s_head[3],
        "head_s1": s_head[0],
        "head_sK": s_head[3],
        "norm_first_linear": op(w[1]),
    }
    for key, value in reference.items():
        assert q[key] == pytest.approx(value, rel=1e-10), key
    assert (q["N"], q["K"], q["n_penultimate"], q["L1"], q["L2"]) == (24, 4, 8, 1, 3)
    assert q["head_bias_free"] == 1.0 and q["class_imbalance"] == 0


def test_ntk_estimate_converges_to_the_true_top_eigenvalue_from_a_random_start():
    """The Lanczos iteration does not start at the first linear layer's block (whose eigenvalue
    is the Section 5.2 bound): it converges from a random start to lambda_max, from below."""
    model, params, x, y = random_network(1, num_classes=3, n_per_class=3, head_width=4)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    jacobian = jax.jacobian(lambda f: model.apply(unravel(f), x)[0].ravel())(flat)
    true = np.linalg.eigvalsh(np.asarray(jacobian @ jacobian.T))[-1]
    estimate, change = ntk_top_eigenvalue(model, params, x, 3)
    assert estimate <= true * (1 + 1e-12)
    assert estimate == pytest.approx(true, rel=1e-6) and change < 1e-6
    few, few_change = ntk_top_eigenvalue(model, params, x, 3, max_iterations=2)
    assert few < estimate and few_change > 1e-6  # not converged: the check says vacuous
    q = {**IDEAL, "ntk_relative_change": few_change}
    assert check(BY_ID["jacot2025.sec5_2.ntk"], q).verdict == "vacuous"
    zero = jax.tree_util.tree_map(jnp.zeros_like, params)  # a constant network: Theta = 0
    assert ntk_top_eigenvalue(model, zero, x, 3) == (0.0, 0.0)


def test_hessian_estimate_matches_the_dense_hessian_of_the_regularised_objective():
    """Lanczos on Hessian-vector products against eigvalsh of jax.hessian (float64), for the
    summed loss + lambda/2 ||theta||^2 the engine descends; from below, converged; the Gauss-
    Newton part J^T J + lambda I is what the NTK premise reads (equal top eigenvalue up to the
    residual curvature)."""
    model, params, x, y = random_network(2, num_classes=3, n_per_class=3, head_width=4)
    config = TrainConfig(steps=1, log_every=1, reduction="sum")
    data = make_data(x, y, 3, dtype=jnp.float64)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    lam = 0.07

    def objective(f):
        out = model.apply(unravel(f), data.x)[0]
        return 0.5 * jnp.sum((out - data.targets) ** 2) + lam / 2 * jnp.sum(f**2)

    dense = np.linalg.eigvalsh(np.asarray(jax.hessian(objective)(flat)))
    estimate, change = hessian_top_eigenvalue(model, config, params, data, lam)
    assert estimate <= dense[-1] * (1 + 1e-12)
    assert estimate == pytest.approx(dense[-1], rel=1e-8) and change < 1e-6
    few, few_change = hessian_top_eigenvalue(model, config, params, data, lam, max_iterations=2)
    assert few < estimate and few_change > 1e-6
    q = {**IDEAL, "hessian_relative_change": few_change}
    assert check(BY_ID["jacot2025.sec5_2.edge_of_stability_hessian"], q).verdict == "vacuous"


def test_gradient_identity_makes_critical_balance_exact():
    """lambda D_{L-1} = W_L^T grad_L - grad_{L-1} W_{L-1}^T, checked as matrices."""
    model, params, x, y = random_network(2, imbalance=0.2)
    lam = 0.3
    data = make_data(x, y, 4, dtype=jnp.float64)

    def objective(p):
        fit = 0.5 * jnp.sum((model.apply(p, data.x)[0] - data.targets) ** 2)
        return fit + 0.5 * lam * sum(jnp.sum(e["w"] ** 2) for e in p)

    grads = jax.grad(objective)(params)
    w_prev, w_last = params[-2]["w"], params[-1]["w"]
    d = w_last.T @ w_last - w_prev @ w_prev.T
    identity = w_last.T @ grads[-1]["w"] - grads[-2]["w"] @ w_prev.T
    np.testing.assert_allclose(lam * d, identity, atol=1e-12)
    config = TrainConfig(steps=1, log_every=1)
    bound = python_floats(gradient_values(model, config, params, data, lam))["grad_balance_bound"]
    assert network_quantities(model, params, data.x, data.y, 4)["eps2_last"] <= bound


def test_the_batched_measurement_equals_the_per_run_one():
    """measure_runs (one vmapped program and three batched Lanczos iterations over R runs)
    against the per-run functions, run by run, to float64 rounding."""
    from theorems.jacot2025.measure import competitor_values, measure_runs

    model = MLP((12, 8, 8, 8, 3), num_linear=3)
    y = balanced_labels(3, 4)
    x = np.random.default_rng(3).normal(size=(12, 5))
    config = TrainConfig(steps=1, log_every=1)
    decays = [0.5, 0.0, 2.0]
    final = init_runs(model, config, 5, [0.01, 0.02, 0.005], decays, [0, 1, 2])
    start = init_runs(model, config, 5, [0.01] * 3, decays, [3, 4, 5]).params
    data = make_data(x, y, 3, dtype=jnp.float64)
    batched = measure_runs(model, config, final, start, data, replay_steps=3, ntk_iterations=40)
    for run in range(3):
        one = jax.tree_util.tree_map(lambda leaf, run=run: leaf[run], final)
        initial = jax.tree_util.tree_map(lambda leaf, run=run: leaf[run], start)
        lam = decays[run]
        expected = network_quantities(model, one.params, data.x, data.y, 3)
        expected |= initial_quantities(model, initial, data.x, data.y, 3)
        expected |= python_floats(gradient_values(model, config, one.params, data, lam))
        expected |= python_floats(competitor_values(model, config, one.params, data, lam))
        expected |= replay_balancedness(model, config, one, data, 3)
        expected["ntk_lambda_max"], expected["ntk_relative_change"] = ntk_top_eigenvalue(
            model, one.params, data.x, 3, max_iterations=40
        )
        sharpness = hessian_top_eigenvalue(model, config, one.params, data, lam, 40)
        expected["hessian_lambda_max"], expected["hessian_relative_change"] = sharpness
        expected["hessian_lambda_max_init"] = hessian_top_eigenvalue(
            model, config, initial, data, lam, 40
        )[0]
        assert set(batched) == set(expected)
        for name, value in expected.items():
            got = batched[name][run]
            if "change" in name or name in ("recursion_residual", "competitor_residual"):
                assert got == pytest.approx(value, abs=1e-12), name  # rounding-level values
            else:
                assert got == pytest.approx(value, rel=1e-10, nan_ok=True), name
    assert batched["relative_stationarity"][1] == math.inf  # lambda = 0
    assert batched["grad_balance_bound"][1] == math.inf


# --------------------------------------------------------------- bounds on random networks


# 37 s cold (a compilation per drawn shape); the default run keeps the 8 near-balanced random
# networks of tests/test_jacot2025_formulas.py, where no check may be violated either.
@pytest.mark.slow
@settings(max_examples=5, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    num_classes=st.integers(2, 5),
    n_per_class=st.integers(3, 8),
    depth=st.integers(2, 4),
    log_imbalance=st.floats(-6, -0.5),
)
def test_no_bound_is_violated_on_random_networks(
    seed, num_classes, n_per_class, depth, log_imbalance
):
    model, params, x, y = random_network(
        seed,
        num_classes,
        n_per_class,
        depth,
        head_width=num_classes + 3,
        imbalance=10**log_imbalance,
    )
    q = _quantities(model, params, x, y)
    for theorem in STATIC:
        result = check(theorem, q)
        assert result.verdict != "violated", (theorem.id, result)


# The consequences whose hypotheses a near-balanced network satisfies (the composite head bound
# needs r close to ||W_l||, see below).
MAIN_CONSEQUENCES = (
    "jacot2025.thm3_1.within_mass",
    "jacot2025.thm3_1.nc1",
    "jacot2025.thm3_1.nc2",
    "jacot2025.thm3_1.nc3",
    "jacot2025.thm3_1.within_mass_tight",
    "jacot2025.thm3_1.nc1_tight",
    "jacot2025.thm3_1.nc2_tight",
    "jacot2025.thm3_1.nc3_tight",
    "jacot2025.thm3_1.head_to_last",
    "jacot2025.sec5.critical_balance",
    "jacot2025.sec5_2.ntk",
)


def test_near_ideal_network_makes_theorem_3_1_non_vacuous():
    model, params, x, y = random_network(3, num_classes=3, n_per_class=8, imbalance=1e-7)
    q = _quantities(model, params, x, y)
    for theorem_id in MAIN_CONSEQUENCES:
        result = check(BY_ID[theorem_id], q)
        assert result.verdict == "holds", (theorem_id, result.failing)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), log_imbalance=st.floats(-10, -7), scale=st.floats(0.05, 0.3))
def test_composite_head_bound_on_balanced_well_scaled_networks(seed, log_imbalance, scale):
    """Composite (a) needs r close to ||W_l||: features scaled so that ||Z_{L-1}|| ~ ||W_L||,
    and a nearly exact balanced factorisation; there it is non-vacuous and never violated."""
    model, params, x, y = random_network(
        seed, 3, 8, 2, 5, imbalance=10**log_imbalance, feature_scale=scale
    )
    result = check(
        BY_ID["jacot2025.thm3_1.head_to_last_composite"], _quantities(model, params, x, y)
    )
    assert result.verdict != "violated"


def test_composite_head_bound_is_non_vacuous_when_r_is_small():
    model, params, x, y = random_network(3, 3, 8, 2, 5, imbalance=1e-9, feature_scale=0.1)
    result = check(
        BY_ID["jacot2025.thm3_1.head_to_last_composite"], _quantities(model, params, x, y)
    )
    assert result.verdict == "holds" and result.slack > 0.99  # tight: e is tiny


# -------------------------------------------------------------- planted violations, vacuity


def test_every_check_says_what_kind_of_statement_it_is():
    kinds = {t.id: t.kind for t in THEOREMS}
    assert kinds["jacot2025.sec4.recursion"] == "identity"  # exact, checked to rounding
    thm31 = [k for tid, k in kinds.items() if tid.startswith("jacot2025.thm3_1.")]
    assert len(thm31) == 12 and set(thm31) == {"consequence"}  # implied by measured quantities
    assert kinds["jacot2025.sec5.critical_balance"] == "consequence"
    claims = {tid for tid, k in kinds.items() if k == "claim"}
    assert claims == {
        "jacot2025.sec4.interpolation",
        "jacot2025.sec4.balancing",
        "jacot2025.sec5.balanced_head",
        "jacot2025.sec5_2.edge_of_stability_hessian",
        "jacot2025.thm5_2.head_conditioning",
    }
    for theorem in THEOREMS:  # a consequence names its no-theorem reference, nothing else does
        assert bool(theorem.trivial) == (theorem.kind == "consequence"), theorem.id


CONSEQUENCES = sorted(t.id for t in THEOREMS if t.kind == "consequence")


@pytest.mark.parametrize("theorem_id", CONSEQUENCES)
def test_informative_only_when_the_bound_beats_its_trivial_reference(theorem_id):
    """IDEAL's bounds beat their references; moving the reference past the bound (a better
    untrained network, a smaller total mass) makes the same verdict uninformative."""
    theorem = BY_ID[theorem_id]
    ideal = check(theorem, IDEAL)
    assert ideal.verdict == "holds" and ideal.informative is True, ideal
    assert math.isfinite(ideal.trivial)
    scale = 0.5 if theorem.relation == "<=" else 2.0
    beaten = check(theorem, {**IDEAL, **_reference_at(theorem_id, ideal.bound * scale)})
    assert beaten.verdict == "holds" and beaten.informative is False
    assert beaten.bound == ideal.bound  # only the reference moved


def _reference_at(theorem_id, value):
    """The quantity a consequence's trivial reference is read from, set so that the reference
    equals ``value``."""
    name = {
        "jacot2025.thm3_1.within_mass": "total_mass",
        "jacot2025.thm3_1.nc1": "nc1_init",
        "jacot2025.thm3_1.nc2": "kappa_M_init",
        "jacot2025.thm3_1.nc3": "cos_min_init",
        "jacot2025.thm3_1.nc2_c3": "kappa_M_init",
        "jacot2025.thm3_1.nc3_c3": "cos_min_init",
        "jacot2025.thm3_1.within_mass_tight": "total_mass",
        "jacot2025.thm3_1.nc1_tight": "nc1_init",
        "jacot2025.thm3_1.nc2_tight": "kappa_M_init",
        "jacot2025.thm3_1.nc3_tight": "cos_min_init",
        "jacot2025.sec5.critical_balance": "last_pair_sq_norm",
        "jacot2025.sec5_2.ntk": "penultimate_op_sq",
        "jacot2025.sec5_2.edge_of_stability": "kappa_head_init",
    }.get(theorem_id)
    if name is None:  # the head bounds compare kappa(W_L)^(2 L2) with its untrained value
        return {"kappa_WL_init": value ** (1 / (2 * IDEAL["L2"]))}
    return {name: value}


def test_c3_forms_compose_bound_a_with_the_nc2_and_nc3_bounds_by_hand():
    """The paper's form on IDEAL (eps1 0.3, s_K(Y) 3, r 2, eps2 = eps2_last = 1e-4, L2 = 3,
    c3 = 1.16): kappa(W_L) <= k = (c3^2 + (1 + c3^2) e / D)^(1/6), then the NC2 and NC3 bounds
    at k; both weaker than the kappa(W_L) forms, since k >= kappa(W_L) = 1.05."""
    e = 1e-4 * (4 + 1e-4) ** 2 * 3
    d = (2.7 / 2) ** 6 - 2 * e
    k = (1.16**2 + (1 + 1.16**2) * e / d) ** (1 / 6)
    delta = 0.1
    nc2 = k * 1.1 / 0.9 + 4 * 1e-2 / 2.7
    nc3 = 0.9 / ((1 + k**2) / (2 * k) + k * delta + 4 * 1e-2 / 3)
    two = check(BY_ID["jacot2025.thm3_1.nc2_c3"], IDEAL)
    three = check(BY_ID["jacot2025.thm3_1.nc3_c3"], IDEAL)
    assert two.bound == pytest.approx(nc2, rel=1e-12) and two.verdict == "holds"
    assert three.bound == pytest.approx(nc3, rel=1e-12) and three.verdict == "holds"
    assert two.extras["kappa_WL bound from c3"] == pytest.approx(k, rel=1e-12)
    assert two.bound > check(BY_ID["jacot2025.thm3_1.nc2"], IDEAL).bound
    assert three.bound < check(BY_ID["jacot2025.thm3_1.nc3"], IDEAL).bound


def test_theorem_5_2_bound_by_hand_and_its_exp_form():
    """sqrt((K + c/L2) a^(-2/L2) - (K-1)) at K = 10, L2 = 3, c = 2, a = 0.8; it is below the
    paper's exp(c/(2 L2)) a^(-K/L2) form (1 + x <= e^x), and shrinks as the head deepens."""
    q = {**IDEAL, "fit_gain": 0.8}
    by_hand = math.sqrt((10 + 2 / 3) * 0.8 ** (-2 / 3) - 9)
    result = check(BY_ID["jacot2025.thm5_2.head_conditioning"], q)
    assert result.bound == pytest.approx(by_hand, rel=1e-12) and result.verdict == "holds"
    assert result.bound <= math.exp(2 / 6) * 0.8 ** (-10 / 3)
    deeper = [
        check(BY_ID["jacot2025.thm5_2.head_conditioning"], {**IDEAL, "L2": d}).bound
        for d in (2, 3, 5, 8)
    ]
    assert deeper == sorted(deeper, reverse=True)
    unfit = check(
        BY_ID["jacot2025.thm5_2.head_conditioning"], {**IDEAL, "competitor_residual": 0.1}
    )
    assert unfit.verdict == "vacuous"


def test_competitor_fits_the_labels_and_prices_its_parameters():
    """The competitor of a network with a first layer wider than N: its last non-linear layer
    outputs [Y, 0] exactly; c = ||W_1'||^2 (L1 = 1 here: no kept layer) by NumPy's lstsq."""
    from theorems.jacot2025.measure import competitor_values

    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 20))
    y = np.arange(12) % 3
    model = MLP((8, 6, 3), num_linear=2)
    params = model.init(jax.random.PRNGKey(0), 20)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    config = TrainConfig(steps=1, log_every=1, reduction="sum")
    data = make_data(x, y, 3, dtype=jnp.float64)
    q = python_floats(competitor_values(model, config, params, data, 0.1))
    labels = np.zeros((12, 8))
    labels[np.arange(12), y] = 1
    least_norm = np.linalg.lstsq(x, labels, rcond=None)[0]
    assert q["competitor_c"] == pytest.approx(np.sum(least_norm**2), rel=1e-10)
    assert q["competitor_residual"] < 1e-12
    out = np.asarray(model.apply(params, data.x)[0])
    flat = np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(params)])
    objective = 0.5 * np.sum((out - labels[:, :3]) ** 2) + 0.05 * np.sum(flat**2)
    assert q["cost_ratio"] == pytest.approx(objective / (0.05 * (q["competitor_c"] + 2 * 3)))


def test_balancing_is_vacuous_where_the_training_precision_cannot_resolve_it():
    """The same unbalanced head (eps2 = 1, above the bound 0.157): trained in float64 the claim
    is refuted; trained in float32, rounding each update sustains an imbalance of u r_W^2 /
    (1 - (1 - eta lambda)^2) = 0.27 > the bound, so the claim is vacuous, naming the floor."""
    q = {**IDEAL, "r_head": 3.0, "eps2": 1.0}
    theorem = BY_ID["jacot2025.sec4.balancing"]
    c = (1 - 1e-6) ** 2  # eta lambda = 1e-3 * 1e-3
    by_hand = 2 * (c**2_000_000 * 4.0 + 1e-6 * 0.01 / (1 - c))
    wide = check(theorem, {**q, "unit_roundoff": 2.0**-53})
    assert wide.verdict == "violated" and wide.bound == pytest.approx(by_hand, rel=1e-9)
    single = check(theorem, {**q, "unit_roundoff": 2.0**-24})
    assert single.verdict == "vacuous"
    assert [h.name for h in single.failing] == [
        "the training precision resolves the bound: rounding floor <= bound"
    ]
    assert single.failing[0].value == pytest.approx(2.0**-24 * 9 / (1 - c), rel=1e-9)


def test_balanced_head_is_vacuous_before_the_balancing_horizon_never_violated():
    """An unconverged run (eta lambda t = 0.5: envelope exp(-1) = 0.37 > 0.05) with an
    unbalanced head makes the claim vacuous, naming the horizon; trained past it (eta lambda
    t = 2, envelope exp(-4) = 0.018), the same head violates it."""
    unbalanced = {**IDEAL, "kappa_WL": 1.3}
    early = check(BY_ID["jacot2025.sec5.balanced_head"], {**unbalanced, "decay_steps": 500_000})
    assert early.verdict == "vacuous"
    assert [h.name for h in early.failing] == [
        "trained to the balancing horizon: (1 - eta lambda)^(2t) <= 0.05"
    ]
    assert early.failing[0].value == pytest.approx(math.exp(-1), rel=1e-5)
    late = check(BY_ID["jacot2025.sec5.balanced_head"], unbalanced)
    assert late.verdict == "violated"
    horizon = {h.name: h.value for h in late.hypotheses}
    assert horizon[early.failing[0].name] == pytest.approx(math.exp(-4), rel=1e-5)


def test_a_vacuous_consequence_is_never_informative():
    result = check(BY_ID["jacot2025.thm3_1.nc1"], {**IDEAL, "eps1": 3.5})
    assert result.verdict == "vacuous" and result.informative is False
    claim = check(BY_ID["jacot2025.sec5.balanced_head"], IDEAL)
    assert claim.informative is None and math.isnan(claim.trivial)


def test_psi_is_the_design_card_formula():
    assert psi(1.0, 0.04, 2.0, 3.0, 25) == pytest.approx(2.0 * (1.0 / 2.0 + math.sqrt(25 * 0.04)))
    assert psi(3.0, 0.0, 1.0, 3.0, 4) == math.inf


# --------------------------------------------------------------- Section 4: engine replay


@pytest.mark.parametrize("optimizer", ["gd", "momentum"])
def test_replay_of_the_engine_follows_the_balancedness_recursion(optimizer):
    model = MLP((16, 8, 8, 8, 3), num_linear=3)
    ds_y = balanced_labels(3, 5)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(15, 4))
    config = TrainConfig(steps=20, log_every=20, optimizer=optimizer)
    state = init_runs(model, config, 4, [0.02], [0.5], [0])
    one = jax.tree_util.tree_map(
        lambda leaf: (
            jnp.asarray(np.asarray(leaf[0]), jnp.float64)
            if jnp.issubdtype(leaf.dtype, jnp.floating)
            else leaf[0]
        ),
        state,
    )
    data = make_data(x, ds_y, 3, dtype=jnp.float64)
    replay = replay_balancedness(model, config, one, data, 20)
    assert set(replay) == {"recursion_residual"}  # eps2 along training: the engine's logs
    if optimizer == "gd":
        assert replay["recursion_residual"] < 1e-13
    else:  # momentum breaks the identity: the residual is large, and the check says vacuous
        assert replay["recursion_residual"] > 1e-8
        q = {"recursion_residual": replay["recursion_residual"], "head_bias_free": 1.0, "L2": 3}
        assert check(BY_ID["jacot2025.sec4.recursion"], {**q, "gd_coupled": 0.0}).verdict == (
            "vacuous"
        )


# ------------------------------------------------------------------------ the script


TINY = [
    "--n-per-class", "4", "--widths", "48,12,12,12,10", "--steps", "200", "--log-every",
    "100", "--learning-rates", "2e-3", "--weight-decay", "0.2", "--seeds", "0,1",
    "--replay-steps", "10",
]  # fmt: skip


def _checks(directory):
    (record,) = results.read_cells(directory)
    return record["checks"]


def test_script_trains_checks_writes_and_rechecks(tmp_path, capsys):
    out = tmp_path / "results"
    status = check_main(PAPER, [*TINY, "--results", str(out)])
    captured = capsys.readouterr()
    printed = captured.out
    assert "jacot2025: training" in captured.err and "100%" in captured.err  # a progress bar
    saved = _checks(out)
    violated = {c["theorem_id"] for c in saved if c["verdict"] == "violated"}
    assert status == (1 if violated else 0)
    assert {BY_ID[t].kind for t in violated} <= {"claim"}  # only training can refute a check
    assert len(saved) == 2 * len(THEOREMS)
    assert {c["theorem_id"] for c in saved} == set(BY_ID)
    assert "jacot2025.thm3_1.nc1" in printed and "consequence" in printed and "identity" in printed
    assert (out / "checks.png").stat().st_size > 10_000
    (cell,) = results.read_cells(out)
    arrays = results.read_arrays(out, cell["cell"])
    eps2_curve = arrays["curve/eps2 (engine logs)"]
    assert eps2_curve.shape == arrays["step"].shape  # eps2 at every log, from initialisation
    grams = [arrays[f"gram/layer {layer}"] for layer in (2, 3, 4, 5)]  # Z_{L1} .. Z_L
    for gram in grams:
        assert gram.shape == (2, 10, 10)
        np.testing.assert_allclose(np.diagonal(gram, axis1=1, axis2=2), 1.0, rtol=1e-5)
        np.testing.assert_allclose(gram, np.swapaxes(gram, 1, 2), atol=1e-6)
    assert "informative" in printed
    again = check_main(PAPER, ["--results", str(out), "--recheck", "--only", "jacot2025.thm3_1"])
    rechecked = _checks(out)
    assert again == 0
    assert {c["theorem_id"] for c in rechecked} == {
        t for t in BY_ID if t.startswith("jacot2025.thm3_1")
    }
    before = {(c["theorem_id"], c["label"]): c["measured"] for c in saved}
    for c in rechecked:
        assert c["measured"] == before[(c["theorem_id"], c["label"])]
    table = results.load(out)  # the sweep's loader reads a check run too
    assert len(table) == len(rechecked) and set(table["seed"]) == {0, 1}


def test_script_rejects_bad_arguments(tmp_path, capsys):
    assert check_main(PAPER, ["--results", str(tmp_path), "--recheck"]) == 2
    assert "grid.json" in capsys.readouterr().err
    assert check_main(PAPER, [*TINY, "--num-linear", "0", "--results", str(tmp_path)]) == 2
    assert "--num-linear" in capsys.readouterr().err
    assert check_main(PAPER, ["--data-dir", "/tmp", "--results", str(tmp_path)]) == 2
    assert "--data-dir: mnist5k is embedded" in capsys.readouterr().err


def test_a_head_of_one_layer_trains_and_leaves_the_head_checks_vacuous(tmp_path):
    """L2 = 1 (the baseline of the paper's Figure 2) is outside the paper's setting: the pair
    quantities are NaN, every check is vacuous and names the depth hypothesis; the class-mean
    matrices are still stored."""
    out = tmp_path / "results"
    assert check_main(PAPER, [*TINY, "--num-linear", "1", "--results", str(out)]) == 0
    (cell,) = results.read_cells(out)
    for run in cell["runs"]:
        assert np.isnan(float(run["quantities"]["eps2"])) and run["quantities"]["L2"] == 1
    for c in _checks(out):
        assert c["verdict"] == "vacuous", c
        failing = [h["name"] for h in c["hypotheses"] if not h["holds"]]
        assert "linear head depth L2 >= 2" in failing, c
    arrays = results.read_arrays(out, cell["cell"])
    assert not any(key.startswith("curve/") for key in arrays)
    assert {"gram/layer 4", "gram/layer 5"} <= set(arrays)


@pytest.mark.slow
def test_default_setting_is_non_vacuous_for_theorem_3_1(tmp_path):
    """The README's main job: every Theorem 3.1 check holds non-vacuously on every run."""
    assert check_main(PAPER, ["--results", str(tmp_path)]) == 0
    for c in _checks(tmp_path):
        assert c["verdict"] != "violated"
        if c["theorem_id"] in {
            "jacot2025.thm3_1.within_mass",
            "jacot2025.thm3_1.nc1",
            "jacot2025.thm3_1.nc2",
            "jacot2025.thm3_1.nc3",
        }:
            assert c["verdict"] == "holds", c


def test_balancing_curves_follow_the_head_pairs_and_the_weight_decay_envelope():
    """eps2(t) is the max over the head pairs (columns L1..L-2; the last column is NaN), the
    envelope (1 - eta lambda)^(2t) eps2(0) per run; nothing without logged layer metrics."""
    from theorems.jacot2025.setting import balancing_curves

    balancedness = np.array([[[9.0, 4.0, 2.0, np.nan], [9.0, 1.0, 3.0, np.nan]]])  # (1, 2, 4)
    trajectory = {"layer/balancedness": balancedness, "step": np.array([[0, 10]])}
    curves = balancing_curves(trajectory, 1, np.array([0.01]), np.array([2.0]))
    np.testing.assert_array_equal(curves["curve/eps2 (engine logs)"], [[4.0, 3.0]])
    envelope = curves["curve/(1-eta lambda)^(2t) eps2(0)"]
    np.testing.assert_allclose(envelope, [[4.0, 4.0 * 0.98**20]])
    assert balancing_curves({"step": np.array([[0]])}, 1, np.ones(1), np.ones(1)) == {}


def test_a_head_narrower_than_k_has_infinite_conditioning_not_a_clamped_one():
    """With width 3 < K = 4 the class means, W_L and the head product have rank < K: s_K = 0,
    kappa = inf (JAX indexing s[K-1] past the end would silently return the last value, the
    measurement did so before)."""
    rng = np.random.default_rng(5)
    model = MLP((8, 3, 4), num_linear=2)  # a ReLU layer, then a linear head of widths 3 and 4
    params = untrained([{"w": np.zeros((8, 6))}, {"w": np.zeros((3, 8))}, {"w": np.zeros((4, 3))}])
    y = balanced_labels(4, 6)
    data = make_data(rng.normal(size=(24, 6)), y, 4, dtype=jnp.float64)
    q = network_quantities(model, params, data.x, data.y, 4)
    assert q["kappa_M"] == q["kappa_WL"] == math.inf  # (4, 3): three singular values
    assert q["head_sK"] < 1e-12 * q["head_s1"]  # (4, 8) of rank 3: s_K is rounding


def test_float64_training_follows_the_float32_run_and_keeps_its_precision(tmp_path):
    """precision = "float64" trains in float64 (the logged loss and layer metrics are float64,
    the memory estimate doubles) from the same initial draw, and ends where float32 training
    ends up to float32 rounding."""
    short = [*TINY, "--steps", "100", "--log-every", "50", "--seeds", "0"]
    losses = {}
    for precision in ("float32", "float64"):
        out = tmp_path / precision
        assert check_main(PAPER, [*short, "--precision", precision, "--results", str(out)]) in (
            0,
            1,
        )
        (cell,) = results.read_cells(out)
        arrays = results.read_arrays(out, cell["cell"])
        assert arrays["loss"].dtype == np.dtype(precision)
        losses[precision] = arrays["loss"][:, -1]
    np.testing.assert_allclose(losses["float64"], losses["float32"], rtol=1e-3)
    assert PAPER.setting(precision="float64").memory() == 2 * PAPER.setting().memory()


def test_interpolation_needs_a_smooth_activation():
    """Assumption 4.2 (smooth, sigma' in [gamma, 1], gamma > 0) is a hypothesis of
    sec4.interpolation: measured 1 only for the smooth activation, 0 for relu, tanh (tanh' -> 0)
    and gelu (gelu' leaves [0, 1]); on a ReLU network the claim is vacuous with that hypothesis
    named, even where eps1 > s_K(Y) would otherwise read as a violation."""
    x = jnp.asarray(np.random.default_rng(0).normal(size=(12, 5)))
    y = jnp.asarray(balanced_labels(3, 4))
    for activation, smooth in (("relu", 0.0), ("tanh", 0.0), ("gelu", 0.0), ("smooth:0.2", 1.0)):
        model = MLP((16, 8, 3), num_linear=1, activation=activation)
        with jax.enable_x64(True):
            params = model.init(jax.random.PRNGKey(0), 5)
            values = initial_quantities(model, params, x, y, 3)
        assert values["smooth_activation"] == smooth
    theorem = BY_ID["jacot2025.sec4.interpolation"]
    assert check(theorem, IDEAL | {"eps1": 3.01}).verdict == "violated"
    relu = check(theorem, IDEAL | {"eps1": 3.01, "smooth_activation": 0.0})
    assert relu.verdict == "vacuous"
    assert [h.name for h in relu.failing] == ["Assumption 4.2: smooth, sigma' in [gamma, 1]"]
    with pytest.raises(ValueError, match="--activation: must be one of"):
        from nc_jax.checks.options import make_setting

        make_setting(PAPER.setting, {"activation": "sigmoid"})


def test_a_learning_rate_warmup_reaches_the_engine_and_gates_the_constant_rate_checks():
    """lr_warmup_steps goes into the training config; Section 4's exact recursion and balancing
    assume a constant rate, so a warm-up fails their hypothesis; the balancing horizon counts
    the ramp as half its steps; out-of-range values are refused naming the option."""
    from nc_jax.checks import SettingError
    from theorems.jacot2025 import Setting
    from theorems.jacot2025.setting import plain_gd_with_coupled_decay

    warm = Setting(lr_warmup_steps=4000)
    assert warm.config().lr_warmup_steps == 4000
    assert not plain_gd_with_coupled_decay(warm.config())
    assert plain_gd_with_coupled_decay(Setting().config())
    with pytest.raises(SettingError, match="lr_warmup_steps"):
        Setting(lr_warmup_steps=9000)  # longer than the 8000 steps
    # 8000 steps, 4000 of ramp: 4000 + 4001/2 = 6000.5 at full rate, eta lambda t = 1.8
    q = {**IDEAL, "eta": 1.5e-4, "weight_decay": 2.0, "decay_steps": 8000 - 3999 / 2}
    result = check(BY_ID["jacot2025.sec5.balanced_head"], q)
    (horizon,) = [h for h in result.hypotheses if h.name.startswith("trained to the balancing")]
    assert horizon.value == pytest.approx((1 - 3e-4) ** (2 * 6000.5), rel=1e-12)


def test_a_sweep_compiles_each_measurement_program_once_per_shape(tmp_path):
    """Four cells of one shape (two weight decays x two training lengths, one bucket): one
    training chunk, one batched measurement, one Hessian-vector and one NTK program, each
    traced once, not once per cell or per length (the measurement programs key on what a step
    reads: nc_jax.train.update_config; each length's runs are one batch of the same size)."""
    from nc_jax import sweep
    from nc_jax.train import update_config
    from nc_jax.train.programs import compiled_chunk
    from theorems.jacot2025 import Setting, measure

    builders = (measure._quantities_program, measure._hessian_products, measure._ntk_products)
    for cache in (compiled_chunk, *builders):
        cache.cache_clear()
    varied = ("steps", "seeds", "weight_decay")
    fixed = {key: value for key, value in PAPER.quick.items() if key not in varied}
    fixed = {key: list(v) if isinstance(v, tuple) else v for key, v in fixed.items()}
    grid = {"weight_decay": [0.1, 0.2], "steps": [100, 200]}
    plan = sweep.parse_grid({"paper": "jacot2025", "fixed": fixed | {"seeds": [0]}, "grid": grid})
    sweep.sweep(plan, tmp_path, progress=False, echo=lambda _: None)
    assert len(sweep.load_runs(tmp_path)) == 4
    assert compiled_chunk.cache_info().currsize == 1
    for cache in builders:
        assert cache.cache_info().currsize == 1, cache
    setting = Setting(**PAPER.quick)
    model, key = setting.model(), update_config(setting.config())
    programs = (
        measure._quantities_program(model, key, setting.replay_steps, 10, None),
        measure._hessian_products(model, key, None),
        measure._ntk_products(model, 10, None),
    )
    for cache in builders:  # the lookups above found the programs the sweep built
        assert cache.cache_info().currsize == 1, cache
    for program in programs:
        assert program._cache_size() == 1
