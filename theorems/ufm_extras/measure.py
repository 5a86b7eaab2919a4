"""Float64 measurements of one run of each part of the ufm_extras paper
(docs/theory/ufm_extras.md): the nearest simplex ETF against the Riemannian solver (E2), the
Hadamard-initialised UFM against its singular-value recursion (E3), and the imbalanced UFM
against its convex optimum (imbalance). Callers enable float64 (``jax.enable_x64(True)``).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics import class_stats, etf
from nc_jax.models.ufm import UFM, zhu_ufm_optimum
from nc_jax.train import regulariser
from nc_jax.train.losses import cross_entropy
from theorems.ufm_extras import hadamard, imbalance, stiefel

ETF_NAMES = ("etf_gap", "etf_gap_prox", "etf_value_residual")
HADAMARD_NAMES = (
    "hadamard_residue",
    "hadamard_initial_residue",
    "hadamard_basis_error",
    "reduction_residual",
    "hadamard_etf_distance",
    "hadamard_rho",
    "hadamard_rho_star",
    "hadamard_regime",
)
IMBALANCE_NAMES = (
    "objective",
    "optimum",
    "objective_gap",
    "solver_stationarity",
    "gram_gap",
    "minority_spread",
    "minority_spread_optimum",
    "minority_cos",
    "minority_cos_optimum",
    "collapse_threshold",
    "imbalance_ratio",
    "feature_dim",
    "num_classes",
    "means_etf_distance",
    "classifier_etf_distance",
)


def missing(names: tuple[str, ...]) -> dict[str, float]:
    """NaN for every quantity of a part that was not run (its checks are then vacuous)."""
    return dict.fromkeys(names, math.nan)


# ------------------------------------------------------------------------------------- E2


def etf_instance(
    rows: jax.Array, prox: jax.Array, delta: float, key: jax.Array, starts: int, steps: int
) -> dict[str, float]:
    """Closed form against the Riemannian solver on one instance of class means (K, d),
    scaled to unit Frobenius norm (Markou et al.'s normalisation).

    Returns:
        gap, gap_prox: |best Riemannian value - closed-form value| / (||H_hat||^2 + 1) without
            and with the proximal term (delta, P_prox);
        value_residual: max over both of |objective at P* - closed-form value| (the closed form
            evaluated at its own frame).
    """
    unit = rows / jnp.linalg.norm(rows)
    zeros = jnp.zeros_like(prox)
    out, residuals = {}, []
    for name, frame_prox, weight in (("gap", None, 0.0), ("gap_prox", prox, delta)):
        closed = etf.nearest_etf(unit, frame_prox, weight)
        solver_prox = zeros if frame_prox is None else frame_prox
        values = stiefel.riemannian_values(
            unit, key, solver_prox, jnp.asarray(weight), starts=starts, steps=steps
        )
        out[name] = float(jnp.abs(jnp.min(values) - closed.value) / 2.0)
        direct = etf.etf_objective(unit, closed.frame, frame_prox, weight)
        residuals.append(float(jnp.abs(direct - closed.value)))
    return out | {"value_residual": max(residuals)}


def etf_quantities(
    initial_rows: jax.Array,
    trained_rows: jax.Array,
    delta: float,
    seed: int,
    starts: int,
    steps: int,
) -> dict[str, float]:
    """E2 on the class means at initialisation (a generic instance; its P_prox a random frame)
    and after training (P_prox: the nearest-ETF frame of the initial means, as in Markou et al.'s
    training where the previous solution is the proximal point); the worst of the two."""
    rng = np.random.default_rng([seed, 2])
    random_prox = jnp.asarray(
        hadamard.random_frame(rng, initial_rows.shape[1], initial_rows.shape[0])
    )
    initial_unit = initial_rows / jnp.linalg.norm(initial_rows)
    previous = etf.nearest_etf(initial_unit).frame
    key = jax.random.PRNGKey(seed)
    first = etf_instance(initial_rows, random_prox, delta, key, starts, steps)
    second = etf_instance(trained_rows, previous, delta, key, starts, steps)
    return {
        "etf_gap": max(first["gap"], second["gap"]),
        "etf_gap_prox": max(first["gap_prox"], second["gap_prox"]),
        "etf_value_residual": max(first["value_residual"], second["value_residual"]),
    }


# ------------------------------------------------------------------------------------- E3


def hadamard_quantities(
    spectra: hadamard.Spectra,
    initial: hadamard.Spectra,
    basis: np.ndarray,
    engine_objective: np.ndarray,
    logged_steps: np.ndarray,
    final_params: Any,
    *,
    learning_rate: float,
    weight_decay: float,
    n_per_class: int,
) -> dict[str, float]:
    """E3 quantities of one run.

    Args:
        spectra: the Spectra after every replayed engine step (T, ...), in the run's (U, E).
        initial: the Spectra of the initial parameters.
        basis: the run's U (K, K).
        engine_objective: the engine's logged objective (logs,) at ``logged_steps``.
        final_params: the trained parameters (context.train) of this run.

    Returns:
        hadamard_residue (max over steps of the Spectra residue), hadamard_initial_residue,
        hadamard_basis_error (||U - H_K / sqrt(K)||_F), reduction_residual (max over steps of
        the spectra's gap to the reduced recursion, relative to max(|a|, |b|), and over the
        logged steps of the engine objective's relative gap to the recursion's),
        hadamard_etf_distance (nearest-ETF distance of the trained W rows), hadamard_rho (mean
        squared row norm of W), hadamard_rho_star (Zhu et al.'s rho*, docs/theory/zhu2021.md) and
        hadamard_regime (K sqrt(n lambda_W lambda_H), < 1 for a non-trivial optimum).
    """
    order = basis.shape[0]
    a_path, b_path = np.asarray(spectra.a), np.asarray(spectra.b)
    steps = a_path.shape[0]
    reduced = hadamard.reduced_gd(
        np.asarray(initial.a),
        np.asarray(initial.b),
        learning_rate=learning_rate,
        lambda_w=weight_decay,
        lambda_h=weight_decay,
        n_per_class=n_per_class,
        steps=steps,
    )
    scale = np.maximum(np.abs(reduced.a[1:]).max(1), np.abs(reduced.b[1:]).max(1))
    gap = np.maximum(np.abs(a_path - reduced.a[1:]).max(1), np.abs(b_path - reduced.b[1:]).max(1))
    predicted = reduced.objective[logged_steps]
    objective_gap = np.abs(engine_objective - predicted) / np.abs(predicted)
    classifier = final_params["head"][0]["w"]
    return {
        "hadamard_residue": float(np.max(np.asarray(spectra.residue))),
        "hadamard_initial_residue": float(initial.residue),
        "hadamard_basis_error": float(np.linalg.norm(basis - hadamard.hadamard_basis(order))),
        "reduction_residual": float(max(np.max(gap / scale), np.max(objective_gap))),
        "hadamard_etf_distance": float(etf.nearest_etf_distance(classifier)),
        "hadamard_rho": float(jnp.mean(jnp.sum(classifier**2, axis=1))),
        "hadamard_rho_star": zhu_ufm_optimum(order, n_per_class, weight_decay, weight_decay),
        "hadamard_regime": order * math.sqrt(n_per_class) * weight_decay,
    }


# ------------------------------------------------------------------------------- imbalance


def ufm_objective(model: UFM, params: Any, x: jax.Array, targets: jax.Array, lam: float) -> float:
    """F(W, H) = mean CE + lambda/2 (||W||^2 + ||H||^2) of one run (the engine's objective with
    decay scales 1), float64."""
    output, _ = model.apply(params, x)
    data_loss = cross_entropy(output, targets, "mean")
    return float(data_loss + 0.5 * lam * regulariser(model, params))


def imbalance_quantities(
    model: UFM,
    params: Any,
    x: jax.Array,
    y: jax.Array,
    targets: jax.Array,
    *,
    counts: np.ndarray,
    weight_decay: float,
    minority_classes: int,
    ratio: float,
) -> dict[str, float]:
    """The imbalance quantities of one trained run (module docstring of imbalance.py): its
    objective and the convex optimum F*, the relative gap, the gap of the normalised classifier
    Grams, the minority spread and smallest minority cosine (trained and optimal), the solver's
    collapse threshold R*, and the nearest-ETF distances of the class means (centred by the mean
    of the class means) and of the classifier rows."""
    num_classes = counts.shape[0]
    n_minority = float(counts[-1])
    optimum = imbalance.ufm_convex_optimum(counts, weight_decay, weight_decay)
    classifier = np.asarray(params["head"][0]["w"])
    gram = classifier @ classifier.T
    members = imbalance.minority_indices(num_classes, minority_classes)
    optimal_norm = np.linalg.norm(optimum.classifier_gram)
    gram_gap = (
        np.linalg.norm(gram / np.linalg.norm(gram) - optimum.classifier_gram / optimal_norm)
        if optimal_norm > 0
        else math.nan
    )
    objective = ufm_objective(model, params, x, targets, weight_decay)
    stats = class_stats(params["features"], y, num_classes)
    cosines = imbalance.gram_cosines(gram, members)
    optimal_cosines = (
        imbalance.gram_cosines(optimum.classifier_gram, members) if optimal_norm > 0 else [math.nan]
    )
    return {
        "objective": objective,
        "optimum": optimum.objective,
        "objective_gap": (objective - optimum.objective) / optimum.objective,
        "solver_stationarity": optimum.stationarity,
        "gram_gap": float(gram_gap),
        "minority_spread": imbalance.minority_spread(gram, members),
        "minority_spread_optimum": imbalance.minority_spread(optimum.classifier_gram, members),
        "minority_cos": float(np.min(cosines)),
        "minority_cos_optimum": float(np.min(optimal_cosines)),
        "collapse_threshold": imbalance.collapse_threshold(
            num_classes, minority_classes, n_minority, weight_decay, weight_decay
        ),
        "imbalance_ratio": float(ratio),
        "feature_dim": int(classifier.shape[1]),
        "num_classes": int(num_classes),
        "means_etf_distance": float(
            etf.nearest_etf_distance(etf.centred_class_means(stats, "classes"))
        ),
        "classifier_etf_distance": float(etf.nearest_etf_distance(jnp.asarray(classifier))),
    }
