"""The checks of Zhu, Ding, Zhou, Li, You, Sulam, Qu (NeurIPS 2021) as Theorem records
(nc_jax.checks).

Every formula is stated in docs/theory/zhu2021.md;
theorems.zhu2021.measure computes the quantities on trained UFMs. Notation: K classes of n
samples, d the feature dimension, threshold = K sqrt(n lambda_W lambda_H), rho* the squared row
norm of W at the global minimiser, alpha = sqrt(lambda_W / (lambda_H n)), f* the global minimum.

Kinds (nc_jax.checks.contract): whether gradient descent from random starts reaches the closed
form is a claim about what training produces (Theorem 3.1 gives the minimiser, Theorem 3.2's
benign landscape is why every start should reach it); the NC metrics of Zhu et al.'s code are
reported beside the checks that imply them (GEOMETRY_METRICS, FEATURE_METRICS), not judged
again; Theorem 3.2 is checked as a claim on the points GD ends at (an approximate second-order
stationary end point must be a global minimiser: ``thm3_2.stationary_end_point``, which cannot
tell a benign landscape from GD converging, and says so). ``thm3_1.nc2_from_gram`` is a
consequence: Zhu's NC2 of W is bounded by twice the measured distance of W W^T to the closed
form (algebra, its worth is its slack).

Tolerances. Training is float64 GD; from every random start we measured the loss gap at
~1e-16 and the distances at ~1e-10 or below after the default 10,000 steps
(docs/theory/zhu2021.md, "Tolerances"). A run that stopped early or sits at a saddle is off by
O(1): W = H = 0 has loss gap (log K - f*)/f* = 8.3 on the standard instance, and 5 steps leave
gaps above 1. The tolerances sit orders of magnitude between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nc_jax.checks.contract import Evaluation, Hypothesis, Theorem
from theorems.zhu2021.measure import NC_METRICS

Q = Mapping[str, Any]
GAP_TOLERANCE = 1e-9  # (f_T - f*) / f*: second order in the distances
DISTANCE_TOLERANCE = 1e-6  # relative distances of W W^T and H to the closed form
BIAS_TOLERANCE = 1e-6  # ||b||_2, against logits of size alpha rho* K/(K-1) ~ 8 here
ZERO_TOLERANCE = 1e-6  # ||(W, H)|| / ||(W_0, H_0)|| in the zero regime
STATIONARY_GRADIENT = 1e-8  # ||grad f|| of an approximate critical point
STATIONARY_CURVATURE = 1e-8  # lambda_min(Hessian) >= -this: no escape direction left
# The NC metrics of Zhu et al.'s code and Papyan et al. (docs/theory/zhu2021.md, "Metrics by
# name") are reported beside the two checks that imply them at the same end point, not judged
# again: each is 0 at the closed form, so W W^T at G* (etf_gram) and H at alpha W[y] (features)
# already decide it. The class-mean and classifier geometry goes with etf_gram, the within-class
# variability and the nearest-class-centre agreement with features.
FEATURE_METRICS = ("zhu_nc1", "papyan_ncc_mismatch")
GEOMETRY_METRICS = tuple(name for name in NC_METRICS if name not in FEATURE_METRICS)

_PAPER = "Zhu, Ding, Zhou, Li, You, Sulam, Qu, NeurIPS 2021"
_THM31 = _PAPER + ", Theorem 3.1 (global minimisers) [U: numbering]; docs/theory/zhu2021.md"
_THM32 = _PAPER + ", Theorem 3.2 (benign landscape) [U: numbering]; docs/theory/zhu2021.md"
_CLOSED_FORM = "closed form [DN] of docs/theory/zhu2021.md (matches a numerical optimum)"
_REACH = (
    "claim: GD from random starts reaches the global minimiser because Theorem 3.2 leaves no "
    "spurious local minimum (d > K there [U]) and GD escapes strict saddles from random starts"
)
_HYPOTHESIS_QUANTITIES = ("K", "d", "class_imbalance", "init_norm", "grad_norm")


def _balanced(q: Q) -> Hypothesis:
    return Hypothesis("balanced classes: max_k n_k - min_k n_k", q["class_imbalance"], 0)


def _global_hypotheses(q: Q) -> tuple[Hypothesis, ...]:
    """Theorem 3.1's: balanced classes and d >= K - 1."""
    return _balanced(q), Hypothesis("Theorem 3.1: d >= K - 1", q["d"], q["K"] - 1, ">=")


