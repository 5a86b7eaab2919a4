"""The checks of Sukenik, Lampert, Mondelli (2025) as Theorem records (nc_jax.checks).

The paper (docs/theory/sukenik2025.md; its shape of the result is unverified): global optima of
deep regularised LayerNorm
ResNets and transformers are approximately neurally collapsed, more so as the depth L grows,
and their optimal objective tends to that of the normalised-feature UFM (the limit model). We
do not know the rate, so none is hard-coded (docs/theory/sukenik2025.md).

Kinds (nc_jax.checks.contract):

- ``limit.lower_bound`` is a **consequence**: for ANY parameters of a network whose classifier
  reads LN features (on the sphere of radius sqrt(d), or for the transformer in the mean-zero
  ball of that radius) and whose head weight carries the same lambda, objective = (1/N) sum
  loss + lambda/2 ||W||^2 + (the other, non-negative penalties) >= the normalised UFM's
  objective at (W, b, the network's features) >= J* (over the ball too: docs/theory/
  sukenik2025.md, "Features in the ball", derived). So "holds" is algebra, not evidence: only a
  bug (features off the set, a penalty missed) or a wrong closed form breaks it; its worth is
  the slack, how close training comes to J*. It is an inequality, not an identity (equality
  needs the limit model's optimum to be reached). Trivial reference: 0 (the loss and the
  penalty are non-negative, no theorem needed). Its feature hypothesis is the set the
  architecture guarantees (``_in_feature_set``): the record's ``ball_features`` says which.
- ``depth.nc1``, ``depth.nc2``, ``depth.nc3`` and ``depth.gap`` are **claims** about what
  training produces: the metric falls with the depth "on average over seeds", as the paper
  says. Each seed's profile is fitted by least squares with the power law c L^(-a) over its
  depths; the claim reads the mean exponent over the cell's seeds, mean a >= 0 (only the
  direction: the paper's rate is unknown to us), against its seed-to-seed standard error
  (measure.pooled_trend: the spread of the seeds' exponents, never less than their fits' own
  errors imply). A sign inside that noise says nothing: the hypothesis "the seeds resolve the
  sign", |mean a| >= TREND_RESOLUTION standard errors (fixed a priori: about a two-sided 95%
  level for a normal error; with 2-5 seeds a t-quantile would ask more, so this is the
  lenient side), makes the claim vacuous where it fails, and so does a single seed. "Violated"
  means mean a < -2 SE: a depth trend the wrong way, resolved across seeds. Every seed's own
  exponent and Kendall's tau are reported beside it (extras).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nc_jax.checks.contract import Evaluation, Hypothesis, Theorem

Q = Mapping[str, Any]
SPHERE_TOLERANCE = 1e-9  # max | ||h_i|| / sqrt(d) - 1 | of the LN features (float64 rounding)
BALL_TOLERANCE = 1e-9  # max_i ||h_i|| / sqrt(d) - 1 and max_i |mean(h_i)| / sqrt(d) (rounding)
TREND_RESOLUTION = 2.0  # |fitted exponent| / its standard error a trend verdict needs
REFERENCE = "Sukenik, Lampert, Mondelli 2025 (arXiv 2505.15239)"


def _positive_decay(q: Q) -> Hypothesis:
    return Hypothesis("weight decay lambda > 0", q["weight_decay"], 0, ">")


def _balanced(q: Q) -> Hypothesis:
    return Hypothesis("balanced classes: max_c n_c - min_c n_c", q["class_imbalance"], 0, "<=")


def _on_sphere(q: Q) -> Hypothesis:
    return Hypothesis(
        "LN features on the sphere: max_i | ||h_i|| / sqrt(d) - 1 |",
        q["radius_deviation"],
        SPHERE_TOLERANCE,
        "<=",
    )


def _in_ball(q: Q) -> tuple[Hypothesis, Hypothesis]:
    return (
        Hypothesis(
            "features in the ball: max_i ||h_i|| / sqrt(d) - 1",
            q["radius_excess"],
            BALL_TOLERANCE,
            "<=",
        ),
        Hypothesis(
            "features mean-zero: max_i |mean(h_i)| / sqrt(d)",
            q["mean_deviation"],
            BALL_TOLERANCE,
            "<=",
        ),
    )


def _in_feature_set(q: Q) -> tuple[Hypothesis, ...]:
    """The features lie in the set the architecture guarantees: the mean-zero ball of radius
    sqrt(d) where ``ball_features`` is 1 (the transformer), else the LN sphere (the LN-ResNet,
    whose LN has no epsilon). J* bounds the objective on both (docs/theory/sukenik2025.md,
    "Features in the ball")."""
    return _in_ball(q) if q["ball_features"] else (_on_sphere(q),)


def _wide(q: Q) -> Hypothesis:
    return Hypothesis("d - 1 >= K - 1", q["width"] - 1, q["K"] - 1, ">=")


def _lower_bound(q: Q) -> Evaluation:
    """min over the seed's depths of the objective >= J* (every depth at once)."""
    extras = {
        "J*": q["J_star"],
        "min gap / J*": (q["objective_min"] - q["J_star"]) / q["J_star"],
    }
    hypotheses = (_positive_decay(q), _balanced(q), *_in_feature_set(q))
    return Evaluation(hypotheses, q["J_star"], q["objective_min"], extras, trivial=0.0)


