"""ufm_extras checks: the nearest simplex ETF (hand values, a float64 NumPy reference, brute
force and the Riemannian solver), the centring conventions on an imbalanced fixture, Hadamard
initialisation (Sylvester matrices, the dyadic softmax, one engine step against the reduced
recursion, a random basis as the planted violation), the imbalanced UFM's convex optimum
(against Zhu et al.'s balanced closed form and direct optimisation), the checks' verdicts on
planted quantities, and the CLI end to end."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fixtures import balanced_labels, simplex_etf, verdict_status

from nc_jax.checks import check
from nc_jax.checks.runner import main as check_main
from nc_jax.metrics import class_stats, etf
from nc_jax.models.ufm import UFM, ufm_inputs, zhu_ufm_optimum
from nc_jax.train import TrainConfig, init_runs, make_data, make_step
from theorems.ufm_extras import PAPER, hadamard, imbalance, stiefel
from theorems.ufm_extras.bounds import THEOREMS
from theorems.ufm_extras.examples import GOOD

BY_ID = {t.id: t for t in THEOREMS}


# ------------------------------------------------------------------ float64 NumPy references


def reference_value(rows: np.ndarray, prox=None, delta=0.0) -> float:
    """min over St(d,K) of the E2 objective by the notes' formula, in NumPy (columns H_hat)."""
    h = np.asarray(rows, np.float64).T
    k = h.shape[1]
    target = 2 / np.sqrt(k - 1) * h @ (np.eye(k) - np.ones((k, k)) / k)
    extra = 0.0
    if prox is not None:
        target = target + delta * prox
        extra = delta / 2 * (k + np.sum(prox**2))
    return float(np.sum(h**2) + 1 + extra - np.linalg.svd(target, compute_uv=False).sum())


def reference_objective(rows, frame, prox=None, delta=0.0) -> float:
    h = np.asarray(rows, np.float64).T
    k = h.shape[1]
    m = np.eye(k) - np.ones((k, k)) / k
    value = np.sum((h - frame @ m / np.sqrt(k - 1)) ** 2)
    return float(value + (0.0 if prox is None else delta / 2 * np.sum((frame - prox) ** 2)))


def random_stiefel(rng, dim, k):
    return hadamard.random_frame(rng, dim, k)


def _unit(rows):
    return rows / np.linalg.norm(rows)


# ------------------------------------------------------------------------ E2: nearest ETF


def test_nearest_etf_by_hand_for_two_and_three_classes():
    # K = 2: H_hat = [h, 0] with ||h|| = 1; the nearest ETF is +-h/sqrt(2): 2 - sqrt(2)
    rows = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    closed = etf.nearest_etf(jnp.asarray(rows))
    assert float(closed.value) == pytest.approx(2 - math.sqrt(2), abs=1e-14)
    np.testing.assert_allclose(closed.etf, [[0.5**0.5, 0, 0], [-(0.5**0.5), 0, 0]], atol=1e-14)
    # K = 3: H_hat = I/sqrt(3); its nearest ETF is M/sqrt(2), the value 2 - 4/sqrt(6)
    rows = np.eye(3) / math.sqrt(3)
    closed = etf.nearest_etf(jnp.asarray(rows))
    assert float(closed.value) == pytest.approx(2 - 4 / math.sqrt(6), abs=1e-14)
    np.testing.assert_allclose(closed.etf, (np.eye(3) - 1 / 3) / math.sqrt(2), atol=1e-14)
    assert float(etf.nearest_etf_distance(jnp.asarray(rows))) == pytest.approx(2 - 4 / 6**0.5)
    # an exact simplex ETF (rows summing to zero) is at distance 0
    exact = simplex_etf(np.random.default_rng(0), 5, 7)
    assert float(etf.nearest_etf_distance(jnp.asarray(exact))) == pytest.approx(0, abs=1e-14)


