"""Spectra, conditioning, balancedness, negativity and s_K(Y) against NumPy and closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixtures import balanced_labels, orthonormal_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from nc_jax import metrics as m
from nc_jax.metrics import reference as ref


def _rel_err(a, b):
    return abs(float(a) - float(b)) / max(abs(float(b)), 1e-300)


@pytest.mark.parametrize("shape", [(4, 9), (9, 4), (6, 6)])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_spectral_quantities_match_numpy(shape, dtype, tol):
    a = np.random.default_rng(0).normal(size=shape)
    a_cast = jnp.asarray(a, dtype)
    np.testing.assert_allclose(
        m.singular_values(a_cast), np.linalg.svd(a, compute_uv=False), rtol=tol
    )
    assert _rel_err(m.spectral_norm(a_cast), ref.spectral_norm(a)) < tol
    assert _rel_err(m.condition_number(a_cast), ref.condition_number(a)) < tol
    stable = np.sum(a**2) / ref.spectral_norm(a) ** 2
    assert _rel_err(m.stable_rank(a_cast), stable) < tol


def test_condition_number_ignores_exact_zero_singular_values():
    """kappa = s_1 / s_rank (jacot2025.md section 1): a rank-2 3 x 5 matrix uses s_2."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 2)) @ rng.normal(size=(2, 5))
    s = np.linalg.svd(a, compute_uv=False)
    assert _rel_err(m.condition_number(a), s[0] / s[1]) < 1e-10
    assert float(m.condition_number(np.zeros((3, 3)))) == np.inf


def test_orthogonal_matrix_has_unit_condition_and_stable_rank_equal_rank():
    q = orthonormal_rows(np.random.default_rng(2), 4, 7)
    assert abs(float(m.condition_number(3 * q)) - 1) < 1e-12
    assert abs(float(m.stable_rank(q)) - 4) < 1e-12


def test_chain_product_order_and_condition():
    rng = np.random.default_rng(3)
    w1, w2, w3 = rng.normal(size=(6, 5)), rng.normal(size=(4, 6)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(m.chain_product([w1, w2, w3]), w3 @ w2 @ w1, rtol=1e-12)
    with pytest.raises(ValueError, match="weights"):
        m.chain_product([w1, w3])
    with pytest.raises(ValueError, match="weights"):
        m.chain_product([])


@pytest.mark.parametrize(
    "widths", [(5, 7, 3), (30, 4, 20), (2, 40, 3), (8, 8, 8)], ids=["mid", "narrow", "wide", "sq"]
)
def test_balancedness_matches_numpy_on_both_computation_paths(widths):
    """(2, 40, 3) takes the QR path (40 > 2 + 3); the others form the n_l x n_l difference."""
    n_in, n_mid, n_out = widths
    rng = np.random.default_rng(sum(widths))
    w, w_next = rng.normal(size=(n_mid, n_in)), rng.normal(size=(n_out, n_mid))
    assert _rel_err(m.balancedness(w, w_next), ref.balancedness(w, w_next)) < 1e-10
    relative = ref.balancedness(w, w_next) / max(
        ref.spectral_norm(w) ** 2, ref.spectral_norm(w_next) ** 2
    )
    assert _rel_err(m.relative_balancedness(w, w_next), relative) < 1e-10


def test_balanced_factorisation_has_zero_balancedness():
    """W_l = U S^{1/2} V^T, W_{l+1} = Q S^{1/2} U^T is exactly balanced: W_{l+1}^T W_{l+1}
    = U S U^T = W_l W_l^T."""
    rng = np.random.default_rng(4)
    u = orthonormal_rows(rng, 3, 20).T  # (20, 3)
    v = orthonormal_rows(rng, 3, 6)  # (3, 6)
    q = orthonormal_rows(rng, 3, 3)
    root = np.diag(np.sqrt([4.0, 2.0, 0.5]))
    w, w_next = u @ root @ v, q @ root @ u.T
    assert float(m.balancedness(w, w_next)) < 1e-13
    assert float(m.relative_balancedness(w, w_next)) < 1e-13


def test_balancedness_rejects_swapped_layers():
    rng = np.random.default_rng(5)
    w, w_next = rng.normal(size=(6, 4)), rng.normal(size=(3, 6))
    with pytest.raises(ValueError, match="w_next"):
        m.balancedness(w_next, w)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 12), d=st.integers(1, 12))
def test_negativity_bounds_and_reference(seed, n, d):
    h = np.random.default_rng(seed).normal(size=(n, d))
    value = float(m.negativity(h))
    assert value >= 0.0  # no upper bound 1: entrywise min(., 0) is not an op-norm contraction
    assert abs(value - ref.negativity(h)) < 1e-10


def test_negativity_closed_forms():
    h = np.abs(np.random.default_rng(6).normal(size=(10, 4)))
    assert float(m.negativity(h)) == 0.0
    assert abs(float(m.negativity(-h)) - 1.0) < 1e-14


@pytest.mark.parametrize("counts", [(5, 5, 5), (3, 7, 4, 9)])
def test_label_singular_value(counts):
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)]).astype(np.int32)
    one_hot = np.eye(len(counts))[y].T
    expected = np.linalg.svd(one_hot, compute_uv=False)[-1]
    assert _rel_err(m.label_singular_value(y, len(counts)), expected) < 1e-12
    assert _rel_err(m.label_singular_value(y, len(counts)), np.sqrt(min(counts))) < 1e-14


def test_geometry_is_jittable_and_vmappable():
    rng = np.random.default_rng(7)
    ws = jnp.asarray(rng.normal(size=(16, 5, 3)))
    w_nexts = jnp.asarray(rng.normal(size=(16, 2, 5)))
    batched = jax.jit(jax.vmap(m.balancedness))(ws, w_nexts)
    for i in (0, 15):
        assert (
            _rel_err(batched[i], ref.balancedness(np.asarray(ws[i]), np.asarray(w_nexts[i])))
            < 1e-10
        )
    kappas = jax.vmap(m.condition_number)(ws)
    assert kappas.shape == (16,)
    sk = jax.jit(m.label_singular_value, static_argnums=1)(jnp.asarray(balanced_labels(3, 4)), 3)
    assert abs(float(sk) - 2.0) < 1e-14


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="preactivation"):
        m.negativity(np.ones(4))
    with pytest.raises(ValueError, match="a"):
        m.spectral_norm(np.full((2, 2), np.inf))
    with pytest.raises(ValueError, match="y"):
        m.label_singular_value(np.array([0, 3]), 2)
    with pytest.raises(ValueError, match="num_classes"):
        m.label_singular_value(np.array([0, 0]), 1)
