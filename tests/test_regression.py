"""NRC1-NRC3 and the regression-UFM optimum against float64 NumPy references and closed forms
(docs/theory/andriopoulos2024.md)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixtures import orthonormal_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from nc_jax.metrics.regression import nrc1, nrc2, nrc3, ufm_regression_optimum

M, D, N = 40, 9, 3
TOLERANCES = [(np.float64, 1e-10), (np.float32, 1e-4)]


def _rel_err(a, b):
    return abs(float(a) - float(b)) / max(abs(float(b)), 1e-300)


# ------------------------------------------------------------------ NumPy float64 references


def _normalised(h):
    return h / np.linalg.norm(h, axis=1, keepdims=True)


def ref_nrc1(h, n):
    """Top-n eigenvectors of the d x d second-moment matrix, applied as a d x d projector."""
    h_hat = _normalised(h)
    _, vectors = np.linalg.eigh(h_hat.T @ h_hat)
    top = vectors[:, ::-1][:, :n]
    residual = h_hat - h_hat @ (top @ top.T)
    return np.mean(np.sum(residual**2, axis=1))


def ref_nrc2(h, w):
    """P_row(W) = pinv(W) W as a d x d matrix."""
    h_hat = _normalised(h)
    residual = h_hat - h_hat @ (np.linalg.pinv(w) @ w).T
    return np.mean(np.sum(residual**2, axis=1))


def _sqrt_cov(y):
    sigma = np.cov(y, rowvar=False, bias=True).reshape(y.shape[1], y.shape[1])
    lam, u = np.linalg.eigh(sigma)
    return (u * np.sqrt(np.clip(lam, 0, None))) @ u.T, max(lam[0], 0.0)


def ref_nrc3_curve(w, y, gammas):
    """NRC3(gamma) for each gamma, straight from the definition (squared Frobenius norm)."""
    root, _ = _sqrt_cov(y)
    ww = w @ w.T
    w_hat = ww / np.linalg.norm(ww)
    a = root[None] - np.sqrt(gammas)[:, None, None] * np.eye(w.shape[0])[None]
    a_hat = a / np.linalg.norm(a, axis=(1, 2), keepdims=True)
    return np.sum((w_hat[None] - a_hat) ** 2, axis=(1, 2))


def ref_nrc3(w, y, points=20001, rounds=4):
    """Grid minimum over gamma in [0, lambda_min], then refined by shrinking grids.

    Returns (refined minimum, minimiser, plain grid minimum).
    """
    _, lam_min = _sqrt_cov(y)
    gammas = np.linspace(0.0, lam_min, points)
    values = ref_nrc3_curve(w, y, gammas)
    grid_min = np.nanmin(values)
    best, step = gammas[np.nanargmin(values)], lam_min / (points - 1)
    for _ in range(rounds):
        gammas = np.linspace(max(best - step, 0.0), min(best + step, lam_min), 2001)
        values = ref_nrc3_curve(w, y, gammas)
        best, step = gammas[np.nanargmin(values)], 2 * step / 2000
    return min(np.nanmin(values), grid_min), best, grid_min


def ref_ufm_optimum(y, lambda_h, lambda_w):
    lam, u = np.linalg.eigh(np.cov(y, rowvar=False, bias=True))
    shrunk = np.clip(np.sqrt(np.clip(lam, 0, None)) - np.sqrt(lambda_h * lambda_w), 0, None)
    return np.sqrt(lambda_h / lambda_w) * (u * shrunk) @ u.T


# -------------------------------------------------------------------------------- problems


def random_problem(seed, m=M, d=D, n=N):
    """Well-conditioned random features, weight and correlated targets."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(m, d)) + 0.5
    w = rng.normal(size=(n, d))
    y = rng.normal(size=(m, n)) @ (np.eye(n) + 0.3 * rng.normal(size=(n, n))) + 2.0
    return h, w, y


def weight_with_gram(rng, gram, d):
    """A (n, d) matrix W with W W^T = gram (gram symmetric PSD)."""
    lam, u = np.linalg.eigh(gram)
    root = (u * np.sqrt(np.clip(lam, 0, None))) @ u.T
    return root @ orthonormal_rows(rng, gram.shape[0], d)