def _reach_hypotheses(q: Q) -> tuple[Hypothesis, ...]:
    """Theorem 3.1's, Theorem 3.2's d > K [U], a random (non-zero) start and a run that has
    converged (an approximately critical end point): what makes 'GD from random starts reaches
    the global minimiser' expected, and refutable by a finite run. A run stopped before it
    converged says nothing about where GD goes: vacuous, never violated."""
    return (
        *_global_hypotheses(q),
        Hypothesis("Theorem 3.2 [U]: d > K", q["d"], q["K"], ">"),
        Hypothesis("random start: ||(W_0, H_0)||_F > 0", q["init_norm"], 0, ">"),
        _converged(q),
    )


def _converged(q: Q) -> Hypothesis:
    return Hypothesis("GD converged: ||grad f||", q["grad_norm"], STATIONARY_GRADIENT)


def _nonzero(q: Q) -> Hypothesis:
    return Hypothesis("non-zero regime: K sqrt(n lambda_W lambda_H) < 1", q["threshold"], 1, "<")


def _loss_gap(q: Q) -> Evaluation:
    extras = {"f_T": q["objective"], "f*": q["f_star"], "threshold": q["threshold"]}
    return Evaluation(_reach_hypotheses(q), GAP_TOLERANCE, q["loss_gap"], extras)


def _etf_gram(q: Q) -> Evaluation:
    extras = {"rho*": q["rho_star"], "mean ||w_k||^2": q["row_norm_sq_mean"]}
    extras |= {name: q[name] for name in GEOMETRY_METRICS}
    hypotheses = (*_reach_hypotheses(q), _nonzero(q))
    return Evaluation(hypotheses, DISTANCE_TOLERANCE, q["gram_distance"], extras)


def _features(q: Q) -> Evaluation:
    hypotheses = (*_reach_hypotheses(q), _nonzero(q))
    extras = {"alpha": q["alpha"], **{name: q[name] for name in FEATURE_METRICS}}
    return Evaluation(hypotheses, DISTANCE_TOLERANCE, q["feature_distance"], extras)


def _bias(q: Q) -> Evaluation:
    hypotheses = (
        *_reach_hypotheses(q),
        Hypothesis("the classifier has a bias", q["has_bias"], 1, ">="),
        Hypothesis("lambda_b > 0 (else b* = b 1 for any b)", q["lambda_b"], 0, ">"),
    )
    return Evaluation(hypotheses, BIAS_TOLERANCE, q["bias_norm"])


def _zero(q: Q) -> Evaluation:
    hypotheses = (
        *_reach_hypotheses(q),
        Hypothesis("zero regime: K sqrt(n lambda_W lambda_H) >= 1", q["threshold"], 1, ">="),
    )
    return Evaluation(hypotheses, ZERO_TOLERANCE, q["param_ratio"], {"threshold": q["threshold"]})


def _nc2_from_gram(q: Q) -> Evaluation:
    hypotheses = (_nonzero(q),)
    bound = 2 * q["gram_distance"]
    return Evaluation(hypotheses, bound, q["zhu_nc2"], trivial=2.0)


def _stationary_end_point(q: Q) -> Evaluation:
    hypotheses = (
        *_global_hypotheses(q),
        Hypothesis("Theorem 3.2 [U]: d > K", q["d"], q["K"], ">"),
        _converged(q),
        Hypothesis(
            "no negative curvature: lambda_min(Hessian f)",
            q["hessian_min"],
            -STATIONARY_CURVATURE,
            ">=",
        ),
    )
    extras = {"grad_norm": q["grad_norm"], "hessian_min": q["hessian_min"]}
    return Evaluation(hypotheses, GAP_TOLERANCE, q["loss_gap"], extras)


