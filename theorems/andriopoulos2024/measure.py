"""Float64 measurements of the neural-regression-collapse checks (docs/theory/andriopoulos2024.md),
on one trained network: NRC1-NRC3 of its last-layer features and weight, the NRC3 gamma choice, and
the regression UFM's distance to its closed-form optimum.

Feature conventions (docs/theory/andriopoulos2024.md, "Conventions"). nc_jax.metrics.regression
implements C2 as the notes write it: rows normalised h_i / ||h_i||, NOT centred (``nrc1``,
``nrc2``). We measure that and a centred variant, rows (h_i - hbar) / ||h_i - hbar||
(``nrc1_c``, ``nrc2_c``): PCA on centred features (what the paper's MuJoCo code does with
scikit-learn's PCA). At the UFM optimum hbar* = 0 (C3), so the two agree there; on a ReLU
network they differ: its features are non-negative, so hbar != 0, and with centred targets and
decayed biases the trained weight puts hbar near the null space of W, leaving the uncentred
NRC2 near ||hbar||^2 / E||h||^2 however far training goes. The checks read the centred
variant; both are stored.

NRC3's gamma (C2): ``"exact"`` minimises over the whole interval [0, lambda_min(Sigma)]
(nc_jax.metrics.regression.nrc3: the minimum is at an endpoint or the single stationary point,
found in closed form); ``"grid"`` takes the best of ``points`` equally spaced gammas in
[0, lambda_min] (the authors' code searches a 1000-point grid).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics import regression
from nc_jax.metrics.regression import nrc1, nrc2, nrc3, ufm_regression_optimum

GAMMA_CHOICES: tuple[str, ...] = ("exact", "grid")
# compiled once per shape (the inputs are validated here first: non-zero rows, a full-rank
# weight, a non-zero weight), instead of op by op
_nrc1 = jax.jit(nrc1, static_argnames="n_components")
_nrc2 = jax.jit(nrc2)
_nrc3 = jax.jit(nrc3)
_optimum = jax.jit(ufm_regression_optimum)


def target_spectrum(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending, clipped at 0) and eigenvectors of Sigma (C2) as float64 NumPy
    arrays: nc_jax.metrics.regression.target_spectrum, evaluated in float64."""
    with jax.enable_x64(True):
        values, vectors = regression.target_spectrum(jnp.asarray(targets, jnp.float64))
        return np.asarray(values), np.asarray(vectors)


def nrc3_curve(w: np.ndarray, targets: np.ndarray, gammas: np.ndarray) -> np.ndarray:
    """NRC3(gamma) = ||W W^T / ||W W^T||_F - A / ||A||_F||_F^2, A = Sigma^{1/2} - sqrt(gamma)
    I_n, for each gamma (C2; the squared Frobenius norm, Sigma^{1/2} the symmetric
    eigen-square-root). NaN where A = 0.

    Args:
        w: (n, d) last-layer weight, not zero.
        targets: (M, n).
        gammas: (G,) values >= 0.
    """
    values, vectors = target_spectrum(targets)
    gram = w @ w.T
    rotated = vectors.T @ (gram / np.linalg.norm(gram)) @ vectors  # A is diagonal here
    shifted = np.sqrt(values)[None, :] - np.sqrt(np.asarray(gammas, float))[:, None]  # (G, n)
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        diagonals = shifted / norms
    eye = np.eye(len(values))
    return np.sum((rotated[None] - diagonals[:, :, None] * eye) ** 2, axis=(1, 2))


def choose_gamma(
    w: np.ndarray, targets: np.ndarray, choice: str = "exact", points: int = 1000
) -> tuple[float, float]:
    """(NRC3, gamma_opt) under the gamma convention ``choice`` (module docstring): "exact" the
    minimum over [0, lambda_min(Sigma)], "grid" the best of ``points`` equally spaced values of
    that interval (endpoints included)."""
    if choice == "exact":
        value, gamma = _nrc3(np.asarray(w, np.float64), np.asarray(targets, np.float64))
        return float(value), float(gamma)
    if choice != "grid":
        raise ValueError(f"the gamma choice must be one of {GAMMA_CHOICES}, got {choice!r}")
    if points < 2:
        raise ValueError(f"a gamma grid needs at least 2 points, got {points}")
    gammas = np.linspace(0.0, target_spectrum(targets)[0][0], points)
    curve = nrc3_curve(w, targets, gammas)
    best = int(np.nanargmin(curve))
    return float(curve[best]), float(gammas[best])