@pytest.mark.parametrize(("k", "dim"), [(2, 3), (3, 3), (4, 6), (6, 9)])
def test_closed_form_matches_numpy_and_beats_every_random_frame(k, dim):
    rng = np.random.default_rng(k + dim)
    rows = _unit(rng.normal(size=(k, dim)))
    prox = random_stiefel(rng, dim, k)
    for p, delta in ((None, 0.0), (prox, 1e-3), (prox, 0.5)):
        closed = etf.nearest_etf(jnp.asarray(rows), None if p is None else jnp.asarray(p), delta)
        assert float(closed.value) == pytest.approx(reference_value(rows, p, delta), abs=1e-13)
        frame = np.asarray(closed.frame)
        np.testing.assert_allclose(frame.T @ frame, np.eye(k), atol=1e-13)
        at_frame = reference_objective(rows, frame, p, delta)
        assert at_frame == pytest.approx(float(closed.value), abs=1e-13)
        brute = min(
            reference_objective(rows, random_stiefel(rng, dim, k), p, delta) for _ in range(500)
        )
        assert float(closed.value) <= brute  # the closed form is below every random frame


@pytest.mark.parametrize(("k", "dim"), [(3, 4), (4, 6)])
def test_riemannian_solver_reaches_the_closed_form(k, dim):
    """Tolerance 1e-9 on the value (the check's): the solver never goes below it (a global
    minimum) and its best start reaches it."""
    rng = np.random.default_rng(7 * k)
    rows = jnp.asarray(_unit(rng.normal(size=(k, dim))))
    prox = jnp.asarray(random_stiefel(rng, dim, k))
    for delta in (0.0, 1e-3):
        closed = float(etf.nearest_etf(rows, prox if delta else None, delta).value)
        values = np.asarray(
            stiefel.riemannian_values(
                rows, jax.random.PRNGKey(0), prox, jnp.asarray(delta), starts=16, steps=1000
            )
        )
        assert values.min() >= closed - 1e-12
        assert values.min() - closed < 1e-9


def test_a_wrong_procrustes_constant_or_sign_is_caught_by_the_check():
    rng = np.random.default_rng(3)
    rows = _unit(rng.normal(size=(4, 6)))
    h = rows.T
    nuclear = np.linalg.svd(h @ (np.eye(4) - 0.25), compute_uv=False).sum()
    solver = float(
        stiefel.riemannian_values(
            jnp.asarray(rows), jax.random.PRNGKey(1), jnp.zeros((6, 4)), jnp.asarray(0.0)
        ).min()
    )
    right = 2 - 2 / math.sqrt(3) * nuclear
    for wrong in (2 - 2 / math.sqrt(4) * nuclear, 2 + 2 / math.sqrt(3) * nuclear, 1 - nuclear):
        gap = abs(solver - wrong) / 2
        assert check(BY_ID["ufm_extras.e2.procrustes"], {"etf_gap": gap}).verdict == "violated"
    gap = abs(solver - right) / 2
    assert check(BY_ID["ufm_extras.e2.procrustes"], {"etf_gap": gap}).verdict == "holds"


def test_distance_needs_only_k_minus_one_dimensions_brute_force_for_three_classes():
    """K = 3 in d = 2: the unit-norm simplex ETFs are a rotated or reflected triangle; a fine
    grid of angles brackets the closed form (grid error < 1e-6)."""
    rng = np.random.default_rng(5)
    rows = _unit(rng.normal(size=(3, 2)))
    triangle = np.array([[np.cos(t), np.sin(t)] for t in 2 * np.pi * np.arange(3) / 3])
    triangle /= np.linalg.norm(triangle)
    best = np.inf
    for angle in np.linspace(0, 2 * np.pi, 20001):
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        for reflect in (np.eye(2), np.diag([1.0, -1.0])):
            best = min(best, np.sum((rows - triangle @ reflect @ rotation.T) ** 2))
    closed = float(etf.nearest_etf_distance(jnp.asarray(rows)))
    assert closed <= best + 1e-12 and best - closed < 1e-6
    with pytest.raises(ValueError, match="d >= K"):
        etf.nearest_etf(jnp.asarray(rows))