def near_collapse_weight(seed, y, d=D, noise=0.05):
    """W W^T near Sigma^{1/2} - s I for an interior s: the optimum is the stationary point."""
    rng = np.random.default_rng(seed)
    root, lam_min = _sqrt_cov(y)
    target = root - 0.5 * np.sqrt(lam_min) * np.eye(y.shape[1])
    w = weight_with_gram(rng, target, d)
    return w + noise * rng.normal(size=w.shape)


# ----------------------------------------------------------------------- against NumPy


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dtype,tol", TOLERANCES)
def test_nrc1_nrc2_match_numpy(seed, dtype, tol):
    h, w, _ = random_problem(seed)
    for n in (1, N):
        assert _rel_err(nrc1(jnp.asarray(h, dtype), n), ref_nrc1(h, n)) < tol
    assert abs(float(nrc1(jnp.asarray(h, dtype), D))) < 10 * tol  # n = d: nothing is left
    assert _rel_err(nrc2(jnp.asarray(h, dtype), jnp.asarray(w, dtype)), ref_nrc2(h, w)) < tol


def test_nrc1_wide_features_match_numpy():
    """d > M: the PCA basis has at most M directions."""
    h, _, _ = random_problem(2, m=6, d=15)
    for n in (2, 5):
        assert _rel_err(nrc1(h, n), ref_nrc1(h, n)) < 1e-10


