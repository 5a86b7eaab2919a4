"""Geometric complexity of an embedding, its unbiased estimators, class-distance normalised
quantities (CDNV, geometric collapse) and the nearest-class-mean (NCC) few-shot classifier.

Munn, Dherin and Gonzalvo (NeurIPS 2024) relate the geometric complexity (GC) of a network's
embedding f: R^D -> R^p (its penultimate features) to neural collapse, measured by the CDNV
(docs/theory/munn2024.md):

- GC(f, B) = (1/|B|) sum_{x in B} ||J_f(x)||_F^2, J_f(x) = df/dx in R^{p x D} (the discrete
  Dirichlet energy of f on B); per class, GC_c = GC(f, class c's samples);
- CDNV, symmetric form (Galanti et al. 2022): V_ij = (Var_i + Var_j) / (2 ||mu_i - mu_j||^2),
  Var_c = (1/n_c) sum_{x in c} ||f(x) - mu_c||^2, averaged over pairs: ``nc1_cdnv`` of
  nc_jax.metrics (not repeated here);
- geometric collapse GCol_ij = (GC_i + GC_j) / (2 ||mu_i - mu_j||^2), the same pair form with
  GC_c in place of Var_c, averaged over the ordered pairs i != j (equal to the average over
  i < j, since GCol_ij = GCol_ji).

An embedding here is a function of ONE input, x (D,) -> f(x) (p,); ``embedding_of`` makes one
from an nc_jax model and its parameters. Every function is jit-able; the estimators take a PRNG
key and vmap over keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics.stats import class_means_of, pairwise_sq_distances

Embedding = Callable[[jax.Array], jax.Array]


def embedding_of(model: Any, params: Any, layer: int = -2) -> Embedding:
    """x (D,) -> the features (p,) of ``layer`` (an index into ``Layers.features``; -2: the
    penultimate layer, the input of a one-layer linear head) of ``model`` at ``params``."""

    def embed(x: jax.Array) -> jax.Array:
        return model.apply(params, x[None])[1].features[layer][0]

    return embed


def jacobians(embed: Embedding, x: jax.Array) -> jax.Array:
    """J_f(x_n) for every row of x (N, D): (N, p, D). Forward mode when D <= p (D JVPs per
    sample), reverse mode otherwise (p VJPs)."""
    width = jax.eval_shape(embed, x[0]).shape[0]
    jacobian = jax.jacfwd(embed) if x.shape[1] <= width else jax.jacrev(embed)
    return jax.vmap(jacobian)(x)


def jacobian_sq_norms(embed: Embedding, x: jax.Array, chunk: int = 256) -> jax.Array:
    """||J_f(x_n)||_F^2 for every row of x (N, D): (N,). The Jacobians of ``chunk`` rows at a
    time are held (chunk x p x D values), not all N."""
    return jax.lax.map(
        lambda rows: jnp.sum(jacobians(embed, rows[None])[0] ** 2), x, batch_size=chunk
    )


def layer_jacobian_sq_norms(model: Any, params: Any, x: jax.Array, chunk: int = 256) -> jax.Array:
    """||J_l(x_n)||_F^2 for the features f_l of every layer l (``Layers.features``, input to
    output) of ``model`` at ``params`` and every row of x (N, D): (N, L). One Jacobian of all
    layers at once per sample: forward mode when D <= the layers' total width, else reverse
    mode; ``chunk`` rows at a time."""

    def features(v: jax.Array) -> tuple[jax.Array, ...]:
        return tuple(f[0] for f in model.apply(params, v[None])[1].features)

    width = sum(f.shape[0] for f in jax.eval_shape(features, x[0]))
    jacobian = jax.jacfwd(features) if x.shape[1] <= width else jax.jacrev(features)

    def norms(v: jax.Array) -> jax.Array:
        return jnp.stack([jnp.sum(j**2) for j in jacobian(v)])

    return jax.lax.map(norms, x, batch_size=chunk)


def geometric_complexity(embed: Embedding, x: jax.Array) -> jax.Array:
    """GC(f, x) = (1/N) sum_n ||J_f(x_n)||_F^2 over the rows of x (N, D), exactly."""
    return jnp.mean(jacobian_sq_norms(embed, x))


def class_geometric_complexity(
    embed: Embedding, x: jax.Array, y: jax.Array, num_classes: int
) -> jax.Array:
    """GC_c = GC(f, class c's rows of x) for every class: (K,). Every class must occur."""
    return class_means_of(jacobian_sq_norms(embed, x), y, num_classes)


def _batch(x: jax.Array, key: jax.Array, batch_size: int) -> jax.Array:
    """``batch_size`` rows of x drawn uniformly without replacement."""
    return x[jax.random.choice(key, x.shape[0], (batch_size,), replace=False)]


def gc_batch_estimate(embed: Embedding, x: jax.Array, key: jax.Array, batch_size: int):
    """The mini-batch estimator: GC(f, B) on a uniform batch B of ``batch_size`` rows of x
    drawn without replacement. Unbiased for GC(f, x)."""
    return geometric_complexity(embed, _batch(x, key, batch_size))


def gc_mask_estimate(
    embed: Embedding, x: jax.Array, key: jax.Array, batch_size: int, keep: float
) -> jax.Array:
    """The masked estimator: on a uniform batch B, (1 / (q |B|)) sum_{x in B} sum_{k,d}
    m_kd(x) J_f(x)_kd^2 with independent Bernoulli(q = ``keep``) masks m. Unbiased for
    GC(f, x). It reads the batch's full Jacobians (the mask thins the sum, not the work)."""
    batch_key, mask_key = jax.random.split(key)
    squares = jacobians(embed, _batch(x, batch_key, batch_size)) ** 2
    mask = jax.random.bernoulli(mask_key, keep, squares.shape)
    return jnp.sum(jnp.where(mask, squares, 0.0)) / (keep * batch_size)


def gc_output_estimate(
    embed: Embedding, x: jax.Array, key: jax.Array, batch_size: int
) -> jax.Array:
    """The random-output estimator: on a uniform batch B, (p / |B|) sum_{x in B}
    ||e_k(x)^T J_f(x)||^2, k(x) uniform in the p outputs, one VJP per sample. Unbiased for
    GC(f, x)."""
    batch_key, output_key = jax.random.split(key)
    rows = _batch(x, batch_key, batch_size)
    width = jax.eval_shape(embed, x[0]).shape[0]
    outputs = jax.random.randint(output_key, (batch_size,), 0, width)

    def row_sq_norm(point: jax.Array, k: jax.Array) -> jax.Array:
        _, pullback = jax.vjp(embed, point)
        (row,) = pullback(jax.nn.one_hot(k, width, dtype=point.dtype))
        return jnp.sum(row**2)

    return width * jnp.mean(jax.vmap(row_sq_norm)(rows, outputs))


def class_distance_normalised(values: jax.Array, means: jax.Array) -> jax.Array:
    """(a_i + a_j) / (2 ||mu_i - mu_j||^2) for every pair of classes, 0 on the diagonal:
    (K, K). With a = Var it is the CDNV V_ij (whose average is ``nc1_cdnv``), with a = GC the
    geometric collapse GCol_ij.

    Args:
        values: (K,) per-class values a_c.
        means: (K, p) class means mu_c (distinct).
    """
    distances = pairwise_sq_distances(means)
    off = ~jnp.eye(means.shape[0], dtype=bool)
    ratios = (values[:, None] + values[None, :]) / (2.0 * jnp.where(off, distances, 1.0))
    return jnp.where(off, ratios, 0.0)


def pair_average(matrix: jax.Array) -> jax.Array:
    """The average of a (K, K) matrix over the ordered pairs i != j."""
    count = matrix.shape[0]
    off = ~jnp.eye(count, dtype=bool)
    return jnp.sum(jnp.where(off, matrix, 0.0)) / (count * (count - 1))


def geometric_collapse(gcs: jax.Array, means: jax.Array) -> jax.Array:
    """Avg_{i != j} GCol_ij from the per-class GC (K,) and the class means (K, p)."""
    return pair_average(class_distance_normalised(gcs, means))


def ncc_predict(z: jax.Array, means: jax.Array) -> jax.Array:
    """The nearest-class-mean prediction argmin_c ||z_n - mu_c|| of every row of z (N, p): (N,)."""
    return jnp.argmin(jnp.sum((z[:, None, :] - means[None, :, :]) ** 2, axis=-1), axis=1)


def few_shot_accuracies(
    z: jax.Array, y: np.ndarray, num_classes: int, key: jax.Array, shots: int, episodes: int
) -> jax.Array:
    """Class-balanced accuracy of the n-shot NCC in each of ``episodes`` episodes: (episodes,).

    In an episode every class draws ``shots`` support samples uniformly without replacement;
    the NCC of the support means classifies every other sample (the queries); the accuracy is
    the average over classes of the fraction of that class's queries classified correctly. The
    episodes are one vmapped program.

    Args:
        z: (N, p) features.
        y: (N,) labels in [0, K), concrete (the class sizes fix the shapes); every class needs
            more than ``shots`` samples.
        num_classes: K >= 2.
        key: PRNG key of the episodes.
        shots: n >= 1 support samples per class.
        episodes: the number of episodes.
    """
    counts = np.bincount(np.asarray(y), minlength=num_classes)
    if counts.min() <= shots:
        raise ValueError(f"every class needs more than shots = {shots} samples, got {counts}")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    positions = jnp.asarray(starts[:, None] + np.arange(shots)[None, :])  # (K, shots)
    labels = jnp.asarray(y)
    queries = jnp.asarray(counts - shots, z.dtype)

    def episode(episode_key: jax.Array) -> jax.Array:
        order = jnp.argsort(labels * 2.0 + jax.random.uniform(episode_key, labels.shape))
        support = order[positions]  # class-major, random within a class
        means = jnp.mean(z[support], axis=1)
        is_query = jnp.ones(labels.shape, bool).at[support.ravel()].set(False)
        correct = (ncc_predict(z, means) == labels) & is_query
        hits = jax.ops.segment_sum(correct.astype(z.dtype), labels, num_segments=num_classes)
        return jnp.mean(hits / queries)

    return jax.vmap(episode)(jax.random.split(key, episodes))
