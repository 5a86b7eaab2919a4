"""nc_jax.metrics.complexity and nc_jax.models.complexity_penalty against float64 NumPy
references (finite-difference Jacobians, loops over pairs and episodes) and closed forms
(a linear embedding f(x) = A x has GC = ||A||_F^2 at every point)."""

from __future__ import annotations

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.metrics import class_stats, nc1_cdnv, within_class_variances
from nc_jax.metrics import complexity as cx
from nc_jax.models import MLP
from nc_jax.models.complexity_penalty import GCPenalty
from nc_jax.train import TrainConfig, init_runs, make_data, make_measure

NET = MLP((7, 4, 3), num_linear=1, activation="tanh", bias=True)


def _net(seed=0, dim=5):
    params = NET.init(jax.random.PRNGKey(seed), dim)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
    return [
        dict(layer, b=0.3 * jnp.ones_like(layer["b"])) if "b" in layer else layer
        for layer in params
    ]


def _numpy_embedding(params, x):
    z = np.asarray(x, np.float64)
    for layer in params[:-1]:
        z = np.tanh(z @ np.asarray(layer["w"]).T + np.asarray(layer["b"]))
    return z


def _finite_difference_sq_norms(params, x, h=1e-5):
    """||J||_F^2 per row of x from central differences of the NumPy embedding."""
    out = np.zeros(x.shape[0])
    for d in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[d] = h
        column = (_numpy_embedding(params, x + step) - _numpy_embedding(params, x - step)) / (2 * h)
        out += np.sum(column**2, axis=1)
    return out


@pytest.mark.parametrize("dim", [3, 9])  # D <= p (forward mode) and D > p (reverse mode)
def test_linear_embedding_has_gc_equal_to_the_frobenius_norm(dim):
    a = np.random.default_rng(0).normal(size=(5, dim))
    x = jnp.asarray(np.random.default_rng(1).normal(size=(11, dim)))
    gc = cx.geometric_complexity(lambda v: jnp.asarray(a) @ v, x)
    assert float(gc) == pytest.approx(np.sum(a**2), rel=1e-14)


def test_gc_of_a_tanh_mlp_matches_finite_differences():
    params = _net()
    x = np.random.default_rng(2).normal(size=(20, 5))
    embed = cx.embedding_of(NET, params)
    assert cx.jacobians(embed, jnp.asarray(x)).shape == (20, 4, 5)
    want = _finite_difference_sq_norms(params, x)
    np.testing.assert_allclose(cx.jacobian_sq_norms(embed, jnp.asarray(x)), want, rtol=1e-8)
    y = np.repeat(np.arange(4), 5)
    per_class = cx.class_geometric_complexity(embed, jnp.asarray(x), jnp.asarray(y), 4)
    np.testing.assert_allclose(per_class, want.reshape(4, 5).mean(1), rtol=1e-8)
    assert float(cx.geometric_complexity(embed, jnp.asarray(x))) == pytest.approx(want.mean())


def test_estimators_are_unbiased_and_reduce_to_the_batch_estimate():
    params = _net(seed=3)
    x = jnp.asarray(np.random.default_rng(4).normal(size=(60, 5)))
    embed = cx.embedding_of(NET, params)
    exact = float(cx.geometric_complexity(embed, x))
    keys = jax.random.split(jax.random.PRNGKey(5), 4000)
    estimators = {
        "batch": lambda k: cx.gc_batch_estimate(embed, x, k, 8),
        "mask": lambda k: cx.gc_mask_estimate(embed, x, k, 8, 0.3),
        "output": lambda k: cx.gc_output_estimate(embed, x, k, 8),
    }
    for name, estimator in estimators.items():
        draws = np.asarray(jax.jit(jax.vmap(estimator))(keys))
        error = abs(draws.mean() - exact) / (draws.std(ddof=1) / np.sqrt(draws.size))
        assert error < 4, (name, draws.mean(), exact)
        assert draws.std() > 0, name  # a real estimator, not the exact value
    key = jax.random.PRNGKey(6)
    batch_key, _ = jax.random.split(key)
    full_mask = cx.gc_mask_estimate(embed, x, key, 8, 1.0)  # q = 1 keeps every entry
    assert float(full_mask) == pytest.approx(float(cx.gc_batch_estimate(embed, x, batch_key, 8)))
    whole = cx.gc_batch_estimate(embed, x, key, 60)  # the whole set: the exact GC
    assert float(whole) == pytest.approx(exact, rel=1e-12)