def _imbalanced_fixture():
    rng = np.random.default_rng(11)
    counts = np.array([9, 5, 2, 1])
    y = np.repeat(np.arange(4), counts)
    z = rng.normal(size=(4, 6))[y] * 2 + rng.normal(size=(y.size, 6))
    return z, y, counts


def test_centring_conventions_on_an_imbalanced_fixture_against_numpy():
    z, y, counts = _imbalanced_fixture()
    stats = class_stats(jnp.asarray(z), jnp.asarray(y), 4)
    means = np.stack([z[y == c].mean(0) for c in range(4)])
    sample_mean = z.mean(0)
    np.testing.assert_allclose(sample_mean, counts @ means / counts.sum(), atol=1e-14)
    np.testing.assert_allclose(etf.class_centre(stats, "samples"), sample_mean, atol=1e-14)
    np.testing.assert_allclose(etf.class_centre(stats, "classes"), means.mean(0), atol=1e-14)
    for centre, subtract in (("samples", sample_mean), ("classes", means.mean(0))):
        rows = means - subtract
        np.testing.assert_allclose(etf.centred_class_means(stats, centre), rows, atol=1e-14)
        unit = rows / np.linalg.norm(rows)
        expected = (
            2 - 2 / np.sqrt(3) * np.linalg.svd(unit.T @ (np.eye(4) - 0.25), compute_uv=False).sum()
        )
        measured = float(etf.nearest_etf_distance(etf.centred_class_means(stats, centre)))
        assert measured == pytest.approx(expected, abs=1e-13)
    by_samples = float(etf.nearest_etf_distance(etf.centred_class_means(stats, "samples")))
    by_classes = float(etf.nearest_etf_distance(etf.centred_class_means(stats, "classes")))
    assert by_samples > by_classes + 1e-3  # the offset of mu_G adds ||H_hat J/K||^2
    # balanced classes: the two conventions agree
    yb = balanced_labels(4, 3)
    zb = np.random.default_rng(2).normal(size=(12, 6))
    sb = class_stats(jnp.asarray(zb), jnp.asarray(yb), 4)
    np.testing.assert_allclose(etf.class_centre(sb, "samples"), etf.class_centre(sb, "classes"))
    with pytest.raises(ValueError, match="centre must be"):
        etf.class_centre(stats, "median")


def test_dropping_m_from_the_procrustes_target_is_caught_under_imbalance():
    """With mu_G over samples the centred means do not sum to zero; a target without M (the
    balanced-case shortcut) misses the optimum the solver finds."""
    z, y, _ = _imbalanced_fixture()
    stats = class_stats(jnp.asarray(z), jnp.asarray(y), 4)
    rows = _unit(np.asarray(etf.centred_class_means(stats, "samples")))
    without_m = np.sum(rows**2) + 1 - 2 / np.sqrt(3) * np.linalg.svd(rows.T, compute_uv=False).sum()
    solver = float(
        stiefel.riemannian_values(
            jnp.asarray(rows), jax.random.PRNGKey(0), jnp.zeros((6, 4)), jnp.asarray(0.0)
        ).min()
    )
    assert solver == pytest.approx(reference_value(rows), abs=1e-9)
    assert abs(solver - without_m) / 2 > 1e-3


