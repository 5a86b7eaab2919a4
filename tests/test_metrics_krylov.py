"""nc_jax.metrics.krylov: Lanczos' top eigenvalue against numpy's eigvalsh in float64."""

from __future__ import annotations

import numpy as np
import pytest

from nc_jax.metrics.krylov import lanczos_top_eigenvalue


def _psd(seed: int, n: int, rank: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(n, rank or n))
    return factor @ factor.T


class _Counted:
    """A matvec that counts its products and records nothing else."""

    def __init__(self, a: np.ndarray):
        self.a, self.products = a, 0

    def __call__(self, v: np.ndarray) -> np.ndarray:
        self.products += 1
        return self.a @ v


@pytest.mark.parametrize("seed", range(4))
def test_top_eigenvalue_matches_eigvalsh_from_below(seed):
    a = _psd(seed, 60)
    start = np.random.default_rng(100 + seed).normal(size=60)
    true = np.linalg.eigvalsh(a)[-1]
    estimate, change = lanczos_top_eigenvalue(_Counted(a), start, 60, 1e-12)
    assert estimate == pytest.approx(true, rel=1e-10)
    assert estimate <= true * (1 + 1e-12) and change < 1e-12
    for steps in (1, 2, 3, 5):  # every truncated estimate is a lower bound, increasing in steps
        few, _ = lanczos_top_eigenvalue(_Counted(a), start, steps, 0.0)
        more, _ = lanczos_top_eigenvalue(_Counted(a), start, steps + 1, 0.0)
        assert few <= more * (1 + 1e-12) <= true * (1 + 1e-11)


def test_one_step_is_the_rayleigh_quotient_of_the_start():
    a = _psd(7, 10)
    start = np.arange(1.0, 11.0)
    estimate, change = lanczos_top_eigenvalue(_Counted(a), start, 1, 0.0)
    assert estimate == pytest.approx(start @ a @ start / (start @ start), rel=1e-13)
    assert change == 1.0  # from 0 to the first estimate


def test_a_low_rank_operator_is_exact_once_the_krylov_space_is_invariant():
    a = _psd(3, 50, rank=4)
    matvec = _Counted(a)
    estimate, change = lanczos_top_eigenvalue(matvec, np.ones(50), 50, 0.0)
    assert estimate == pytest.approx(np.linalg.eigvalsh(a)[-1], rel=1e-12)
    assert change == 0.0 and matvec.products == 5  # rank 4 (+ the product that finds beta = 0)


def test_the_zero_operator_gives_zero():
    assert lanczos_top_eigenvalue(lambda v: 0 * v, np.ones(5), 10, 1e-10) == (0.0, 0.0)


def test_fewer_products_than_the_power_iteration_for_a_small_gap():
    """Eigenvalues 1.0 and 0.99 at the top: the power iteration's Rayleigh quotient needs
    hundreds of products to reach 1e-8, Lanczos a few dozen."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(200, 200)))
    a = (q * np.concatenate([[1.0, 0.99], np.linspace(0, 0.9, 198)])) @ q.T
    start = rng.normal(size=200)
    matvec = _Counted(a)
    estimate, _ = lanczos_top_eigenvalue(matvec, start, 200, 1e-12)
    assert estimate == pytest.approx(1.0, rel=1e-8)
    v, power_products = start / np.linalg.norm(start), 0
    while abs(v @ a @ v - 1.0) > 1e-8:
        v = a @ v
        v, power_products = v / np.linalg.norm(v), power_products + 1
    assert matvec.products * 4 < power_products


def test_bad_iteration_count_is_refused():
    with pytest.raises(ValueError, match="max_iterations"):
        lanczos_top_eigenvalue(lambda v: v, np.ones(3), 0, 1e-10)


def test_a_batch_follows_each_operator_as_if_alone():
    """Rows of lanczos_top_eigenvalues stop at their own step (a low-rank row early, as an
    invariant space; a zero row at once) and equal the single-operator iteration to rounding."""
    from nc_jax.metrics.krylov import lanczos_top_eigenvalues

    ops = np.stack([_psd(0, 40), _psd(1, 40, rank=3), np.zeros((40, 40)), _psd(2, 40)])
    starts = np.random.default_rng(5).normal(size=(4, 40))
    products = []

    def matvec(v):
        products.append(len(v))
        return np.einsum("rij,rj->ri", ops, v)

    estimates, changes = lanczos_top_eigenvalues(matvec, starts, 40, 1e-11)
    counts = []
    for row in range(4):
        single = _Counted(ops[row])
        alone = lanczos_top_eigenvalue(single, starts[row], 40, 1e-11)
        counts.append(single.products)
        assert estimates[row] == pytest.approx(alone[0], rel=1e-12, abs=1e-300)
        # a change near convergence is a difference of nearly equal values: rounding is absolute
        assert changes[row] == pytest.approx(alone[1], abs=1e-14)
    assert changes[1] == 0.0 and (estimates[2], changes[2]) == (0.0, 0.0)
    assert counts[1] == 4 and counts[2] == 1
    assert len(products) == max(counts)  # the batch stops with its slowest row
