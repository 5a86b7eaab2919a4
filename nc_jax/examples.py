"""A network fitted in closed form, for demonstrating the metrics without a training run.

``random_feature_network`` builds an MLP whose non-linear layers are random (He-initialised ReLU
layers, never trained) and whose deep linear head is fitted exactly: ridge regression of the
one-hot targets on the last random features gives the head product A (K x n), which is then
factorised into ``head_depth`` exactly balanced layers through its SVD,
A = U S V^T = (U S^{1/L2}) (S^{1/L2}) ... (S^{1/L2} V^T). A balanced factorisation of the
optimal product is what weight decay drives a deep linear head to (docs/theory/jacot2025.md,
Section 5), so the head's balancedness is zero to rounding and its NC metrics are those of a
ridge fit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nc_jax.data import Dataset


class ClosedFormNetwork(NamedTuple):
    """Weights W_l (n_l, n_{l-1}), features Z_l (N, n_l), pre-activations (None if linear)."""

    weights: list[np.ndarray]
    features: list[np.ndarray]
    preactivations: list[np.ndarray | None]


def random_relu_layers(
    x: np.ndarray, widths: tuple[int, ...], rng: np.random.Generator
) -> ClosedFormNetwork:
    """He-initialised random ReLU layers applied to x (N, D)."""
    weights, features, preacts = [], [], []
    z = x
    for width in widths:
        w = rng.normal(size=(width, z.shape[1])) * np.sqrt(2.0 / z.shape[1])
        h = z @ w.T
        z = np.maximum(h, 0.0)
        weights.append(w)
        features.append(z)
        preacts.append(h)
    return ClosedFormNetwork(weights, features, preacts)


def balanced_factors(product: np.ndarray, depth: int) -> list[np.ndarray]:
    """Factor A (K, n) into ``depth`` exactly balanced layers [W_1, ..., W_depth] with
    W_depth ... W_1 = A and W_{l+1}^T W_{l+1} = W_l W_l^T; inner widths are K."""
    if depth == 1:
        return [product]
    u, s, vt = np.linalg.svd(product, full_matrices=False)
    root = np.diag(s ** (1.0 / depth))
    return [root @ vt] + [root] * (depth - 2) + [u @ root]


def random_feature_network(
    dataset: Dataset,
    widths: tuple[int, ...] = (256, 128),
    head_depth: int = 3,
    ridge: float = 1e-2,
    seed: int = 0,
) -> ClosedFormNetwork:
    """Random ReLU layers of the given widths plus a ridge-fitted balanced linear head.

    Args:
        dataset: inputs x (N, D) and labels.
        widths: widths of the random ReLU layers.
        head_depth: number of linear head layers L2 >= 1.
        ridge: ridge penalty of the least-squares head fit (relative to N).
        seed: seed of the random layers.
    """
    if head_depth < 1:
        raise ValueError(f"head_depth must be >= 1 linear layers, got {head_depth}")
    if ridge <= 0:
        raise ValueError(f"ridge must be > 0 (it regularises the head fit), got {ridge}")
    rng = np.random.default_rng(seed)
    body = random_relu_layers(dataset.x.astype(np.float64), widths, rng)
    last = body.features[-1]
    targets = dataset.one_hot(np.float64)
    gram = last.T @ last + ridge * last.shape[0] * np.eye(last.shape[1])
    product = np.linalg.solve(gram, last.T @ targets).T  # (K, n)
    weights, features, preacts = list(body.weights), list(body.features), list(body.preactivations)
    z = last
    for w in balanced_factors(product, head_depth):
        z = z @ w.T
        weights.append(w)
        features.append(z)
        preacts.append(None)
    return ClosedFormNetwork(weights, features, preacts)
