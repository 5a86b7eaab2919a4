"""Unconstrained features models: shapes, the identity-input trick (minibatch rows, gradients,
vmap), per-group decay, training to collapse (MSE and CE) and the closed forms of
docs/theory/sukenik2024.md (DNC loss of the L-DUFM) and docs/theory/zhu2021.md (Zhu et al.'s CE
optimum)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fixtures import balanced_labels
from hypothesis import given, settings
from hypothesis import strategies as st

from nc_jax import metrics as m
from nc_jax.models.ufm import UFM, DeepUFM, DNCSolution, dnc_loss, ufm_inputs, zhu_ufm_optimum
from nc_jax.train import TrainConfig, init_runs, make_data, train

K, N_PER_CLASS, D = 4, 5, 8
N = K * N_PER_CLASS
KEY = jax.random.PRNGKey(0)
MODELS = {
    "ufm": UFM(N, D, K),
    "ufm_bias": UFM(N, D, K, bias=True),
    "deep": DeepUFM(N, (6, 7, 5), K),
}


def _x(num_samples: int = N) -> jax.Array:
    return ufm_inputs(num_samples, jnp.float64)


def _tree_sum(tree) -> jax.Array:
    return sum(jax.tree_util.tree_leaves(tree))


def _objective(model, params, x, targets, lam, loss="mse"):
    """B2/D1 objective: sample-averaged data loss + lam/2 sum_groups scale ||theta||^2."""
    out, _ = model.apply(params, x)
    if loss == "mse":
        data = 0.5 * jnp.sum((out - targets) ** 2) / out.shape[0]
    else:
        data = jnp.mean(optax.softmax_cross_entropy(out, targets))
    penalties = jax.tree_util.tree_map(
        lambda s, p: s * jnp.sum(p**2), model.decay_scales(params), params
    )
    return data + 0.5 * lam * _tree_sum(penalties)


def _gradient_descent(model, params, objective, lr: float, steps: int):
    step = lambda _, p: jax.tree_util.tree_map(  # noqa: E731
        lambda a, g: a - lr * g, p, jax.grad(objective)(p)
    )
    return jax.jit(lambda p: jax.lax.fori_loop(0, steps, step, p))(params)


# ------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("bias", [False, True])
def test_ufm_shapes(bias):
    model = UFM(N, D, K, bias=bias)
    params = model.init(KEY, N)
    assert params["features"].shape == (N, D)
    assert params["head"][0]["w"].shape == (K, D)
    assert ("b" in params["head"][0]) == bias
    out, layers = model.apply(params, _x())
    assert out.shape == (N, K)
    assert [f.shape for f in layers.features] == [(N, D), (N, K)]
    np.testing.assert_allclose(layers.features[0], params["features"], rtol=1e-12)
    assert layers.features[1] is out
    assert layers.preactivations == (None, None)
    assert layers.weights[0] is None and layers.weights[1] is params["head"][0]["w"]
    assert layers.biases[0] is None and (layers.biases[1] is not None) == bias
    assert model.num_outputs == K and model.num_linear == 1


def test_deep_ufm_shapes():
    widths = (6, 7, 5)
    model = DeepUFM(N, widths, K)
    params = model.init(KEY, N)
    assert params["features"].shape == (N, 6)
    assert [e["w"].shape for e in params["head"]] == [(7, 6), (5, 7), (K, 5)]
    out, layers = model.apply(params, _x())
    assert out.shape == (N, K)
    assert [f.shape for f in layers.features] == [(N, 6), (N, 7), (N, 5), (N, K)]
    assert layers.preactivations[0] is None and layers.preactivations[-1] is None
    assert [p.shape for p in layers.preactivations[1:-1]] == [(N, 7), (N, 5)]
    np.testing.assert_allclose(layers.features[1], jax.nn.relu(layers.preactivations[1]))
    assert layers.weights[0] is None
    assert [w.shape for w in layers.weights[1:]] == [(7, 6), (5, 7), (K, 5)]
    assert layers.biases == (None,) * 4
    assert model.num_outputs == K and model.num_linear == 1 and model.depth == 3


def test_init_distributions():
    """H entries ~ N(0, s^2); W LeCun (head) or He (hidden) times s."""
    scale, big = 0.5, 400
    params = UFM(big, big, 300, init_scale=scale).init(KEY, big)
    assert np.std(params["features"]) == pytest.approx(scale, rel=0.02)
    assert np.std(params["head"][0]["w"]) == pytest.approx(scale / np.sqrt(big), rel=0.02)
    deep = DeepUFM(big, (big, big), 300, init_scale=scale).init(KEY, big)
    assert np.std(deep["head"][0]["w"]) == pytest.approx(scale * np.sqrt(2 / big), rel=0.02)
    assert np.std(deep["head"][1]["w"]) == pytest.approx(scale / np.sqrt(big), rel=0.02)


# ------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", sorted(MODELS))
def test_input_dim_must_be_num_samples(name):
    with pytest.raises(ValueError, match=r"input_dim must equal num_samples = 20.*ufm_inputs"):
        MODELS[name].init(KEY, D)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_apply_rejects_inputs_that_are_not_identity_rows(name):
    params = MODELS[name].init(KEY, N)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 20\)"):
        MODELS[name].apply(params, jnp.ones((N, N + 1)))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: UFM(0, D, K), "num_samples"),
        (lambda: UFM(N, 0, K), "feature_dim"),
        (lambda: UFM(N, D, 1), "num_classes"),
        (lambda: UFM(N, D, K, init_scale=-1.0), "init_scale"),
        (lambda: UFM(N, D, K, feature_decay_scale=float("nan")), "feature_decay_scale"),
        (lambda: DeepUFM(N, (), K), "widths"),
        (lambda: DeepUFM(N, 5, K), "widths"),
        (lambda: DeepUFM(N, (4, 0), K), "widths"),
        (lambda: DeepUFM(N, (4, 4), 1), "num_classes"),
        (lambda: DeepUFM(N, (4, 4), K, activation="swish"), "activation"),
        (lambda: DeepUFM(N, (4, 4), K, weight_decay_scales=(1.0,)), "weight_decay_scales"),
        (lambda: ufm_inputs(0), "num_samples"),
    ],
)
def test_bad_arguments_raise(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_widths_are_coerced_to_a_hashable_tuple():
    model = DeepUFM(N, [4, 5], K)
    assert model.widths == (4, 5)
    assert hash(model) == hash(DeepUFM(N, (4, 5), K))


# ------------------------------------------------------------------- the identity-input trick


@pytest.mark.parametrize("name", sorted(MODELS))
def test_minibatch_rows_select_rows_of_the_full_output(name):
    model = MODELS[name]
    params = model.init(KEY, N)
    out, layers = model.apply(params, _x())
    index = jnp.array([7, 0, 13, 13, 19])
    out_batch, layers_batch = model.apply(params, _x()[index])
    np.testing.assert_allclose(out_batch, out[index], rtol=1e-12, atol=1e-14)
    for full, batch in zip(layers.features, layers_batch.features):
        np.testing.assert_allclose(batch, full[index], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_vmap_over_runs(name):
    model = MODELS[name]
    params = jax.jit(jax.vmap(model.init, in_axes=(0, None)), static_argnums=1)(
        jax.random.split(KEY, 4), N
    )
    assert params["features"].shape == (4, N, model.init(KEY, N)["features"].shape[1])
    out, layers = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))(params, _x())
    assert out.shape == (4, N, K)
    apply = jax.jit(model.apply)
    for run in range(4):
        single = jax.tree_util.tree_map(lambda a, r=run: a[r], params)
        np.testing.assert_allclose(out[run], apply(single, _x())[0], rtol=1e-10)
    assert not np.allclose(out[0], out[1])  # different keys, different runs


def _direct_output(name, h, head):
    """The model's output written on the free features themselves (no identity input)."""
    if name.startswith("ufm"):
        return h @ head[0]["w"].T + head[0].get("b", 0.0)
    for entry in head[:-1]:
        h = jax.nn.relu(h @ entry["w"].T)
    return h @ head[-1]["w"].T


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("batch", [None, np.array([3, 11, 4, 18])])
def test_feature_gradient_equals_free_feature_gradient(name, batch):
    """d loss / d params["features"] through x @ H is the gradient w.r.t. the free features;
    a minibatch gives that of the selected rows and zero elsewhere."""
    model = MODELS[name]
    params = model.init(KEY, N)
    targets = jax.nn.one_hot(balanced_labels(K, N_PER_CLASS), K)
    rows = np.arange(N) if batch is None else batch
    x, y = _x()[rows], targets[rows]

    def through_model(p):
        return 0.5 * jnp.sum((model.apply(p, x)[0] - y) ** 2)

    def direct(h, head):
        return 0.5 * jnp.sum((_direct_output(name, h, head) - y) ** 2)

    grads = jax.grad(through_model)(params)
    grad_h, grad_head = jax.grad(direct, argnums=(0, 1))(params["features"][rows], params["head"])
    expected = jnp.zeros_like(params["features"]).at[rows].add(grad_h)
    np.testing.assert_allclose(grads["features"], expected, rtol=1e-12, atol=1e-14)
    for got, want in zip(
        jax.tree_util.tree_leaves(grads["head"]), jax.tree_util.tree_leaves(grad_head)
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


# -------------------------------------------------------------------------------- decay scales


def test_decay_scales_mirror_params():
    ufm = UFM(
        N, D, K, bias=True, feature_decay_scale=0.1, weight_decay_scale=2.0, bias_decay_scale=0.0
    )
    params = ufm.init(KEY, N)
    scales = ufm.decay_scales(params)
    assert jax.tree_util.tree_structure(scales) == jax.tree_util.tree_structure(params)
    assert scales == {"features": 0.1, "head": [{"w": 2.0, "b": 0.0}]}
    deep = DeepUFM(N, (6, 7), K, feature_decay_scale=0.5, weight_decay_scales=(1.0, 3.0))
    params = deep.init(KEY, N)
    scales = deep.decay_scales(params)
    assert jax.tree_util.tree_structure(scales) == jax.tree_util.tree_structure(params)
    assert scales == {"features": 0.5, "head": [{"w": 1.0}, {"w": 3.0}]}
    default = DeepUFM(N, (6, 7), K).decay_scales(params)
    assert default == {"features": 1.0, "head": [{"w": 1.0}, {"w": 1.0}]}
    # vmapped params (leading run axis) have the same tree structure
    batched = jax.eval_shape(jax.vmap(lambda k: deep.init(k, N)), jax.random.split(KEY, 3))
    assert jax.tree_util.tree_structure(deep.decay_scales(batched)) == (
        jax.tree_util.tree_structure(batched)
    )


# ---------------------------------------------------------------------------- training: MSE


def test_engine_trains_mse_ufm_to_collapse_at_the_closed_form_optimum():
    """The known UFM collapse (bias-free MSE): GD in the engine reaches NC1 ~ 0, W rows aligned
    with the class means forming an orthogonal frame, and the objective equals the closed form
    dnc_loss(depth=1) (B2 normalisation = engine reduction "mean" + l2 decay)."""
    lam = 2.0**-6  # exactly representable in the engine's float32 hyperparameters
    model = UFM(N, D, K, init_scale=0.5)
    config = TrainConfig(steps=1000, log_every=250, reduction="mean")
    state = init_runs(model, config, N, 2.0, lam, [0, 1])
    data = make_data(ufm_inputs(N), balanced_labels(K, N_PER_CLASS), K)
    traj = train(model, config, data, state).trajectory
    assert traj["layer/nc1_trace_ratio"].shape == (2, 5, 2)
    assert not traj["diverged"].any()
    nc1 = traj["layer/nc1_trace_ratio"][:, :, 0]
    assert (nc1[:, -1] < 1e-3).all() and (nc1[:, -1] < 1e-3 * nc1[:, 0]).all()
    assert (traj["layer/nc3_cos_min"][:, -1, 0] > 1 - 1e-6).all()
    assert (traj["layer/nc2_orthogonal"][:, -1, 0] < 1e-6).all()
    assert (traj["accuracy"][:, -1] == 1.0).all()
    expected = dnc_loss(K, N_PER_CLASS, 1, lam, lam).loss
    np.testing.assert_allclose(traj["objective"][:, -1], expected, rtol=1e-9)


def test_deep_ufm_trains_in_the_engine_with_minibatches():
    model = DeepUFM(N, (8, 8), K, init_scale=0.7)
    config = TrainConfig(steps=400, log_every=200, batch_size=5, reduction="mean")
    state = init_runs(model, config, N, 0.5, 1e-3, [0, 1])
    data = make_data(ufm_inputs(N), balanced_labels(K, N_PER_CLASS), K)
    traj = train(model, config, data, state).trajectory
    assert traj["layer/nc1_trace_ratio"].shape == (2, 3, 3)
    assert not traj["diverged"].any()
    assert (traj["loss"][:, -1] < 0.5 * traj["loss"][:, 0]).all()
    assert np.isnan(traj["layer/negativity"][:, :, 0]).all()  # H_1 has no pre-activation
    assert np.isfinite(traj["layer/negativity"][:, :, 1]).all()


# ----------------------------------------------------------------------------- training: CE


def test_ce_ufm_reaches_zhu_global_optimum():
    """D1's check: K=4, n=3, d=6, lambda_W = lambda_H = 5e-3, lambda_b = 1e-3. GD on the UFM
    with per-group decay reaches rho* = ||w_k||^2 = 6.13495, f = 0.14902323, a simplex ETF,
    h = alpha w (self-duality with centred means) and b = 0."""
    k, n, d, lam = 4, 3, 6, 5e-3
    num = k * n
    y = balanced_labels(k, n)
    model = UFM(num, d, k, bias=True, init_scale=0.5, bias_decay_scale=0.2)
    x, targets = _x(num), jax.nn.one_hot(y, k)
    objective = lambda p: _objective(model, p, x, targets, lam, "ce")  # noqa: E731
    params = _gradient_descent(model, model.init(KEY, num), objective, 2.0, 20000)
    rho = zhu_ufm_optimum(k, n, lam, lam)
    w, h = params["head"][0]["w"], params["features"]
    np.testing.assert_allclose(np.sum(w**2, axis=1), rho, rtol=1e-8)
    assert float(objective(params)) == pytest.approx(0.14902323, abs=1e-8)
    stats = m.class_stats(h, y, k)
    assert float(m.nc1_trace_ratio(stats)) < 1e-12
    assert float(m.simplex_etf_deviation(w)) < 1e-8
    assert float(m.self_duality_distance(w, m.centred_means(stats))) < 1e-12
    np.testing.assert_allclose(h, np.sqrt(lam / (lam * n)) * w[y], atol=1e-8)
    np.testing.assert_allclose(params["head"][0]["b"], 0.0, atol=1e-8)


# --------------------------------------------------------------------- closed form: DNC loss


def _dnc_brute_force(num_classes, n, depth, lambda_h, lambdas_w, points=400_001):
    c = np.array([num_classes * n * lambda_h / 2] + [num_classes * lam / 2 for lam in lambdas_w])
    coefficient = (depth + 1) * np.prod(c) ** (1 / (depth + 1))
    p = np.linspace(0.0, 1.2, points)
    values = 0.5 * (p - 1) ** 2 + coefficient * p ** (2 / (depth + 1))
    return values.min(), coefficient


@settings(max_examples=40, deadline=None)
@given(
    num_classes=st.integers(2, 12),
    n=st.integers(1, 6),
    depth=st.integers(1, 6),
    log_lambdas=st.lists(st.floats(-4.0, -0.5), min_size=7, max_size=7),
)
def test_dnc_loss_matches_brute_force(num_classes, n, depth, log_lambdas):
    lambda_h, lambdas_w = 10 ** log_lambdas[0], [10**v for v in log_lambdas[1 : depth + 1]]
    solution = dnc_loss(num_classes, n, depth, lambda_h, lambdas_w)
    brute, coefficient = _dnc_brute_force(num_classes, n, depth, lambda_h, lambdas_w)
    assert solution.loss <= brute + 1e-12
    assert brute - solution.loss < 1e-7
    q = 2 / (depth + 1)
    assert solution.loss == pytest.approx(
        0.5 * (solution.p - 1) ** 2 + coefficient * solution.p**q, abs=1e-14
    )
    assert 0.0 <= solution.p <= 1.0
    if solution.p > 0:  # AM-GM split: prod a_i = p and c_i a_i^2 equal across layers
        c = np.array([num_classes * n * lambda_h / 2] + [num_classes * v / 2 for v in lambdas_w])
        scales = np.array(solution.scales)
        assert np.prod(scales) == pytest.approx(solution.p, rel=1e-10)
        np.testing.assert_allclose(c * scales**2, np.mean(c * scales**2), rtol=1e-10)


def test_dnc_loss_of_the_4_dufm_matches_the_notes():
    """B3: 4-DUFM, K=10, n=1, all lambda = 0.004 gives L_DNC = 0.099180."""
    solution = dnc_loss(10, 1, 4, 0.004, 0.004)
    assert isinstance(solution, DNCSolution)
    assert solution.loss == pytest.approx(0.099180, abs=5e-7)
    assert solution.p == pytest.approx(0.958982, abs=1e-6)
    assert dnc_loss(10, 1, 4, 0.004, [0.004] * 4) == solution


def test_dnc_loss_depth_one_is_the_ufm_nuclear_norm_optimum():
    """L = 1: loss A - A^2/2 with A = K sqrt(n lambda_H lambda_W) (soft-thresholded Y)."""
    a = 4 * np.sqrt(5 * 0.01 * 0.02)
    solution = dnc_loss(4, 5, 1, 0.01, 0.02)
    assert solution.loss == pytest.approx(a - a**2 / 2, rel=1e-12)
    assert solution.p == pytest.approx(1 - a, rel=1e-12)


def test_dnc_loss_trivial_regime_and_errors():
    assert dnc_loss(10, 1, 4, 0.4, 0.4) == DNCSolution(0.5, 0.0, (0.0,) * 5)
    assert dnc_loss(2, 1, 1, 1.0, 1.0).p == 0.0
    with pytest.raises(ValueError, match="lambda_h"):
        dnc_loss(10, 1, 4, 0.0, 0.004)
    with pytest.raises(ValueError, match="lambda_w"):
        dnc_loss(10, 1, 4, 0.004, [0.004] * 3)
    with pytest.raises(ValueError, match="depth"):
        dnc_loss(10, 1, 0, 0.004, 0.004)


def test_dnc_candidate_is_a_critical_point_of_the_deep_ufm():
    """B3's reduction checked on the model: the DNC configuration (orthogonal frames, ReLU
    inactive) built from dnc_loss's scales has B2 objective L_DNC and zero gradient."""
    k, depth, lam = 10, 4, 0.004
    model = DeepUFM(k, (k,) * depth, k)
    solution = dnc_loss(k, 1, depth, lam, lam)
    a = solution.scales
    params = {
        "features": a[0] * jnp.eye(k),
        "head": [{"w": a[layer] * jnp.eye(k)} for layer in range(1, depth + 1)],
    }
    x, targets = _x(k), jnp.eye(k)
    objective = lambda p: _objective(model, p, x, targets, lam)  # noqa: E731
    assert float(objective(params)) == pytest.approx(solution.loss, rel=1e-12)
    grads = jax.grad(objective)(params)
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree_util.tree_leaves(grads)) < 1e-12