@pytest.mark.parametrize("kind", ["random", "near_collapse"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype,tol", TOLERANCES)
def test_nrc3_matches_dense_grid(kind, seed, dtype, tol):
    _, w, y = random_problem(seed)
    if kind == "near_collapse":
        w = near_collapse_weight(seed, y)
    value, gamma = nrc3(jnp.asarray(w, dtype), jnp.asarray(y, dtype))
    refined, _, grid_min = ref_nrc3(w, y)
    _, lam_min = _sqrt_cov(y)
    assert _rel_err(value, refined) < tol
    assert -1e-12 <= float(gamma) <= lam_min * (1 + tol)
    if dtype == np.float64:
        assert float(value) <= grid_min + 1e-14
        assert grid_min - float(value) < 1e-6
        # gamma_opt really attains the value
        assert _rel_err(value, ref_nrc3_curve(w, y, np.array([float(gamma)]))[0]) < 1e-10


def test_nrc3_hits_interior_and_endpoint_optima():
    """The test problems above exercise both the stationary point and an endpoint."""
    _, w, y = random_problem(0)
    _, lam_min = _sqrt_cov(y)
    _, gamma_interior = nrc3(near_collapse_weight(0, y), y)
    assert 0.01 * lam_min < float(gamma_interior) < 0.99 * lam_min
    _, gamma_random = nrc3(w, y)  # for this seed the optimum sits at an endpoint
    assert float(gamma_random) in (0.0, pytest.approx(lam_min, rel=1e-12))


# ------------------------------------------------------------------- closed-form fixtures


def test_features_in_n_dim_subspace_have_zero_nrc1():
    rng = np.random.default_rng(3)
    basis = orthonormal_rows(rng, N, D)
    h = rng.normal(size=(M, N)) @ basis * np.exp(rng.normal(size=(M, 1)))
    assert abs(float(nrc1(h, N))) < 1e-12
    assert float(nrc1(h, N - 1)) > 1e-3


def test_features_in_row_space_of_w_have_zero_nrc2():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(N, D))
    h = rng.normal(size=(M, N)) @ w
    assert abs(float(nrc2(h, w))) < 1e-12
    assert float(nrc2(h, rng.normal(size=(N, D)))) > 1e-3


def test_ufm_optimum_matches_formula_and_clips():
    _, _, y = random_problem(5)
    lam = np.linalg.eigvalsh(np.cov(y, rowvar=False, bias=True))
    between = (lam[0] + lam[1]) / 2  # c = lambda_h lambda_w in (lambda_1, lambda_2)
    for lambda_h, lambda_w in [(0.1, 0.2), (between / 2, 2.0)]:
        got = ufm_regression_optimum(y, lambda_h, lambda_w)
        want = ref_ufm_optimum(y, lambda_h, lambda_w)
        assert np.max(np.abs(np.asarray(got) - want)) < 1e-10 * np.max(np.abs(want))
    clipped = np.asarray(ufm_regression_optimum(y, between / 2, 2.0))
    assert np.linalg.matrix_rank(clipped) == N - 1  # the lambda_min direction is shrunk to 0


@pytest.mark.parametrize("seed", [5, 6])
def test_ufm_optimum_has_zero_nrc3_at_gamma_c(seed):
    """docs/theory/andriopoulos2024.md: at W*W*^T the NRC3 minimum is 0, attained at gamma = c."""
    rng = np.random.default_rng(seed)
    _, _, y = random_problem(seed)
    lam_min = np.linalg.eigvalsh(np.cov(y, rowvar=False, bias=True))[0]
    lambda_h, lambda_w = 0.3 * lam_min, 0.5  # c = 0.15 lambda_min, inside (0, lambda_min)
    c = lambda_h * lambda_w
    w = weight_with_gram(rng, np.asarray(ufm_regression_optimum(y, lambda_h, lambda_w)), D)
    value, gamma = nrc3(w, y)
    assert abs(float(value)) < 1e-12
    assert _rel_err(gamma, c) < 1e-6


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_univariate_targets_give_zero_nrc3_without_nan(dtype):
    rng = np.random.default_rng(7)
    y = rng.normal(size=(M, 1))
    for w in (rng.normal(size=(1, D)), -rng.normal(size=(1, D))):
        value, gamma = jax.jit(nrc3)(jnp.asarray(w, dtype), jnp.asarray(y, dtype))
        assert np.isfinite(float(value)) and abs(float(value)) < 10 * np.finfo(dtype).eps
        assert 0.0 <= float(gamma) <= np.var(y) * (1 + 1e-6)
    grad = jax.grad(lambda w: nrc3(w, y)[0])(rng.normal(size=(1, D)))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_isotropic_targets_skip_the_degenerate_endpoint():
    """Sigma = lambda I: A(gamma) is proportional to I on [0, lambda), zero at lambda."""
    rng = np.random.default_rng(8)
    centred = rng.normal(size=(M, N))
    q, _ = np.linalg.qr(centred - centred.mean(axis=0))
    y = np.sqrt(M * 2.0) * q + 1.0  # covariance 2 I up to rounding
    w = rng.normal(size=(N, D))
    ww = w @ w.T
    expected = np.sum((ww / np.linalg.norm(ww) - np.eye(N) / np.sqrt(N)) ** 2)
    value, gamma = nrc3(w, y)
    assert _rel_err(value, expected) < 1e-10
    assert 0.0 <= float(gamma) < 2.0


# ------------------------------------------------------------------------------- invariances


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_nrc1_nrc2_invariant_to_sample_scaling_and_joint_rotation(seed):
    rng = np.random.default_rng(seed)
    h, w, _ = random_problem(seed % 1000)
    scaled = h * np.exp(rng.normal(size=(M, 1)))
    q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    base1, base2 = float(nrc1(h, N)), float(nrc2(h, w))
    for h2, w2 in ((scaled, w), (h @ q, w @ q)):
        assert _rel_err(nrc1(h2, N), base1) < 1e-9
        assert _rel_err(nrc2(h2, w2), base2) < 1e-9


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.05, 20.0), sign=st.sampled_from([-1, 1]))
def test_nrc3_invariant_to_weight_scaling(seed, scale, sign):
    _, w, y = random_problem(seed % 1000)
    value, gamma = nrc3(w, y)
    value2, gamma2 = nrc3(sign * scale * w, y)
    assert _rel_err(value2, value) < 1e-9
    assert abs(float(gamma2) - float(gamma)) < 1e-9 * max(float(gamma), 1.0)


# ----------------------------------------------------------------------------- jit and vmap