def resolution(exponent: float, standard_error: float) -> float:
    """|exponent| / standard_error: inf for an exact fit (zero error) of a non-zero exponent, 0
    for a zero exponent, NaN when either is NaN (the hypothesis then fails)."""
    if math.isnan(exponent) or math.isnan(standard_error):
        return math.nan
    if exponent == 0:
        return 0.0
    return math.inf if standard_error == 0 else abs(exponent) / standard_error


def _trend(name: str):
    """The claim that ``name`` falls with the depth, judged on the cell's seeds: the mean
    exponent over them >= 0 (module docstring)."""

    def evaluate(q: Q) -> Evaluation:
        hypotheses = (
            _positive_decay(q),
            _wide(q),
            _balanced(q),
            Hypothesis("at least 3 depths", q["num_depths"], 3, ">="),
            Hypothesis("at least 2 seeds (a seed-to-seed error)", q["num_seeds"], 2, ">="),
            Hypothesis(
                "the seeds resolve the sign: |mean a| / standard error",
                resolution(q[f"{name}_exponent_seeds"], q[f"{name}_exponent_seeds_se"]),
                TREND_RESOLUTION,
                ">=",
            ),
        )
        extras = {
            "standard error": q[f"{name}_exponent_seeds_se"],
            "this seed's a": q[f"{name}_exponent"],
            "this seed's fit error": q[f"{name}_exponent_se"],
            "Kendall tau": q[f"{name}_kendall"],
        }
        return Evaluation(hypotheses, 0.0, q[f"{name}_exponent_seeds"], extras)

    return evaluate


def _trend_quantities(name: str) -> tuple[str, ...]:
    return (
        f"{name}_exponent_seeds",
        f"{name}_exponent_seeds_se",
        f"{name}_exponent",
        f"{name}_exponent_se",
        f"{name}_kendall",
        "num_seeds",
        "weight_decay",
        "width",
        "K",
        "class_imbalance",
        "num_depths",
    )


LOWER_BOUND = Theorem(
    id="sukenik2025.limit.lower_bound",
    reference=f"{REFERENCE}; docs/theory/sukenik2025.md (limit model [U], closed form [DN])",
    statement="min_L objective(L) >= J*(rho = sqrt(d), lambda, K), the normalised UFM's optimum",
    provenance="derived",
    confidence="exact for every network whose head reads LN features (on the sphere, or in the "
    "mean-zero ball: derived, docs/theory/sukenik2025.md); J* closed form [DN], checked against "
    "a numerical optimum in the tests",
    quantities=(
        "objective_min",
        "J_star",
        "weight_decay",
        "class_imbalance",
        "ball_features",
        "radius_deviation",
        "radius_excess",
        "mean_deviation",
    ),
    relation=">=",
    evaluate=_lower_bound,
    kind="consequence",
    trivial="objective >= 0 (loss and penalty are non-negative)",
)

TREND_TEXT = {
    "nc1": "NC1 = tr(S_W)/tr(S_B) of the LN features",
    "nc2": "NC2 = distance of the centred class-mean Gram to the simplex ETF",
    "nc3": "NC3 = ||W/||W|| - Mbar/||Mbar|| ||_F (self-duality)",
    "gap": "the gap objective(L) - J* to the limit model's optimum",
}


def _trend_theorem(name: str) -> Theorem:
    return Theorem(
        id=f"sukenik2025.depth.{name}",
        reference=f"{REFERENCE}, abstract (A1): collapse tighter as depth grows; A3 [U]",
        statement=f"{TREND_TEXT[name]} decreases with depth on average over seeds: the mean "
        "over the cell's seeds of the exponent a of the fit c L^(-a) over a seed's depths >= 0",
        provenance="derived",
        confidence="the rate is unknown (A3 [U]); only the direction is claimed",
        quantities=_trend_quantities(name),
        relation=">=",
        evaluate=_trend(name),
        kind="claim",
    )


THEOREMS: tuple[Theorem, ...] = (
    LOWER_BOUND,
    *(_trend_theorem(name) for name in ("nc1", "nc2", "nc3", "gap")),
)
