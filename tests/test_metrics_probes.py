"""nc_jax.metrics.probes against scikit-learn (logistic regression with the same C) and float64
NumPy references (the class means LDA reads, pooled covariance, LDA scores, the LDA
counterfactuals), with closed-form fixtures."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from nc_jax.metrics.probes import (
    fit_logistic,
    lda_accuracy,
    lda_counterfactuals,
    lda_scores,
    pooled_covariance,
    probe_accuracy,
)
from nc_jax.metrics.stats import class_stats

FIT = jax.jit(fit_logistic, static_argnames=("num_classes", "max_iter"))


def _blobs(seed, n=60, k=3, p=4, spread=1.5):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, p)) * spread
    y = np.repeat(np.arange(k), n)
    return centres[y] + rng.normal(size=(k * n, p)), y


def test_logistic_probe_is_sklearns_multinomial_l2_logistic_regression_with_the_same_c():
    z, y = _blobs(0)
    for c in (0.1, 10.0):
        probe = FIT(jnp.asarray(z), jnp.asarray(y), num_classes=3, c=c, tol=1e-10)
        reference = LogisticRegression(C=c, tol=1e-12, max_iter=10000).fit(z, y)
        np.testing.assert_allclose(probe.weights, reference.coef_, atol=1e-5)
        shift = lambda b: b - b.mean()  # noqa: E731  (the softmax's invariance)
        np.testing.assert_allclose(shift(probe.intercepts), shift(reference.intercept_), atol=1e-5)
        assert float(probe.grad_norm) < 1e-10
        expected = reference.score(z, y)
        assert float(probe_accuracy(probe, jnp.asarray(z), jnp.asarray(y))) == pytest.approx(
            expected
        )


def test_logistic_probe_batched_over_runs_equals_each_run_alone():
    (z0, y0), (z1, _) = _blobs(1), _blobs(2)
    batched = jax.vmap(lambda z: fit_logistic(z, jnp.asarray(y0), 3, 10.0, 1e-9))(
        jnp.asarray(np.stack([z0, z1]))
    )
    for r, z in enumerate((z0, z1)):
        alone = FIT(jnp.asarray(z), jnp.asarray(y0), num_classes=3, c=10.0, tol=1e-9)
        np.testing.assert_allclose(batched.weights[r], alone.weights, atol=1e-6)


def test_class_means_and_pooled_covariance_against_numpy():
    z, y = _blobs(3, n=7)
    means = np.stack([z[y == c].mean(0) for c in range(3)])
    np.testing.assert_allclose(class_stats(z, y, 3).means, means, atol=1e-12)  # what LDA reads
    centred = z - means[y]
    np.testing.assert_allclose(
        pooled_covariance(jnp.asarray(z), jnp.asarray(y), 3),
        centred.T @ centred / (len(y) - 3),
        atol=1e-12,
    )


def test_lda_scores_against_numpy_and_the_nearest_mean_rule_under_identity_covariance():
    z, y = _blobs(4)
    means = np.stack([z[y == c].mean(0) for c in range(3)])
    cov = np.cov((z - means[y]).T)
    priors = np.log(np.array([0.2, 0.3, 0.5]))
    sigma = cov + 1e-6 * np.eye(4)
    w = np.linalg.solve(sigma, means.T).T
    expected = z @ w.T - 0.5 * np.sum(w * means, 1) + priors
    np.testing.assert_allclose(lda_scores(means, cov, priors, z), expected, atol=1e-9)
    # identity covariance, equal priors: the nearest class mean wins
    nearest = np.argmin(((z[:, None] - means[None]) ** 2).sum(-1), axis=1)
    flat = np.zeros(3)
    np.testing.assert_array_equal(np.argmax(lda_scores(means, np.eye(4), flat, z), 1), nearest)
    assert float(lda_accuracy(means, np.eye(4), flat, z, y)) == pytest.approx(np.mean(nearest == y))


def test_lda_counterfactuals_against_numpy_and_a_buffer_that_is_the_test_set():
    rng = np.random.default_rng(5)
    train = rng.normal(size=(3, 8, 4)) + 3 * rng.normal(size=(3, 1, 4))
    buffer = np.tile(np.arange(8), (3, 1))
    test, labels = train.reshape(-1, 4), np.repeat(np.arange(3), 8)
    out = lda_counterfactuals(train, buffer, test, labels)
    assert out["lda_buffer"] == pytest.approx(out["lda_test"])  # same samples: same LDA
    assert out["lda_buffer_identity"] == pytest.approx(out["lda_test_identity"])
    kept = lda_counterfactuals(train, buffer[:, :3], test, labels)
    means = train[:, :3].mean(1)
    centred = (train[:, :3] - means[:, None]).reshape(-1, 4)
    sigma = centred.T @ centred / (9 - 3) + 1e-6 * np.eye(4)
    w = np.linalg.solve(sigma, means.T).T
    scores = test @ w.T - 0.5 * np.sum(w * means, 1)  # equal priors
    assert kept["lda_buffer"] == pytest.approx(np.mean(np.argmax(scores, 1) == labels))
    nearest = np.argmin(((test[:, None] - means[None]) ** 2).sum(-1), axis=1)  # identity
    assert kept["lda_buffer_identity"] == pytest.approx(np.mean(nearest == labels))