def test_minority_row_cosines():
    rows = jnp.asarray([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(etf.row_cosine_pairs(rows, [2, 3]), [1.0], atol=1e-14)
    np.testing.assert_allclose(etf.row_cosine_pairs(rows, [0, 1, 2]), [0, 0.5**0.5, 0.5**0.5])


# ------------------------------------------------------------------------------ E3: Hadamard


def test_sylvester_hadamard_matrices():
    for k in (1, 2, 4, 8, 16):
        h = hadamard.sylvester_hadamard(k)
        np.testing.assert_array_equal(h @ h, k * np.eye(k))
        np.testing.assert_array_equal(h, h.T)
        for r in range(k):
            for c in range(k):
                np.testing.assert_array_equal(h[r] * h[c], h[r ^ c])  # the XOR property
    assert hadamard.sylvester_hadamard(2).tolist() == [[1, 1], [1, -1]]
    for bad in (3, 6, 12):
        with pytest.raises(ValueError, match="power of 2"):
            hadamard.sylvester_hadamard(bad)


def test_the_softmax_of_a_dyadic_matrix_is_diagonal_in_the_hadamard_basis():
    rng = np.random.default_rng(0)
    q = hadamard.hadamard_basis(8)
    s = rng.normal(size=8) * 3
    p = np.asarray(jax.nn.softmax(q @ np.diag(s) @ q.T, axis=0))
    inner = q.T @ p @ q
    assert np.abs(inner - np.diag(np.diag(inner))).max() < 1e-15
    np.testing.assert_allclose(np.diag(inner), hadamard.sylvester_hadamard(8) @ p[:, 0])
    random = hadamard.random_basis(rng, 8)
    p = np.asarray(jax.nn.softmax(random @ np.diag(s) @ random.T, axis=0))
    inner = random.T @ p @ random
    assert np.abs(inner - np.diag(np.diag(inner))).max() > 1e-2


def _engine_path(basis, steps, *, k=4, n=3, dim=6, lr=1.5, lam=0.03, seed=0):
    """The engine's make_step from a spectral initialisation: (Spectra per step, a0, b0)."""
    rng = np.random.default_rng(seed)
    a0, b0 = rng.uniform(0.5, 1.5, size=(2, k))
    frame = hadamard.random_frame(rng, dim, k)
    labels = balanced_labels(k, n)
    params = jax.tree_util.tree_map(
        jnp.asarray, hadamard.spectral_params(basis, frame, a0, b0, labels)
    )
    model = UFM(k * n, dim, k)
    config = TrainConfig(steps=steps, log_every=steps, loss="cross_entropy", reduction="mean")
    state = init_runs(model, config, k * n, [lr], [lam], [seed])
    state = jax.tree_util.tree_map(lambda leaf: leaf[0], state)
    state = state._replace(
        params=params, learning_rate=jnp.float64(lr), weight_decay=jnp.float64(lam)
    )
    data = make_data(ufm_inputs(k * n, jnp.float64), labels, k, jnp.float64)
    step = jax.jit(make_step(model, config))
    path = []
    for _ in range(steps):
        state = step(state, data)
        path.append(
            hadamard.spectral_coordinates(
                state.params, jnp.asarray(basis), jnp.asarray(frame), data.y, k
            )
        )
    return path, a0, b0, state, model, data


def test_engine_steps_follow_the_reduced_recursion_from_hadamard_initialisation():
    """An identity to rounding (1e-12 over 30 steps): the engine's step keeps the spectral form
    and maps the spectra by the K-scalar recursion, and the recursion's objective is the
    UFM's."""
    k, n, lr, lam = 4, 3, 1.5, 0.03
    path, a0, b0, state, model, data = _engine_path(hadamard.hadamard_basis(k), 30)
    reduced = hadamard.reduced_gd(
        a0, b0, learning_rate=lr, lambda_w=lam, lambda_h=lam, n_per_class=n, steps=30
    )
    for t, spectra in enumerate(path, start=1):
        assert float(spectra.residue) < 1e-14
        np.testing.assert_allclose(spectra.a, reduced.a[t], atol=1e-12)
        np.testing.assert_allclose(spectra.b, reduced.b[t], atol=1e-12)
    output, _ = model.apply(state.params, data.x)
    loss = float(jnp.mean(optax.softmax_cross_entropy(output, data.targets)))
    penalty = 0.5 * lam * sum(float(jnp.sum(v**2)) for v in jax.tree_util.tree_leaves(state.params))
    assert reduced.loss[-1] == pytest.approx(loss, rel=1e-12)
    assert reduced.objective[-1] == pytest.approx(loss + penalty, rel=1e-12)
    # a wrong constant (1/N where the recursion has 1/K) does not follow the engine
    wrong = hadamard.reduced_gd(
        a0, b0, learning_rate=lr, lambda_w=lam, lambda_h=lam, n_per_class=1, steps=30
    )
    assert np.abs(wrong.b[-1] - np.asarray(path[-1].b)).max() > 1e-3


def test_a_random_basis_moves_the_singular_vectors_and_fails_the_structure_check():
    path, *_ = _engine_path(hadamard.random_basis(np.random.default_rng(1), 4), 30)
    residue = max(float(s.residue) for s in path)
    assert residue > 1e-4
    quantities = {"hadamard_residue": residue, "hadamard_initial_residue": 0.0}
    assert check(BY_ID["ufm_extras.e3.structure"], quantities).verdict == "violated"


# ---------------------------------------------------------------------------- imbalance


def test_convex_optimum_of_balanced_classes_is_zhus_simplex_etf():
    k, n, lam_w, lam_h = 4, 3, 5e-3, 8e-3
    optimum = imbalance.ufm_convex_optimum([n] * k, lam_w, lam_h)
    rho = zhu_ufm_optimum(k, n, lam_w, lam_h)
    beta = math.sqrt(lam_w / (lam_h * n)) * k / (k - 1)
    f_rho = math.log(1 + (k - 1) * math.exp(-beta * rho)) + lam_w * k * rho  # D1's ETF family
    assert optimum.objective == pytest.approx(f_rho, rel=1e-12)
    m = np.eye(k) - 1 / k
    np.testing.assert_allclose(optimum.classifier_gram, rho * k / (k - 1) * m, atol=1e-10)
    alpha_sq = lam_w / (lam_h * n)  # h = alpha w (D1)
    np.testing.assert_allclose(optimum.mean_gram, alpha_sq * optimum.classifier_gram, atol=1e-10)
    assert optimum.stationarity < 1e-12
    trivial = imbalance.ufm_convex_optimum([n] * k, 0.2, 0.2)  # K sqrt(n) lambda >= 1
    assert trivial.objective == pytest.approx(math.log(k)) and np.abs(trivial.logits).max() == 0


def _direct_minimum(counts, lam, steps=6000, seed=0, lr=2.0):
    """Plain GD on the UFM objective itself (float64), from a random initialisation."""
    labels = np.repeat(np.arange(len(counts)), counts)
    model = UFM(labels.size, 6, len(counts))
    params = model.init(jax.random.PRNGKey(seed), labels.size)
    x = ufm_inputs(labels.size, jnp.float64)
    targets = jax.nn.one_hot(labels, len(counts), dtype=jnp.float64)

    def objective(p):
        out, _ = model.apply(p, x)
        data = jnp.mean(optax.softmax_cross_entropy(out, targets))
        return data + 0.5 * lam * sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(p))

    grad = jax.grad(objective)
    params = jax.tree_util.tree_map(lambda v: v.astype(jnp.float64), params)
    final = jax.jit(
        lambda p: jax.lax.fori_loop(
            0, steps, lambda _, q: jax.tree_util.tree_map(lambda a, g: a - lr * g, q, grad(q)), p
        )
    )(params)
    return float(objective(final)), np.asarray(final["head"][0]["w"]), objective, params


def test_convex_optimum_matches_direct_optimisation_and_bounds_every_network():
    counts, lam = [6, 6, 1, 1], 0.04
    optimum = imbalance.ufm_convex_optimum(counts, lam, lam)
    value, w, objective, start = _direct_minimum(counts, lam)
    assert value == pytest.approx(optimum.objective, rel=1e-9)
    gram = w @ w.T
    np.testing.assert_allclose(gram, optimum.classifier_gram, atol=1e-5)
    # random networks (hypotheses hold: d >= K) never go below F*
    rng = np.random.default_rng(0)
    for _ in range(20):
        scale = 10 ** rng.uniform(-1, 1)
        params = jax.tree_util.tree_map(
            lambda v, s=scale: jnp.asarray(s * rng.normal(size=v.shape)), start
        )
        q = {
            "objective": float(objective(params)),
            "optimum": optimum.objective,
            "solver_stationarity": optimum.stationarity,
            "feature_dim": 6,
            "num_classes": 4,
        }
        result = check(BY_ID["ufm_extras.imbalance.lower_bound"], q)
        assert result.verdict == "holds" and result.informative
    planted = {**q, "objective": 0.9 * optimum.objective}  # below the optimum: a wrong solver
    assert check(BY_ID["ufm_extras.imbalance.lower_bound"], planted).verdict == "violated"


def test_minority_spread_and_collapse_threshold():
    gram = np.array([[4.0, -1, 0, 0], [-1, 4, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])
    assert imbalance.minority_spread(gram, [2, 3]) == 0.0
    assert imbalance.minority_spread(gram, [0, 1]) == pytest.approx(math.sqrt(10) / 2)
    assert math.isnan(imbalance.minority_spread(np.zeros((4, 4)), [2, 3]))
    threshold = imbalance.collapse_threshold(4, 2, 1.0, 0.04, 0.04, rounds=1, points=8)
    below, above = threshold / 100 ** (1 / 7), threshold  # the bracket of one round
    spreads = imbalance.minority_spreads(
        np.stack([imbalance.imbalanced_counts(4, 2, 1, r) for r in (below, above, 1.0)]),
        0.04,
        0.04,
        2,
    )
    assert spreads[0] > imbalance.COLLAPSED >= spreads[1]
    assert spreads[2] == pytest.approx(math.sqrt(2 * 4 / 3), rel=1e-9)  # balanced: ETF spread


# ------------------------------------------------------------------ checks on planted values


def test_every_check_says_what_kind_of_statement_it_is():
    kinds = {t.id: t.kind for t in THEOREMS}
    assert kinds["ufm_extras.e3.reduction"] == "identity"
    assert kinds["ufm_extras.e2.value_at_frame"] == "identity"
    assert kinds["ufm_extras.imbalance.lower_bound"] == "consequence"
    exact = ("e2.procrustes", "e2.procrustes_prox", "e3.structure")  # derived results
    assert {kinds[f"ufm_extras.{name}"] for name in exact} == {"identity"}
    trained = ("e3.etf_limit", "e3.zhu_scale", "imbalance.optimum", "imbalance.geometry")
    assert {kinds[f"ufm_extras.{name}"] for name in trained} == {"claim"}
    assert all(t.id.startswith("ufm_extras.") for t in THEOREMS)


def test_hadamard_part_end_to_end_and_the_random_basis_control(tmp_path, capsys):
    short = ["--parts", "hadamard", "--steps", "200", "--log-every", "50", "--seeds", "0"]
    out = tmp_path / "hadamard"
    assert check_main(PAPER, [*short, "--results", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ufm_extras.e3.reduction" in text and (out / "checks.png").is_file()
    assert check_main(PAPER, ["--results", str(out), "--recheck"]) == 0
    capsys.readouterr()
    control = tmp_path / "random"
    assert check_main(PAPER, [*short, "--basis", "random", "--results", str(control)]) == 1
    lines = capsys.readouterr().out.splitlines()
    runs = [line for line in lines if " seed=" in line]  # the per-run rows, after the summary
    structure = [line for line in runs if line.startswith("ufm_extras.e3.structure ")]
    reduction = [line for line in runs if line.startswith("ufm_extras.e3.reduction ")]
    assert structure and "violated" in structure[0]
    assert reduction and "vacuous" in reduction[0]


def test_script_rejects_bad_arguments(tmp_path, capsys):
    for argv, flag in (
        (["--num-classes", "3"], "--num-classes"),
        (["--feature-dim", "3"], "--feature-dim"),
        (["--parts", "hadamard,nonsense"], "--parts"),
        (["--minority-classes", "4"], "--minority-classes"),
        (["--weight-decay", "0"], "--weight-decay"),
        (["--basis", "identity"], "--basis"),
    ):
        assert check_main(PAPER, [*argv, "--results", str(tmp_path)]) == 2, argv
        assert flag in capsys.readouterr().err


@pytest.mark.slow
def test_default_check_holds_on_every_run(tmp_path):
    """The default setting (about a minute): every check holds on every run."""
    from nc_jax import results

    assert check_main(PAPER, ["--results", str(tmp_path)]) == 0
    checks = results.load(tmp_path)
    assert (checks["verdict"] == "holds").all()


@pytest.mark.slow
def test_imbalance_part_end_to_end(tmp_path):
    """A small imbalanced UFM (R = 20 > R*) trained through the CLI: optimum, geometry and
    minority collapse hold, the nearest-ETF checks hold on its class means."""
    from nc_jax import results

    argv = ["--parts", "imbalance", "--seeds", "0", "--steps", "3000", "--log-every", "500"]
    argv += ["--etf-starts", "4", "--etf-steps", "400", "--results", str(tmp_path)]
    assert check_main(PAPER, argv) == 0
    checks = results.load(tmp_path)
    verdicts = dict(zip(checks["check"], checks["verdict"]))
    for name in ("optimum", "geometry", "minority_collapse", "lower_bound"):
        assert verdicts[f"ufm_extras.imbalance.{name}"] == "holds"
    assert verdicts["ufm_extras.e2.procrustes"] == "holds"
    assert verdicts["ufm_extras.e3.reduction"] == "vacuous"


def test_quick_imbalance_sweep_tabulates_minority_collapse(tmp_path, capsys):
    """ufm_imbalance --quick as experiments/ufm_imbalance.py runs it: R = 1 (no collapse, the
    ETF) and R = 20 (beyond R*): trained through the sweep, checked, tabulated."""
    from nc_jax import experiment, sweep

    def imbalance(*argv):
        return experiment.main("ufm_imbalance", list(argv), "", "results/ufm_imbalance")

    assert imbalance("--quick", "--out", str(tmp_path)) == verdict_status(tmp_path)
    out = capsys.readouterr().out
    assert "minority collapse (trained spread <= 0.001 from then on): from R = 20" in out
    assert "R* = 11.5" in out
    runs = sweep.load_runs(tmp_path)
    balanced = runs[runs["imbalance_ratio"] == 1].iloc[0]
    assert balanced["minority_cos"] == pytest.approx(-1 / 3, abs=1e-6)  # the simplex ETF
    assert balanced["classifier_etf_distance"] < 1e-8
    checks = sweep.load(tmp_path)
    collapse = checks[checks["check"] == "ufm_extras.imbalance.minority_collapse"]
    assert dict(zip(collapse["imbalance_ratio"], collapse["verdict"])) == {
        1: "vacuous",
        20: "holds",
    }
    assert (checks[checks["check"].str.startswith("ufm_extras.e3")]["verdict"] == "vacuous").all()
    assert imbalance("--table", str(tmp_path)) == verdict_status(tmp_path)


@pytest.mark.parametrize("theorem_id", sorted(BY_ID))
def test_unmeasured_quantities_are_vacuous_never_violated(theorem_id):
    assert check(BY_ID[theorem_id], dict.fromkeys(GOOD, math.nan)).verdict == "vacuous"
