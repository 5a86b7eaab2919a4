"""The global minimisers of the cross-entropy UFM of Zhu et al. (NeurIPS 2021) in closed form
(docs/theory/zhu2021.md, [DN]).

Objective (D1, regularisers not divided by N; engine: ``UFM``, cross entropy with
``reduction="mean"``, coupled "l2" decay):

    f(W, H, b) = (1/N) sum_{k,i} CE(W h_{k,i} + b, y_k)
                 + lambda_W/2 ||W||_F^2 + lambda_H/2 ||H||_F^2 + lambda_b/2 ||b||^2

with K classes of n samples each (N = K n), W (K, d), features H (N, d) as rows. For d >= K - 1
and balanced classes every global minimiser has

- W W^T = rho* K/(K-1) (I - J/K): a simplex ETF, every row norm squared rho*;
- h_{k,i} = alpha w_k, alpha = sqrt(lambda_W / (lambda_H n)) (NC1 and self-duality);
- b = 0 when lambda_b > 0;
- on this family f(rho) = log(1 + (K-1) exp(-beta rho)) + lambda_W K rho, beta = alpha K/(K-1),
  convex in rho, minimised at rho* = (1/beta) log((K-1)(beta - lambda_W K)/(lambda_W K)) when
  the threshold K sqrt(n lambda_W lambda_H) < 1, else at rho* = 0 (W = H = 0, f* = log K).

rho* itself is ``nc_jax.models.ufm.zhu_ufm_optimum`` (reused, not rewritten); this module adds
the threshold, alpha, the ETF Gram matrix, the optimal value f* and a minimiser to test with.
"""

from __future__ import annotations

import math

import numpy as np

from nc_jax.models.ufm import zhu_ufm_optimum


def threshold(num_classes: int, n_per_class: int, lambda_w: float, lambda_h: float) -> float:
    """K sqrt(n lambda_W lambda_H): the global minimiser is non-zero iff this is < 1 (D1)."""
    return num_classes * math.sqrt(n_per_class * lambda_w * lambda_h)


def alpha(n_per_class: int, lambda_w: float, lambda_h: float) -> float:
    """alpha = sqrt(lambda_W / (lambda_H n)): h_{k,i} = alpha w_k at every global minimiser
    (D1; the square root of n, not n, is what balances lambda_H ||H||^2 over n samples a class
    against lambda_W ||W||^2)."""
    return math.sqrt(lambda_w / (lambda_h * n_per_class))


def etf_gram(num_classes: int, rho: float) -> np.ndarray:
    """W* W*^T = rho K/(K-1) (I_K - J/K), (K, K) float64 (D1): diagonal rho, off-diagonal
    -rho/(K-1)."""
    k = num_classes
    return rho * k / (k - 1) * (np.eye(k) - np.ones((k, k)) / k)


def etf_objective(
    rho: float, num_classes: int, n_per_class: int, lambda_w: float, lambda_h: float
) -> float:
    """f on the simplex-ETF family at squared row norm rho (D1):
    log(1 + (K-1) exp(-beta rho)) + lambda_W K rho, beta = alpha K/(K-1); f(0) = log K."""
    k = num_classes
    beta = alpha(n_per_class, lambda_w, lambda_h) * k / (k - 1)
    return math.log1p((k - 1) * math.exp(-beta * rho)) + lambda_w * k * rho


def optimal_objective(
    num_classes: int, n_per_class: int, lambda_w: float, lambda_h: float
) -> float:
    """f*, the global minimum of the objective (the lambda_b term vanishes at b* = 0): the ETF
    family at rho* = zhu_ufm_optimum(...), which is log K in the regime threshold >= 1."""
    rho = zhu_ufm_optimum(num_classes, n_per_class, lambda_w, lambda_h)
    return etf_objective(rho, num_classes, n_per_class, lambda_w, lambda_h)


def simplex_rows(num_classes: int, dim: int, rotation: np.ndarray | None = None) -> np.ndarray:
    """K rows (K, d) of unit norm forming a simplex ETF: sqrt(K/(K-1)) (I - J/K) embedded in
    R^d (d >= K - 1) by the orthonormal rows of ``rotation`` (d, d) or the canonical basis.

    With d = K - 1 the ETF is expressed in an orthonormal basis of the centred subspace (the
    K x K centring has rank K - 1)."""
    k = num_classes
    if dim < k - 1:
        raise ValueError(f"a simplex ETF of K = {k} rows needs d >= K - 1 = {k - 1}, got {dim}")
    centred = np.sqrt(k / (k - 1)) * (np.eye(k) - np.ones((k, k)) / k)
    # coordinates in an orthonormal basis of the centred subspace (its top K - 1 directions)
    u, s, _ = np.linalg.svd(centred)
    coordinates = u[:, : k - 1] * s[: k - 1]  # (K, K-1), Gram = centred @ centred.T
    rows = np.zeros((k, dim))
    rows[:, : k - 1] = coordinates
    return rows if rotation is None else rows @ rotation


def minimiser(
    num_classes: int,
    n_per_class: int,
    dim: int,
    lambda_w: float,
    lambda_h: float,
    rotation: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A global minimiser (W (K, d), H (N, d), b (K,)) in float64, labels class-major
    (y = repeat(arange(K), n)): W = sqrt(rho*) simplex rows, h_{k,i} = alpha w_k, b = 0."""
    rho = zhu_ufm_optimum(num_classes, n_per_class, lambda_w, lambda_h)
    w = math.sqrt(rho) * simplex_rows(num_classes, dim, rotation)
    h = alpha(n_per_class, lambda_w, lambda_h) * np.repeat(w, n_per_class, axis=0)
    return w, h, np.zeros(num_classes)