def test_one_output_estimate_is_p_times_a_jacobian_row():
    a = np.random.default_rng(7).normal(size=(3, 4))
    x = jnp.asarray(np.random.default_rng(8).normal(size=(1, 4)))
    values = {
        float(cx.gc_output_estimate(lambda v: jnp.asarray(a) @ v, x, jax.random.PRNGKey(s), 1))
        for s in range(40)
    }
    want = sorted(3 * np.sum(a**2, axis=1))
    np.testing.assert_allclose(sorted(values), want, rtol=1e-12)  # every row drawn, nothing else


def _numpy_pairs(values, means):
    k = len(values)
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            if i != j:
                out[i, j] = (values[i] + values[j]) / (2 * np.sum((means[i] - means[j]) ** 2))
    return out


def test_pair_form_and_geometric_collapse_against_numpy_and_nc1_cdnv():
    rng = np.random.default_rng(9)
    z, y = (
        rng.normal(size=(30, 4)) + np.repeat(rng.normal(size=(3, 4)) * 3, 10, 0),
        np.repeat(np.arange(3), 10),
    )
    means = np.stack([z[y == c].mean(0) for c in range(3)])
    variances = np.array([np.mean(np.sum((z[y == c] - means[c]) ** 2, 1)) for c in range(3)])
    stats = class_stats(jnp.asarray(z), jnp.asarray(y), 3)
    np.testing.assert_allclose(within_class_variances(stats), variances)
    pairs = _numpy_pairs(variances, means)
    np.testing.assert_allclose(cx.class_distance_normalised(variances, means), pairs, rtol=1e-12)
    average = pairs[~np.eye(3, dtype=bool)].mean()
    ordered = cx.pair_average(cx.class_distance_normalised(jnp.asarray(variances), means))
    assert float(ordered) == pytest.approx(average)  # over ordered pairs: the CDNV
    d2 = np.sum((means[:, None] - means[None]) ** 2, -1) + np.eye(3)
    one_sided = (variances[:, None] / d2)[~np.eye(3, dtype=bool)].mean()
    assert one_sided == pytest.approx(average)  # Var_i / d_ij^2 averaged over i != j: the same
    assert float(nc1_cdnv(stats)) == pytest.approx(average, rel=1e-12)  # the same convention
    gcs = np.array([1.0, 2.0, 4.0])
    want = _numpy_pairs(gcs, means)[~np.eye(3, dtype=bool)].mean()
    assert float(cx.geometric_collapse(jnp.asarray(gcs), jnp.asarray(means))) == pytest.approx(want)


def test_ncc_predict_and_few_shot_accuracy_against_numpy():
    rng = np.random.default_rng(10)
    counts = (7, 9, 8)
    y = np.repeat(np.arange(3), counts)
    z = rng.normal(size=(y.size, 2)) + np.array([[0, 0], [1.5, 0], [0, 1.5]])[y]
    means = rng.normal(size=(3, 2))
    want = np.argmin(((z[:, None] - means[None]) ** 2).sum(-1), 1)
    np.testing.assert_array_equal(cx.ncc_predict(jnp.asarray(z), jnp.asarray(means)), want)
    key = jax.random.PRNGKey(11)
    got = np.asarray(cx.few_shot_accuracies(jnp.asarray(z), y, 3, key, 2, 5))
    for e, episode_key in enumerate(jax.random.split(key, 5)):
        u = np.asarray(jax.random.uniform(episode_key, y.shape))
        support = [np.flatnonzero(y == c)[np.argsort(u[y == c])[:2]] for c in range(3)]
        centres = np.stack([z[s].mean(0) for s in support])
        query = np.ones(y.size, bool)
        query[np.concatenate(support)] = False
        correct = (np.argmin(((z[:, None] - centres[None]) ** 2).sum(-1), 1) == y) & query
        per_class = [correct[y == c].sum() / (counts[c] - 2) for c in range(3)]
        assert got[e] == pytest.approx(np.mean(per_class), rel=1e-6)
    collapsed = np.eye(3)[y] * 5  # every class a single point: the NCC is exact
    assert np.all(np.asarray(cx.few_shot_accuracies(jnp.asarray(collapsed), y, 3, key, 1, 3)) == 1)
    with pytest.raises(ValueError, match="more than shots"):
        cx.few_shot_accuracies(jnp.asarray(z), y, 3, key, 7, 2)