THEOREMS: tuple[Theorem, ...] = (
    Theorem(
        id="zhu2021.thm3_1.loss_gap",
        reference=_THM31,
        statement=f"GD from a random start ends at (f_T - f*)/f* <= {GAP_TOLERANCE:g}, f* = "
        "log(1 + (K-1) exp(-beta rho*)) + lambda_W K rho* (log K when K sqrt(n lambda_W "
        "lambda_H) >= 1)",
        provenance="derived",
        confidence=_REACH + "; f* is the " + _CLOSED_FORM,
        quantities=(*_HYPOTHESIS_QUANTITIES, "objective", "f_star", "loss_gap", "threshold"),
        relation="<=",
        evaluate=_loss_gap,
        kind="claim",
    ),
    Theorem(
        id="zhu2021.thm3_1.etf_gram",
        reference=_THM31,
        statement="||W W^T - rho* K/(K-1)(I - J/K)||_F / ||rho* K/(K-1)(I - J/K)||_F <= "
        f"{DISTANCE_TOLERANCE:g} after GD: a simplex ETF of squared row norm rho* = "
        "(1/beta) log((K-1)(beta - lambda_W K)/(lambda_W K)), beta = alpha K/(K-1)",
        provenance="derived",
        confidence=_REACH + "; rho* is the " + _CLOSED_FORM,
        quantities=(
            *_HYPOTHESIS_QUANTITIES,
            "threshold",
            "gram_distance",
            "rho_star",
            "row_norm_sq_mean",
            *GEOMETRY_METRICS,
        ),
        relation="<=",
        evaluate=_etf_gram,
        kind="claim",
    ),
    Theorem(
        id="zhu2021.thm3_1.features",
        reference=_THM31,
        statement=f"||H - alpha W[y]||_F / ||alpha W[y]||_F <= {DISTANCE_TOLERANCE:g} after GD, "
        "alpha = sqrt(lambda_W / (lambda_H n)): h_{k,i} = alpha w_k (NC1 and self-duality)",
        provenance="derived",
        confidence=_REACH + "; the printed statement [U], alpha [DN]",
        quantities=(
            *_HYPOTHESIS_QUANTITIES,
            "threshold",
            "feature_distance",
            "alpha",
            *FEATURE_METRICS,
        ),
        relation="<=",
        evaluate=_features,
        kind="claim",
    ),
    Theorem(
        id="zhu2021.thm3_1.bias",
        reference=_THM31,
        statement=f"||b||_2 <= {BIAS_TOLERANCE:g} after GD (b* = 0 when lambda_b > 0)",
        provenance="derived",
        confidence=_REACH + "; b* = 0 [U as printed, DN]",
        quantities=(*_HYPOTHESIS_QUANTITIES, "has_bias", "lambda_b", "bias_norm"),
        relation="<=",
        evaluate=_bias,
        kind="claim",
    ),
    Theorem(
        id="zhu2021.thm3_1.zero",
        reference=_THM31,
        statement="when K sqrt(n lambda_W lambda_H) >= 1 the global minimiser is W = H = 0: GD "
        f"ends at ||(W, H)||_F / ||(W_0, H_0)||_F <= {ZERO_TOLERANCE:g}",
        provenance="derived",
        confidence=_REACH + "; the threshold is the " + _CLOSED_FORM,
        quantities=(*_HYPOTHESIS_QUANTITIES, "threshold", "param_ratio"),
        relation="<=",
        evaluate=_zero,
        kind="claim",
    ),
    Theorem(
        id="zhu2021.thm3_1.nc2_from_gram",
        reference=_THM31 + " (with the metric of Zhu et al.'s code)",
        statement="zhu_nc2 = ||W W^T/||W W^T||_F - (I - J/K)/sqrt(K-1)||_F <= 2 ||W W^T - G*||_F "
        "/ ||G*||_F, G* = rho* K/(K-1)(I - J/K) (||a/|a| - b/|b||| <= 2 |a - b| / |b|)",
        provenance="derived",
        confidence="exact inequality (docs/theory/zhu2021.md): holds on any W; its worth is its "
        "slack",
        quantities=("threshold", "gram_distance", "zhu_nc2"),
        relation="<=",
        evaluate=_nc2_from_gram,
        kind="consequence",
        trivial="2: the distance of two unit-norm matrices never exceeds it (no theorem needed)",
    ),
    Theorem(
        id="zhu2021.thm3_2.stationary_end_point",
        reference=_THM32,
        statement=f"the point GD ends at, when approximately second-order stationary (||grad f||"
        f" <= {STATIONARY_GRADIENT:g}, lambda_min(Hessian f) >= -{STATIONARY_CURVATURE:g}), is a "
        f"global minimiser: (f - f*)/f* <= {GAP_TOLERANCE:g}",
        provenance="derived",
        confidence="claim [U: the printed theorem, d > K]: Theorem 3.2 says every critical point "
        "is a global minimiser or a strict saddle. Read at GD's end points only, this check "
        "cannot tell a benign landscape from GD converging to the global minimum; it would "
        "catch a spurious minimum GD stopped at. The tolerances are ours (a strict saddle has "
        "lambda_min of order -lambda, far below -1e-8)",
        quantities=(*_HYPOTHESIS_QUANTITIES, "hessian_min", "loss_gap"),
        relation="<=",
        evaluate=_stationary_end_point,
        kind="claim",
    ),
)