# ------------------------------------------------------------------- closed form: Zhu et al.


def _zhu_f(rho, k, n, lambda_w, lambda_h):
    beta = np.sqrt(lambda_w / (lambda_h * n)) * k / (k - 1)
    return np.log1p((k - 1) * np.exp(-beta * rho)) + lambda_w * k * rho


@pytest.mark.parametrize(
    ("k", "n", "lambda_w", "lambda_h"),
    [(4, 3, 5e-3, 5e-3), (10, 5, 1e-3, 5e-4), (3, 2, 0.05, 0.01), (5, 4, 0.3, 0.2)],
)
def test_zhu_optimum_minimises_f(k, n, lambda_w, lambda_h):
    rho = zhu_ufm_optimum(k, n, lambda_w, lambda_h)
    grid = np.linspace(0.0, 4 * max(rho, 1.0), 400_001)
    values = _zhu_f(grid, k, n, lambda_w, lambda_h)
    assert _zhu_f(rho, k, n, lambda_w, lambda_h) <= values.min() + 1e-13
    assert rho == pytest.approx(grid[values.argmin()], abs=2 * (grid[1] - grid[0]))


def test_zhu_optimum_value_and_trivial_regime():
    assert zhu_ufm_optimum(4, 3, 5e-3, 5e-3) == pytest.approx(6.13495, abs=5e-6)
    assert zhu_ufm_optimum(4, 3, 0.2, 0.2) == 0.0  # K sqrt(n lambda_W lambda_H) = 1.39 >= 1
    with pytest.raises(ValueError, match="lambda_h"):
        zhu_ufm_optimum(4, 3, 5e-3, -1.0)