def _penalty_by_hand(params, x, alpha, num_samples):
    w1, b1 = np.asarray(params[0]["w"]), np.asarray(params[0]["b"])
    w2, b2 = np.asarray(params[1]["w"]), np.asarray(params[1]["b"])
    h1 = np.tanh(x @ w1.T + b1)
    g2 = 1 - np.tanh(h1 @ w2.T + b2) ** 2
    jac = np.einsum("nk,kj,nj,jd->nkd", g2, w2, 1 - h1**2, w1)  # J = D2 W2 D1 W1
    return alpha / num_samples * np.sum(jac**2)


def test_gc_penalty_value_by_hand_and_gradient_against_finite_differences():
    model = GCPenalty(NET, alpha=0.7, num_samples=12)
    params = _net(seed=12)
    x = np.random.default_rng(13).normal(size=(6, 5))
    _, layers = model.apply(params, jnp.asarray(x))
    value = model.penalty(params, jnp.asarray(x), layers, 0.0)
    assert float(value) == pytest.approx(_penalty_by_hand(params, x, 0.7, 12), rel=1e-12)
    grad = jax.grad(lambda p: model.penalty(p, jnp.asarray(x), None, 0.0))(params)
    h = 1e-6
    for layer, name in ((0, "w"), (1, "b")):
        flat = np.asarray(params[layer][name]).ravel()
        for index in (0, flat.size - 1):
            values = []
            for sign in (1, -1):
                bumped = flat.copy()
                bumped[index] += sign * h
                moved = list(params)
                moved[layer] = dict(
                    params[layer], **{name: bumped.reshape(np.shape(params[layer][name]))}
                )
                values.append(_penalty_by_hand(moved, x, 0.7, 12))
            got = np.asarray(grad[layer][name]).ravel()[index]
            assert got == pytest.approx((values[0] - values[1]) / (2 * h), rel=1e-6, abs=1e-9)
    assert float(GCPenalty(NET, 0.0, 12).penalty(params, jnp.asarray(x), layers, 0.0)) == 0.0
    assert model.num_outputs == 3 and hash(model) == hash(GCPenalty(NET, 0.7, 12))
    assert pickle.loads(pickle.dumps(model)) == model


def test_logged_objective_adds_alpha_times_the_training_set_gc():
    """Full batch: the engine adds penalty(x) = alpha GC(f, X) to the mean cross entropy."""
    x = np.random.default_rng(14).normal(size=(12, 5)).astype(np.float32)
    y = np.arange(12) % 3
    data = make_data(x, y, 3)
    model = GCPenalty(NET, alpha=0.5, num_samples=12)
    config = TrainConfig(
        steps=1, log_every=1, loss="cross_entropy", reduction="mean", metrics=False
    )
    state = jax.tree_util.tree_map(lambda a: a[0], init_runs(model, config, 5, 0.1, 0.0, [0]))
    with_penalty = make_measure(model, config, 3)(state, data)
    without = make_measure(NET, config, 3)(state, data)
    gc = cx.geometric_complexity(cx.embedding_of(NET, state.params), jnp.asarray(x))
    added = float(with_penalty["objective"] - without["objective"])
    assert added == pytest.approx(0.5 * float(gc), rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": -1.0, "num_samples": 3}, "alpha"),
        ({"alpha": float("nan"), "num_samples": 3}, "alpha"),
        ({"alpha": 1.0, "num_samples": 0}, "num_samples"),
        ({"alpha": 1.0, "num_samples": 3, "layer": 0.5}, "layer"),
    ],
)
def test_bad_penalty_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GCPenalty(NET, **kwargs)


