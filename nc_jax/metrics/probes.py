"""Linear probes on frozen features: multinomial logistic regression and linear discriminant
analysis (LDA), in JAX.

Logistic regression (``fit_logistic``): weights W (K, p) and intercepts b (K,) minimising

    sum_i CE(softmax(W z_i + b), y_i) + 1/(2 C) ||W||_F^2,

scikit-learn's ``LogisticRegression(C=C)`` (multinomial, L2 penalty, unpenalised intercept),
whose objective is C times this one: the same minimiser. Divided by N it is the mean cross
entropy plus lambda/2 ||W||^2 with lambda = 1 / (C N). Solved by L-BFGS (optax.lbfgs, zoom line
search) until the gradient norm of the mean-form objective is below ``tol`` or ``max_iter``
iterations; the softmax is invariant under a common shift of the intercepts, so b is fixed up
to that shift (predictions and probabilities are not). ``jax.vmap`` batches it over runs
(features (R, N, p)); every run iterates until the last one stops.

LDA (``lda_scores``): w_c = Sigma^{-1} mu_c, b_c = -mu_c^T Sigma^{-1} mu_c / 2 + log prior_c,
with Sigma + jitter I (jitter 1e-6), from means and a covariance given by the caller, so that
they may come from different sources (a replay buffer's means with the test set's covariance:
Lanzillotta, Meier and Hofmann's counterfactuals, docs/theory/lanzillotta2025.md; the class
means are ``nc_jax.metrics.stats.class_stats``). ``pooled_covariance`` is the within-class
covariance pooled over classes (divisor N - K). ``lda_counterfactuals`` scores that code's four
LDA classifiers, each pairing one source of means (a buffer's, the test set's) with one
covariance (the buffer's, the test set's, the identity).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from nc_jax.metrics.stats import class_stats

LDA_JITTER = 1e-6
LDA_COUNTERFACTUALS: dict[str, tuple[str, str]] = {  # name: (source of means, of covariance)
    "lda_buffer": ("buffer", "buffer"),
    "lda_test_identity": ("test", "identity"),
    "lda_test": ("test", "test"),
    "lda_buffer_identity": ("buffer", "identity"),
}


class LogisticProbe(NamedTuple):
    """A fitted probe: weights (K, p), intercepts (K,), iterations used, final gradient norm."""

    weights: jax.Array
    intercepts: jax.Array
    iterations: jax.Array
    grad_norm: jax.Array


def logistic_objective(
    params: tuple[jax.Array, jax.Array], z: jax.Array, targets: jax.Array, inverse_c: float
) -> jax.Array:
    """(1/N) [sum_i CE_i + 1/(2C) ||W||_F^2] for params (W (K, p), b (K,)), features z (N, p),
    one-hot targets (N, K) and inverse_c = 1/C."""
    weights, intercepts = params
    logits = z @ weights.T + intercepts
    ce = jnp.sum(optax.softmax_cross_entropy(logits, targets))
    return (ce + 0.5 * inverse_c * jnp.sum(weights**2)) / z.shape[0]


def fit_logistic(
    z: jax.Array,
    y: jax.Array,
    num_classes: int,
    c: float = 1.0,
    tol: float = 1e-6,
    max_iter: int = 1000,
) -> LogisticProbe:
    """Multinomial logistic regression with scikit-learn's L2 penalty ``C`` (module docstring)
    on features z (N, p) and labels y (N,) in [0, num_classes), from zero weights."""
    targets = jax.nn.one_hot(y, num_classes, dtype=z.dtype)
    inverse_c = 1.0 / c

    def objective(params):
        return logistic_objective(params, z, targets, inverse_c)

    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def step(carry):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(
            grad, state, params, value=value, grad=grad, value_fn=objective
        )
        return optax.apply_updates(params, updates), state

    def going_on(carry):
        _, state = carry
        count = otu.tree_get(state, "count")
        grad_norm = otu.tree_norm(otu.tree_get(state, "grad"))
        return (count == 0) | ((count < max_iter) & (grad_norm >= tol))

    start = (jnp.zeros((num_classes, z.shape[1]), z.dtype), jnp.zeros((num_classes,), z.dtype))
    params, state = jax.lax.while_loop(going_on, step, (start, solver.init(start)))
    grad_norm = otu.tree_norm(jax.grad(objective)(params))
    return LogisticProbe(params[0], params[1], otu.tree_get(state, "count"), grad_norm)


def probe_predict(probe: LogisticProbe, z: jax.Array) -> jax.Array:
    """Predicted classes (N,) of features z (N, p)."""
    return jnp.argmax(z @ probe.weights.T + probe.intercepts, axis=1)


def probe_accuracy(probe: LogisticProbe, z: jax.Array, y: jax.Array) -> jax.Array:
    """Fraction of samples z (N, p) whose predicted class is y (N,)."""
    return jnp.mean((probe_predict(probe, z) == y).astype(z.dtype))


def pooled_covariance(z: jax.Array, y: jax.Array, num_classes: int) -> jax.Array:
    """Within-class covariance pooled over classes (p, p): sum_i (z_i - mu_{y_i})(...)^T /
    (N - K), every class present."""
    centred = class_stats(z, y, num_classes).residual
    return centred.T @ centred / (z.shape[0] - num_classes)


def lda_scores(
    means: jax.Array, covariance: jax.Array, log_priors: jax.Array, z: jax.Array
) -> jax.Array:
    """LDA scores (N, K) of features z (N, p): z^T Sigma^{-1} mu_c - mu_c^T Sigma^{-1} mu_c / 2
    + log prior_c, with class means (K, p), covariance Sigma (p, p) (+ LDA_JITTER I) and log
    priors (K,). One run (not for vmap: a batched solve on a few-core CPU, metrics.linalg)."""
    sigma = covariance + LDA_JITTER * jnp.eye(covariance.shape[0], dtype=covariance.dtype)
    directions = jnp.linalg.solve(sigma, means.T).T  # w_c = Sigma^{-1} mu_c, (K, p)
    offsets = -0.5 * jnp.sum(directions * means, axis=1) + log_priors
    return z @ directions.T + offsets


def lda_accuracy(
    means: jax.Array, covariance: jax.Array, log_priors: jax.Array, z: jax.Array, y: jax.Array
) -> jax.Array:
    """Fraction of samples z (N, p) whose highest LDA score (``lda_scores``) is their class y."""
    predicted = jnp.argmax(lda_scores(means, covariance, log_priors, z), axis=1)
    return jnp.mean((predicted == y).astype(z.dtype))


def lda_counterfactuals(
    train: np.ndarray, buffer: np.ndarray, test: np.ndarray, test_labels: np.ndarray
) -> dict[str, float]:
    """Test accuracies of the four LDA classifiers of ``LDA_COUNTERFACTUALS`` on one run's
    features: (1) buffer means + pooled buffer covariance, (2) test means + identity, (3) test
    means + pooled test covariance, (4) buffer means + identity; priors the test class
    frequencies (Lanzillotta, Meier and Hofmann's code, ICLR 2026).

    Args:
        train: training features by class (C, n, p).
        buffer: the buffer's sample indices per class (C, b), b >= 2.
        test: test features (M, p) with labels test_labels (M,) in [0, C), every class present.
    """
    classes = train.shape[0]
    kept = np.take_along_axis(train, buffer[:, :, None], axis=1)  # (C, b, p)
    flat, labels = kept.reshape(-1, train.shape[2]), np.repeat(np.arange(classes), buffer.shape[1])
    means = {"buffer": np.asarray(class_stats(flat, labels, classes).means)}
    means["test"] = np.asarray(class_stats(test, test_labels, classes).means)
    covariances = {
        "buffer": np.asarray(pooled_covariance(flat, labels, classes)),
        "test": np.asarray(pooled_covariance(test, test_labels, classes)),
        "identity": np.eye(train.shape[2]),
    }
    log_priors = np.log(np.bincount(test_labels, minlength=classes) / len(test_labels))
    return {
        name: float(lda_accuracy(means[m], covariances[c], log_priors, test, test_labels))
        for name, (m, c) in LDA_COUNTERFACTUALS.items()
    }
