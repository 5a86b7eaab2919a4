"""The vmap-safe decompositions: identical results, and no thread-pool deadlock under vmap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics import linalg


def test_wrappers_match_jnp_linalg_unbatched_batched_and_nested():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(3, 2, 6, 4)))
    sym = a[..., :4, :] @ jnp.swapaxes(a[..., :4, :], -1, -2)
    nested = lambda fn: jax.jit(jax.vmap(jax.vmap(fn)))  # noqa: E731
    np.testing.assert_allclose(nested(linalg.eigvalsh)(sym), jnp.linalg.eigvalsh(sym), rtol=1e-12)
    np.testing.assert_allclose(nested(linalg.svdvals)(a), jnp.linalg.svd(a, compute_uv=False))
    u, s, vt = nested(linalg.thin_svd)(a)
    np.testing.assert_allclose(u * s[..., None, :] @ vt, a, atol=1e-12)
    q, r = nested(linalg.thin_qr)(a)
    np.testing.assert_allclose(q @ r, a, atol=1e-12)
    np.testing.assert_allclose(jnp.abs(nested(linalg.qr_r)(a)), jnp.abs(r), atol=1e-12)
    values, vectors = linalg.eigh(sym[0, 0])
    np.testing.assert_allclose(vectors * values @ vectors.T, sym[0, 0], atol=1e-12)


def _assert_gradient_matches_finite_differences(f, batch, indices, step: float = 1e-6) -> None:
    """jit(vmap(grad(f))) over ``batch`` (B, m, n) against central differences of vmap(f) at
    each entry ``index`` (i, j) of every matrix, rtol 1e-6 and atol 1e-8 (float64)."""
    grads = jax.jit(jax.vmap(jax.grad(f)))(batch)
    for index in indices:
        bump = jnp.zeros(batch.shape[1:]).at[index].set(step)
        numeric = (jax.vmap(f)(batch + bump) - jax.vmap(f)(batch - bump)) / (2 * step)
        np.testing.assert_allclose(grads[(slice(None), *index)], numeric, rtol=1e-6, atol=1e-8)


def test_vmapped_network_metrics_do_not_deadlock_on_two_cores():
    """Regression test: with batched LAPACK calls this program deadlocked on 2-core machines
    (several concurrent ParallelBatchMap waits in the XLA CPU pool). Run in a subprocess with a
    time limit so that a deadlock fails the test instead of hanging the suite."""
    script = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np
        from nc_jax.metrics import network_metrics
        from nc_jax.models.mlp import MLP
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=(300, 64)), jnp.float32)
        y = jnp.asarray(np.repeat(np.arange(10), 30), jnp.int32)
        model = MLP((512, 64, 64, 64, 10), num_linear=3)
        keys = jax.random.split(jax.random.PRNGKey(0), 4)
        params = jax.vmap(lambda k: model.init(k, 64))(keys)
        def one(p):
            _, layers = model.apply(p, x)
            return network_metrics(layers.features, y, 10, layers.weights, layers.preactivations)
        out = jax.block_until_ready(jax.jit(jax.vmap(one))(params))
        print("ok", out["nc1_pinv"].shape)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "ok (4, 5)" in done.stdout


def test_eigvalsh_and_svdvals_are_differentiable_under_vmap_and_match_finite_differences():
    """custom_vmap has no reverse mode; the custom JVPs (v^T dA v, u^T dA v) supply it."""
    rng = np.random.default_rng(1)
    a = jnp.asarray(rng.normal(size=(2, 3, 5)))

    def f(m):
        return linalg.svdvals(m)[0] + 2 * linalg.svdvals(m)[-1] + linalg.eigvalsh(m @ m.T)[1]

    _assert_gradient_matches_finite_differences(f, a, np.ndindex(a.shape[1:]))


def _hard_symmetric_matrices(rng) -> dict[str, np.ndarray]:
    """Cases where an eigenvalue solver is easy to get wrong: repeated eigenvalues (a simplex ETF
    Gram), rank deficiency, indefinite, zero, eigenvalues spread over 20 decades, 1 x 1, 2 x 2."""
    h = rng.normal(size=(30, 12))
    return {
        "random psd": h.T @ h,
        "rank 3": (lambda g: g.T @ g)(rng.normal(size=(3, 12))),
        "ETF Gram (repeated)": np.eye(12) * 5 - 5 / 12,
        "indefinite": (lambda a: a + a.T)(rng.normal(size=(12, 12))),
        "zero": np.zeros((12, 12)),
        "spread": np.diag(10.0 ** np.arange(-10, 10, dtype=np.float64)),
        "1 x 1": np.array([[-2.5]]),
        "2 x 2": np.array([[1.0, 2.0], [2.0, -1.0]]),
    }


def test_eigvalsh_by_tridiagonal_bisection_is_accurate_to_rounding_on_hard_cases():
    """eigvalsh (sytrd + bisection) and top_eigenvalue against LAPACK's float64 syevd (NumPy):
    every eigenvalue within 4 eps ||A|| (syevd's own accuracy class), ascending."""
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        for name, a in _hard_symmetric_matrices(rng).items():
            want = np.linalg.eigvalsh(a)
            scale = max(np.max(np.abs(want)), 1e-300)
            got = np.asarray(jax.jit(linalg.eigvalsh)(jnp.asarray(a)))
            assert np.all(np.diff(got) >= 0), name
            assert np.max(np.abs(got - want)) <= 4 * np.finfo(np.float64).eps * scale * len(a), name
            top = float(jax.jit(linalg.top_eigenvalue)(jnp.asarray(a)))
            assert abs(top - want[-1]) <= 4 * np.finfo(np.float64).eps * scale * len(a), name
            ends = np.asarray(jax.jit(linalg.extreme_eigenvalues)(jnp.asarray(a)))
            np.testing.assert_allclose(
                ends, want[[0, -1]], rtol=0, atol=4 * np.finfo(np.float64).eps * scale * len(a)
            )


def test_top_eigenvalue_batched_and_its_derivative_is_the_top_eigenvector_form():
    """vmap over a batch equals the loop; d lambda_max = v^T dA v (finite differences)."""
    rng = np.random.default_rng(4)
    with jax.enable_x64(True):
        h = jnp.asarray(rng.normal(size=(5, 9, 6)))
        grams = jnp.swapaxes(h, 1, 2) @ h
        batched = jax.jit(jax.vmap(linalg.top_eigenvalue))(grams)
        np.testing.assert_allclose(
            batched, np.linalg.eigvalsh(np.asarray(grams))[:, -1], rtol=1e-13
        )

        def f(m):
            return linalg.top_eigenvalue(m.T @ m)

        _assert_gradient_matches_finite_differences(f, h, [(0, 0), (3, 2), (8, 5)])


def test_accelerator_eigenvalue_branch_matches_lapack_on_hard_cases():
    """The branch lowered on GPUs and TPUs (the platform's eigensolver, batched under vmap) is
    plain JAX, so it is checked here on the CPU: same hard cases, same accuracy class, vmapped."""
    rng = np.random.default_rng(5)
    with jax.enable_x64(True):
        for name, a in _hard_symmetric_matrices(rng).items():
            if len(a) == 1:  # _eigenvalues returns a 1 x 1 matrix's entry before any branch
                continue
            want = np.linalg.eigvalsh(a)
            tolerance = 4 * np.finfo(np.float64).eps * max(np.max(np.abs(want)), 1e-300) * len(a)
            batch = jnp.asarray(np.stack([a, 2 * a]))
            for which, wanted in [("all", want), ("top", want[-1:]), ("extremes", want[[0, -1]])]:
                indices = linalg._eigenvalue_indices(len(a), which)
                got = jax.jit(
                    jax.vmap(lambda m, i=indices: linalg._eigenvalues_by_eigensolver(m, i))
                )(batch)
                assert np.max(np.abs(np.asarray(got[0]) - wanted)) <= tolerance, name
                assert np.max(np.abs(np.asarray(got[1]) - 2 * wanted)) <= 2 * tolerance, name


def test_accelerator_svd_branch_is_an_exact_thin_svd_for_wide_tall_square_and_rank_deficient():
    """_svd_after_qr (the SVD lowered on accelerators: QR to min(m, n) x min(m, n), then the
    small SVD): singular values as LAPACK's to rounding, orthonormal U and V, U S V^T = A, the
    shapes of a thin SVD; also on a rank-deficient K x d centred-mean matrix (rank K - 1)."""
    rng = np.random.default_rng(6)
    means = rng.normal(size=(10, 64))
    cases = {
        "wide": rng.normal(size=(10, 64)),
        "tall": rng.normal(size=(64, 10)),
        "square": rng.normal(size=(12, 12)),
        "rank K - 1": means - means.mean(axis=0),
    }
    with jax.enable_x64(True):
        for name, a in cases.items():
            k = min(a.shape)
            want = np.linalg.svd(a, compute_uv=False)
            tolerance = 20 * np.finfo(np.float64).eps * want[0] * max(a.shape)
            u, s, vt = jax.jit(lambda m: linalg._svd_after_qr(m, compute_uv=True))(a)
            assert u.shape == (a.shape[0], k) and s.shape == (k,) and vt.shape == (k, a.shape[1])
            np.testing.assert_allclose(s, want, rtol=0, atol=tolerance, err_msg=name)
            np.testing.assert_allclose(u * s @ vt, a, rtol=0, atol=tolerance, err_msg=name)
            np.testing.assert_allclose(u.T @ u, np.eye(k), rtol=0, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(vt @ vt.T, np.eye(k), rtol=0, atol=1e-12, err_msg=name)
            values = jax.jit(lambda m: linalg._svd_after_qr(m, compute_uv=False))(a)
            np.testing.assert_allclose(values, want, rtol=0, atol=tolerance, err_msg=name)


def test_decompositions_are_lowered_per_platform():
    """On the CPU the vmapped decompositions loop over the batch (a while loop in the lowered
    program, the deadlock guard) and the eigenvalues come from sytrd + bisection; the CPU
    lowering holds neither the batched eigensolver nor the QR-first SVD of the other branch."""
    batch = jnp.ones((4, 10, 10)) + jnp.eye(10)

    def cpu_lowering(fn, *args) -> str:  # for the CPU also where JAX runs on an accelerator
        return jax.jit(fn).trace(*args).lower(lowering_platforms=("cpu",)).as_text()

    text = cpu_lowering(jax.vmap(linalg.eigvalsh), batch)
    assert "while" in text and "sytrd" in text and "syevd" not in text
    svd_text = cpu_lowering(jax.vmap(linalg.svdvals), batch[:, :3, :])
    assert "while" in svd_text and "geqrf" not in svd_text


def test_extreme_eigenvalues_batched_and_their_derivatives_are_eigenvector_forms():
    """vmap over indefinite matrices equals LAPACK's smallest and largest eigenvalue; the
    derivative of each is v^T dA v of its eigenvector (finite differences)."""
    rng = np.random.default_rng(7)
    with jax.enable_x64(True):
        h = jnp.asarray(rng.normal(size=(4, 7, 7)))
        sym = h + jnp.swapaxes(h, 1, 2)
        got = jax.jit(jax.vmap(linalg.extreme_eigenvalues))(sym)
        np.testing.assert_allclose(got, np.linalg.eigvalsh(np.asarray(sym))[:, [0, -1]], rtol=1e-13)

        def f(m):
            ends = linalg.extreme_eigenvalues(m + m.T)
            return ends[0] + 3 * ends[1]

        _assert_gradient_matches_finite_differences(f, h, [(0, 0), (2, 5), (6, 1)])


def test_eager_calls_trace_the_platform_branches_once_per_shape(monkeypatch):
    """An eager lax.platform_dependent traces (and compiles) its branches at every call; the
    theorem checks call these functions eagerly in float64, one network after another, so each
    platform choice sits inside a jitted function. Counted through the accelerator branches,
    which are traced (not lowered) on the CPU too."""
    traces = {"svd": 0, "eig": 0}
    svd_after_qr, by_eigensolver = linalg._svd_after_qr, linalg._eigenvalues_by_eigensolver

    def counted_svd(a, compute_uv):
        traces["svd"] += 1
        return svd_after_qr(a, compute_uv)

    def counted_eig(a, indices):
        traces["eig"] += 1
        return by_eigensolver(a, indices)

    monkeypatch.setattr(linalg, "_svd_after_qr", counted_svd)
    monkeypatch.setattr(linalg, "_eigenvalues_by_eigensolver", counted_eig)
    rng = np.random.default_rng(8)
    for _ in range(3):  # shapes no other test uses, so that nothing is cached yet
        a = jnp.asarray(rng.normal(size=(7, 13)), jnp.float32)
        linalg.svdvals(a).block_until_ready()
        linalg.eigvalsh(a @ a.T).block_until_ready()
    assert traces["svd"] == 1 and traces["eig"] <= 1  # 3 and 0 before the jit (jax 0.10.2)