@pytest.mark.parametrize("dim", [2, 30])  # D <= the layers' width (forward), D > it (reverse)
def test_layer_jacobians_match_each_layer_embedding_and_a_linear_network(dim):
    """Every layer at once equals ``jacobian_sq_norms`` of that layer's embedding (itself
    checked against finite differences above); a linear network's layers have ||W_l..W_1||_F^2."""
    model = MLP((6, 5, 3), num_linear=1, activation="tanh", bias=True)
    params = model.init(jax.random.PRNGKey(3), dim)
    x = jnp.asarray(np.random.default_rng(4).normal(size=(9, dim)), jnp.float32)
    norms = cx.layer_jacobian_sq_norms(model, params, x)
    assert norms.shape == (9, 3)
    for layer in range(3):
        each = cx.jacobian_sq_norms(cx.embedding_of(model, params, layer), x)
        np.testing.assert_allclose(norms[:, layer], each, rtol=1e-5)
    linear = MLP((4, 3), num_linear=2)
    weights = linear.init(jax.random.PRNGKey(5), dim)
    w1, w2 = (np.asarray(layer["w"], np.float64) for layer in weights)
    got = np.asarray(cx.layer_jacobian_sq_norms(linear, weights, x))
    np.testing.assert_allclose(got[:, 0], np.sum(w1**2), rtol=1e-5)
    np.testing.assert_allclose(got[:, 1], np.sum((w2 @ w1) ** 2), rtol=1e-5)


def test_gc_log_is_what_the_engine_logs_per_layer_and_class():
    """GCLog under GCPenalty: the engine's measure carries layer/gc and layer/gc class c, equal
    to the GC of each layer on the subset, overall and per class; the penalty still applies."""
    from nc_jax.models.complexity_log import GCLog, subset

    assert subset(10, 4).tolist() == [0, 3, 6, 9] and subset(3, 8).tolist() == [0, 1, 2]
    x = np.random.default_rng(15).normal(size=(12, 5)).astype(np.float32)
    y = np.repeat(np.arange(3), 4)  # class-ordered: the subset spans every class
    data = make_data(x, y, 3)
    logged = GCLog(NET, samples=6, num_classes=3)
    model = GCPenalty(logged, alpha=0.5, num_samples=12)
    config = TrainConfig(steps=1, log_every=1, loss="cross_entropy", reduction="mean")
    state = jax.tree_util.tree_map(lambda a: a[0], init_runs(model, config, 5, 0.1, 0.0, [0]))
    out = make_measure(model, config, 3)(state, data)
    rows = subset(12, 6)
    norms = np.stack(
        [cx.jacobian_sq_norms(cx.embedding_of(NET, state.params, k), x[rows]) for k in range(3)],
        axis=1,
    )
    np.testing.assert_allclose(out["layer/gc"], norms.mean(0), rtol=1e-5)
    for c in range(3):
        np.testing.assert_allclose(
            out[f"layer/gc class {c}"], norms[y[rows] == c].mean(0), rtol=1e-5
        )
    assert out["layer/nc1_cdnv"].shape == (3,)  # the engine's CDNV per layer beside it
    without = make_measure(logged, config, 3)(state, data)
    gc = cx.geometric_complexity(cx.embedding_of(NET, state.params), jnp.asarray(x))
    assert float(out["objective"] - without["objective"]) == pytest.approx(
        0.5 * float(gc), rel=1e-5
    )
    with pytest.raises(ValueError, match="samples"):
        GCLog(NET, samples=0, num_classes=3)


def test_class_means_of_per_sample_values_and_rows_against_numpy():
    """nc_jax.metrics.stats.class_means_of: per-class means of values (N,) and of rows (N, L);
    a class without samples is NaN."""
    from nc_jax.metrics.stats import class_means_of

    rng = np.random.default_rng(21)
    y = np.array([0, 2, 2, 0, 0, 2])
    values, rows = rng.normal(size=6), rng.normal(size=(6, 3))
    got = np.asarray(class_means_of(jnp.asarray(values), jnp.asarray(y), 3))
    np.testing.assert_allclose(got[[0, 2]], [values[y == 0].mean(), values[y == 2].mean()])
    assert np.isnan(got[1])
    per_row = np.asarray(class_means_of(jnp.asarray(rows), jnp.asarray(y), 3))
    assert per_row.shape == (3, 3) and np.isnan(per_row[1]).all()
    np.testing.assert_allclose(per_row[2], rows[y == 2].mean(0), rtol=1e-14)