def _usable_rows(h: np.ndarray) -> np.ndarray:
    """Rows of h that are not zero (NRC normalises every row)."""
    return h[np.any(h != 0, axis=1)]


def _feature_nrc(h: np.ndarray, w: np.ndarray, n: int) -> tuple[float, float]:
    """(NRC1, NRC2) of the rows of h that are not zero; NaN when fewer than n + 1 remain or W
    is rank deficient (its row space is not n-dimensional)."""
    rows = _usable_rows(h)
    if len(rows) <= n:
        return math.nan, math.nan
    first = float(_nrc1(rows, n_components=n))
    full_rank = np.linalg.matrix_rank(w) == n
    return first, float(_nrc2(rows, w)) if full_rank else math.nan


def feature_quantities(h: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """NRC1 and NRC2 of features h (M, d) with the last-layer weight w (n, d), float64, in both
    conventions (module docstring): ``nrc1``, ``nrc2`` (rows normalised, uncentred: C2 as
    written), ``nrc1_c``, ``nrc2_c`` (rows centred, then normalised), ``zero_rows`` (samples
    whose feature vector is 0, e.g. every ReLU unit off, left out of the uncentred pair)."""
    h, w = np.asarray(h, np.float64), np.asarray(w, np.float64)
    n = w.shape[0]
    plain = _feature_nrc(h, w, n)
    centred = _feature_nrc(h - h.mean(axis=0), w, n)
    return {
        "nrc1": plain[0],
        "nrc2": plain[1],
        "nrc1_c": centred[0],
        "nrc2_c": centred[1],
        "zero_rows": float(len(h) - len(_usable_rows(h))),
    }


def weight_quantities(
    w: np.ndarray, targets: np.ndarray, choice: str, points: int
) -> dict[str, float]:
    """``nrc3`` and ``gamma_opt`` (the gamma convention ``choice``), and ``lambda_min``,
    ``lambda_max`` of Sigma; NRC3 is NaN for a zero weight."""
    w, targets = np.asarray(w, np.float64), np.asarray(targets, np.float64)
    values = target_spectrum(targets)[0]
    value, gamma = (math.nan, math.nan)
    if np.any(w != 0):
        value, gamma = choose_gamma(w, targets, choice, points)
    return {
        "nrc3": value,
        "gamma_opt": gamma,
        "lambda_min": float(values[0]),
        "lambda_max": float(values[-1]),
    }


def ufm_closed_form_error(
    w: np.ndarray, targets: np.ndarray, lambda_h: float, lambda_w: float
) -> float:
    """||W W^T - W*W*^T||_F / ||W*W*^T||_F with W*W*^T = sqrt(lambda_H / lambda_W)
    (Sigma^{1/2} - sqrt(lambda_H lambda_W) I)_+ (C3); NaN when the optimum is W* = 0
    (lambda_H lambda_W >= lambda_max)."""
    w = np.asarray(w, np.float64)
    optimum = np.asarray(_optimum(np.asarray(targets, np.float64), lambda_h, lambda_w))
    size = np.linalg.norm(optimum)
    if size == 0:
        return math.nan
    return float(np.linalg.norm(w @ w.T - optimum) / size)


def mlp_parts(model: Any, params: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features of the last hidden layer (M, d), last-layer weight (n, d), output (M, n)) of an
    nc_jax MLP whose last layer is linear, in float64."""
    output, layers = jax.jit(model.apply)(params, x)
    return (
        np.asarray(layers.features[-2], np.float64),
        np.asarray(layers.weights[-1], np.float64),
        np.asarray(output, np.float64),
    )


def fit_quantities(output: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``mse`` (1/M) sum_i ||f(x_i) - y_i||^2 / n on the training set and ``r2``, 1 - the mse
    over the mean target variance (1 with the scaled targets, data.scale_targets)."""
    mse = float(np.mean((output - targets) ** 2))
    return {"mse": mse, "r2": 1.0 - mse / float(np.mean((targets - targets.mean(0)) ** 2))}
