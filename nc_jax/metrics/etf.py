"""The nearest simplex ETF (orthogonal Procrustes) and class-mean centring under class imbalance.

Theory notes: docs/theory/ufm_extras.md (Markou, Ajanthan, Gould, NeurIPS 2024: "Guiding
Neural Collapse"), docs/theory/ufm_extras.md ("Nearest simplex ETF", "Centring conventions").

Orientation. The notes write the centred class means as H_hat (d, K), one class per column, and
a Stiefel frame P in St(d, K) (d x K, P^T P = I_K); the simplex ETFs of R^d are the matrices
P M / sqrt(K - 1) with M = I_K - J/K. nc_jax stores class means as rows (K, d), so ``rows``
below is H_hat^T, and the ETF a function returns is (P M / sqrt(K - 1))^T = M P^T / sqrt(K - 1),
(K, d). Frames are returned as the notes' P (d, K).

The problem (E2):

    min_{P in St(d, K)} ||H_hat - P M / sqrt(K-1)||_F^2 + (delta/2) ||P - P_prox||_F^2.

On St(d, K), ||P M||_F^2 = tr(M) = K - 1 and ||P||_F^2 = K, so the objective is a constant minus
<P, C> with C = (2 / sqrt(K-1)) H_hat M + delta P_prox, maximised by the polar factor P* = U V^T
of C (thin SVD C = U S V^T): orthogonal Procrustes. The optimal value is

    ||H_hat||_F^2 + 1 + (delta/2) (K + ||P_prox||_F^2) - ||C||_*

which for delta = 0 is the notes' ||H_hat||_F^2 + 1 - (2 / sqrt(K-1)) ||H_hat M||_*. P* is not
unique along the 1_K direction (H_hat M 1 = 0) but the nearest ETF P* M is, when
rank(H_hat M) = K - 1 and delta = 0.

Centring (the imbalance question). stats.py's ``global_mean`` is the mean over *samples*
(mu_G = (1/N) sum_i z_i = sum_c (n_c / N) mu_c): under class imbalance it is pulled towards the
majority classes and the centred means no longer sum to zero. ``centre="classes"`` is the mean
of the class means (1/K) sum_c mu_c. Right-multiplying by M re-centres by the mean of the class
means whatever was subtracted, so the Procrustes term ||H_hat M||_* does not depend on the
convention; the normalisation ||H_hat||_F (and hence the distance) does.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp

from nc_jax.metrics import linalg
from nc_jax.metrics.stats import HIGHEST, ClassStats
from nc_jax.validation import check_matrix

Centre = Literal["samples", "classes"]
CENTRES: tuple[str, ...] = ("samples", "classes")


class NearestETF(NamedTuple):
    """The nearest simplex ETF of K class means (docs/theory/ufm_extras.md).

    Attributes:
        frame: P* (d, K), a Stiefel frame (P^T P = I_K), the notes' orientation.
        etf: the nearest ETF as rows, M P*^T / sqrt(K - 1), shape (K, d).
        value: the optimal objective (closed form), a scalar.
    """

    frame: jax.Array
    etf: jax.Array
    value: jax.Array


def centring_matrix(num_classes: int, dtype: jnp.dtype = jnp.float64) -> jax.Array:
    """M = I_K - J/K, (K, K)."""
    return jnp.eye(num_classes, dtype=dtype) - 1.0 / num_classes


def class_centre(stats: ClassStats, centre: Centre = "classes") -> jax.Array:
    """The centre subtracted from the class means, (d,).

    ``"samples"``: mu_G = (1/N) sum_i z_i = sum_c (n_c / N) mu_c, stats.py's ``global_mean``
    (Papyan et al.'s convention; weighted towards the majority classes under imbalance).
    ``"classes"``: (1/K) sum_c mu_c, every class weighted equally. The two agree for balanced
    classes.
    """
    if centre == "samples":
        return stats.global_mean
    if centre == "classes":
        return jnp.mean(stats.means, axis=0)
    raise ValueError(f"centre must be one of {CENTRES}, got {centre!r}")


def centred_class_means(stats: ClassStats, centre: Centre = "classes") -> jax.Array:
    """mu_c - centre, (K, d) rows (the notes' H_hat^T before normalisation)."""
    return stats.means - class_centre(stats, centre)


def _check_rows(rows: jax.Array, minimum_dim: int) -> tuple[int, int]:
    check_matrix(rows, "rows")
    num_classes, dim = rows.shape
    if num_classes < 2:
        raise ValueError(f"rows must hold K >= 2 class means, got K = {num_classes}")
    if dim < minimum_dim:
        raise ValueError(
            f"the nearest ETF over St(d, K) needs d >= K ({minimum_dim}), got d = {dim}: "
            "the Stiefel frame P has K orthonormal columns in R^d"
        )
    return num_classes, dim


def procrustes_target(
    rows: jax.Array, prox: jax.Array | None = None, delta: float = 0.0
) -> jax.Array:
    """C = (2 / sqrt(K-1)) H_hat M + delta P_prox, (d, K), whose polar factor is P*.

    Args:
        rows: H_hat^T, (K, d) class means (centred or not; M re-centres them).
        prox: P_prox (d, K) of the proximal term, or None (no proximal term).
        delta: the proximal weight delta >= 0 (Markou et al. use 1e-3).
    """
    num_classes, _ = rows.shape
    target = 2.0 / math.sqrt(num_classes - 1) * (rows.T - jnp.mean(rows, axis=0)[:, None])
    if prox is not None:
        target = target + delta * prox
    return target


def nearest_etf(rows: jax.Array, prox: jax.Array | None = None, delta: float = 0.0) -> NearestETF:
    """The closed-form nearest simplex ETF of ``rows`` (docs/theory/ufm_extras.md, [DN]).

    Args:
        rows: H_hat^T (K, d), d >= K; the notes normalise ||H_hat||_F = 1 first (see
            ``nearest_etf_distance``), this function takes the rows as given.
        prox: optional P_prox (d, K) of the proximal term (delta/2) ||P - P_prox||_F^2.
        delta: its weight (ignored when prox is None).

    Returns:
        NearestETF(frame P* = U V^T (d, K), etf rows (K, d), value), the value
        ||H_hat||_F^2 + 1 + (delta/2)(K + ||P_prox||_F^2) - ||C||_* (module docstring).
    """
    num_classes, _ = _check_rows(rows, rows.shape[0])
    if prox is not None and prox.shape != rows.T.shape:
        raise ValueError(f"prox must be a frame of shape {rows.T.shape} (d, K), got {prox.shape}")
    target = procrustes_target(rows, prox, delta)
    u, s, vt = linalg.thin_svd(target)
    frame = jnp.matmul(u, vt, precision=HIGHEST)
    etf = jnp.matmul(centring_matrix(num_classes, rows.dtype), frame.T, precision=HIGHEST)
    etf = etf / math.sqrt(num_classes - 1)
    value = jnp.sum(rows**2) + 1.0 - jnp.sum(s)
    if prox is not None:
        value = value + 0.5 * delta * (num_classes + jnp.sum(prox**2))
    return NearestETF(frame, etf, value)


def etf_objective(
    rows: jax.Array, frame: jax.Array, prox: jax.Array | None = None, delta: float = 0.0
) -> jax.Array:
    """The E2 objective at a frame P, evaluated directly (no closed form):
    ||H_hat - P M / sqrt(K-1)||_F^2 (+ (delta/2) ||P - P_prox||_F^2). rows (K, d), frame (d, K).
    Differentiable in ``frame`` (the Riemannian solver of theorems.ufm_extras descends it)."""
    num_classes = rows.shape[0]
    etf_columns = jnp.matmul(frame, centring_matrix(num_classes, rows.dtype), precision=HIGHEST)
    value = jnp.sum((rows.T - etf_columns / math.sqrt(num_classes - 1)) ** 2)
    if prox is not None:
        value = value + 0.5 * delta * jnp.sum((frame - prox) ** 2)
    return value


def nearest_etf_distance(rows: jax.Array) -> jax.Array:
    """Squared distance of the class means to the nearest simplex ETF after scaling them to unit
    Frobenius norm (Markou et al.'s normalisation, docs/theory/ufm_extras.md): with H_hat = rows^T /
    ||rows||_F,

        2 - (2 / sqrt(K-1)) ||H_hat M||_*,  in [0, 2],

    0 exactly when the rows (re-centred by the mean of the class means) form a simplex ETF and
    sum to zero. Pass centred class means (``centred_class_means``; with ``centre="samples"``
    under imbalance the offset of mu_G from the mean of the means adds ||H_hat J/K||_F^2) or
    classifier rows W. Needs only d >= K - 1: the value depends on ||H_hat M||_*, the maximum of
    <E, H_hat> over unit-norm simplex ETFs E of R^d (docs/theory/ufm_extras.md).

    Args:
        rows: (K, d), not all zero.
    """
    check_matrix(rows, "rows")
    num_classes, dim = rows.shape
    if dim < num_classes - 1:
        raise ValueError(
            f"a simplex ETF of K = {num_classes} vectors spans K - 1 dimensions; got d = {dim}"
        )
    unit = rows / jnp.linalg.norm(rows)
    centred = unit - jnp.mean(unit, axis=0)  # (H_hat M)^T
    nuclear = jnp.sum(linalg.svdvals(centred))
    return 2.0 - 2.0 / math.sqrt(num_classes - 1) * nuclear


def row_cosine_pairs(rows: jax.Array, members: jax.Array) -> jax.Array:
    """cos(a_c, a_c') for every pair c < c' of the classes ``members`` (indices), shape
    (m (m-1) / 2,): e.g. the minority classifier rows, whose cosines tend to 1 under minority
    collapse (docs/theory/ufm_extras.md, "Imbalanced classes")."""
    check_matrix(rows, "rows")
    chosen = rows[jnp.asarray(members)]
    unit = chosen / jnp.linalg.norm(chosen, axis=1, keepdims=True)
    cosines = jnp.matmul(unit, unit.T, precision=HIGHEST)
    upper = jnp.triu_indices(chosen.shape[0], k=1)
    return cosines[upper]


__all__ = [
    "CENTRES",
    "NearestETF",
    "centred_class_means",
    "centring_matrix",
    "class_centre",
    "etf_objective",
    "nearest_etf",
    "nearest_etf_distance",
    "procrustes_target",
    "row_cosine_pairs",
]