def test_jit_and_vmap_over_a_batch_of_models():
    problems = [random_problem(10 + i) for i in range(8)]
    hs, ws, ys = (np.stack(arrays) for arrays in zip(*problems))
    ws[::2] = np.stack([near_collapse_weight(i, y) for i, y in enumerate(ys[::2])])
    nrc1_batched = jax.jit(jax.vmap(partial(nrc1, n_components=N)))(hs)
    nrc2_batched = jax.jit(jax.vmap(nrc2))(hs, ws)
    nrc3_values, nrc3_gammas = jax.jit(jax.vmap(nrc3))(ws, ys)
    ufm_batched = jax.vmap(ufm_regression_optimum, in_axes=(0, None, None))(ys, 0.1, 0.2)
    for i in range(8):
        assert _rel_err(nrc1_batched[i], nrc1(hs[i], N)) < 1e-10
        assert _rel_err(nrc2_batched[i], nrc2(hs[i], ws[i])) < 1e-10
        value, gamma = nrc3(ws[i], ys[i])
        assert _rel_err(nrc3_values[i], value) < 1e-10
        assert abs(float(nrc3_gammas[i]) - float(gamma)) < 1e-10 * max(float(gamma), 1.0)
        np.testing.assert_allclose(ufm_batched[i], ufm_regression_optimum(ys[i], 0.1, 0.2))
    jitted = jax.jit(nrc1, static_argnames="n_components")(hs[0], n_components=N)
    assert _rel_err(jitted, nrc1(hs[0], N)) < 1e-10


# ------------------------------------------------------------------------------- bad inputs


def _bad_inputs():
    h, w, y = random_problem(20)
    nan_h = h.copy()
    nan_h[3, 2] = np.nan
    zero_row_h = h.copy()
    zero_row_h[5] = 0.0
    rank_deficient = np.vstack([w[:2], w[:1] + w[1:2]])
    return [
        ("h", lambda: nrc1(h[0], 1)),
        ("h", lambda: nrc2(h[None], w)),
        ("w", lambda: nrc2(h, w[0])),
        ("w", lambda: nrc3(w[None], y)),
        ("y", lambda: nrc3(w, y[:, 0])),
        ("y", lambda: ufm_regression_optimum(y[:, 0], 0.1, 0.1)),
        ("w", lambda: nrc2(h, w[:, :-1])),
        ("w", lambda: nrc2(h, w.T)),
        ("n_components", lambda: nrc1(h, 0)),
        ("n_components", lambda: nrc1(h, D + 1)),
        ("n_components", lambda: nrc1(h, 2.0)),
        ("n_components", lambda: nrc1(h, True)),
        ("h", lambda: nrc1(nan_h, N)),
        ("h", lambda: nrc2(nan_h, w)),
        ("h", lambda: nrc1(zero_row_h, N)),
        ("w", lambda: nrc2(h[:, :2], w[:, :2])),  # d = 2 < n = 3
        ("w", lambda: nrc2(h, rank_deficient)),
        ("w", lambda: nrc3(np.zeros_like(w), y)),
        ("w", lambda: nrc3(np.full_like(w, np.inf), y)),
        ("y", lambda: nrc3(w, y[:, :2])),
        ("y", lambda: nrc3(w, np.ones_like(y))),
        ("y", lambda: nrc3(w, np.where(np.arange(M)[:, None] == 0, np.nan, y))),
        ("lambda_h", lambda: ufm_regression_optimum(y, 0.0, 0.1)),
        ("lambda_w", lambda: ufm_regression_optimum(y, 0.1, -1.0)),
        ("w", lambda: jax.jit(nrc2)(h, w[:, :-1])),  # shape checks still run on tracers
        ("n_components", lambda: jax.jit(partial(nrc1, n_components=0))(h)),
    ]


@pytest.mark.parametrize("index", range(len(_bad_inputs())))
def test_bad_inputs_raise_value_error_naming_the_argument(index):
    name, call = _bad_inputs()[index]
    with pytest.raises(ValueError, match=name):
        call()
