"""The checks of Súkeník, Mondelli, Lampert (NeurIPS 2024) as Theorem records (nc_jax.checks).

Every formula is in docs/theory/sukenik2024.md; the quantities are
measured in float64 by theorems.sukenik2024.measure. Kinds (nc_jax.checks.contract):

- identities (exact to rounding): the DNC configuration built explicitly attains the closed form
  L_DNC and has zero gradient; the SRG construction attains its closed form L_SRG and has the
  ranks of B3 (r before the last ReLU, K after); a solution zero-padded into a wider DUFM keeps
  its objective. They test the construction, the closed forms and the model against each other.
- claims (about what gradient descent produces, refutable by runs): for L >= 3 and K >= 3 the
  best run of a cell ends below L_DNC (DNC is not globally optimal), and DNC1 collapses in every
  layer when n >= 2. Their tolerances are stated at the constants below.

No check here is a consequence (so none names a trivial reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nc_jax.checks.contract import Evaluation, Hypothesis, Theorem

Q = Mapping[str, Any]
REFERENCE = "Súkeník, Mondelli, Lampert, NeurIPS 2024"
IDENTITY_TOLERANCE = 1e-12  # relative: float64 evaluation of an O(0.1) objective, ~1e-16
GRADIENT_TOLERANCE = 1e-10  # absolute gradient norm at an exact critical configuration
# below_dnc: the largest objective on GD's final float64 orbit must be below L_DNC by 0.1%:
# the orbit maximum already covers GD's chatter across ReLU kinks (about 1e-3 of the
# objective at learning rate 0.5), and 0.1% is far beyond float64 rounding (1e-15) and beyond
# the slow approach to DNC itself (a run converging to DNC sat 0.35% above L_DNC at 20000 steps
# and 0.00% at 80000: approaching DNC is never mistaken for beating it).
BELOW_DNC_MARGIN = 1e-3
# GD has settled when its mean gradient over the replayed orbit, ||theta_0 - theta_m|| / (eta m),
# is at most this (measured: about 1e-4 after 20000 steps at width 30, while the gradient at a
# single iterate stays near 2e-2 from the kink chatter).
SETTLED_DRIFT = 1e-3
DNC1_TOLERANCE = 1e-4  # measured: DNC1 of every layer below 3e-7 after 20000 steps at n = 2
# Within-class spread of H_1 in directions the loss ignores decays only by weight decay, as
# (1 - eta lambda_H)^(2t) ~ exp(-2 eta lambda_H t) in tr S_W: the DNC1 claim needs
# eta lambda_H t >= 10 (a factor e^-20; the default has 40; at 2000 steps, 4, a K = 2 run at
# DNC still had DNC1 = 4e-4 in the first layer).
DNC1_DECAY_TIME = 10.0
DNC_REACHED_TOLERANCE = 1e-2  # reached_dnc: |objective / L_DNC - 1| <= 1% and every rank = K


def _relative_gap(value: Any, reference: Any) -> Any:
    return np.abs(value - reference) / np.abs(reference)


def _dnc_fits(q: Q) -> Hypothesis:
    return Hypothesis("width >= K (the orthogonal frame fits)", q["width"], q["K"], ">=")


def _srg_hypotheses(q: Q) -> tuple[Hypothesis, ...]:
    return (
        Hypothesis("K = C(r, 2) with r >= 3", q["r"], 3, ">="),
        Hypothesis("L >= 2 (the SRG needs W_{L-1})", q["L"], 2, ">="),
        _dnc_fits(q),
    )


def _dnc_value(q: Q) -> Evaluation:
    gap = _relative_gap(q["dnc_config_objective"], q["L_DNC"])
    extras = {"objective": q["dnc_config_objective"], "L_DNC": q["L_DNC"]}
    return Evaluation((_dnc_fits(q),), IDENTITY_TOLERANCE, gap, extras)


def _dnc_critical(q: Q) -> Evaluation:
    return Evaluation((_dnc_fits(q),), GRADIENT_TOLERANCE, q["dnc_config_gradient_norm"])


def _srg_value(q: Q) -> Evaluation:
    gap = _relative_gap(q["srg_config_objective"], q["L_SRG"])
    extras = {"L_SRG": q["L_SRG"], "L_SRG / L_DNC": q["L_SRG"] / q["L_DNC"]}
    return Evaluation(_srg_hypotheses(q), IDENTITY_TOLERANCE, gap, extras)


def _srg_ranks(q: Q) -> Evaluation:
    extras = {"r": q["r"], "rank pre-ReLU L": q["srg_rank_pre_L"]}
    extras["rank post-ReLU L"] = q["srg_rank_post_L"]
    return Evaluation(_srg_hypotheses(q), 0.0, q["srg_rank_mismatch"], extras)


def _embedding(q: Q) -> Evaluation:
    gap = _relative_gap(q["embedded_objective"], q["objective"])
    return Evaluation((), IDENTITY_TOLERANCE, gap, {"objective": q["objective"]})


def _settled(q: Q) -> Hypothesis:
    return Hypothesis("GD settled: mean gradient on the orbit", q["drift"], SETTLED_DRIFT, "<=")


def _hidden_ranks(q: Q) -> dict[str, float]:
    depth = int(q["L"])
    return {f"rank post-ReLU {layer}": q[f"rank_post_{layer}"] for layer in range(2, depth + 1)}


def _below_dnc(q: Q) -> Evaluation:
    hypotheses = (
        Hypothesis("L >= 3", q["L"], 3, ">="),
        Hypothesis("K >= 3", q["K"], 3, ">="),
        Hypothesis(
            "DNC provably not optimal here: L_SRG / L_DNC < 1 (our SRG witness)",
            q["srg_ratio"],
            1.0,
            "<",
        ),
        _settled(q),
        Hypothesis(
            "best settled run of its cell (ratio - best ratio)",
            q["ratio_orbit_max"] - q["best_ratio_orbit_max"],
            0.0,
            "<=",
        ),
        Hypothesis(
            "GD optimised: best ratio <= 1.01 (else stuck above DNC)",
            q["ratio_orbit_max"],
            1.0 + DNC_REACHED_TOLERANCE,
            "<=",
        ),
    )
    extras = {
        "objective": q["objective"],
        "L_DNC": q["L_DNC"],
        "L_SRG / L_DNC": q["srg_ratio"],
        "fraction of runs below DNC": q["fraction_below_dnc"],
        "fraction of runs at DNC": q["fraction_reached_dnc"],
        **_hidden_ranks(q),
    }
    return Evaluation(hypotheses, 1.0 - BELOW_DNC_MARGIN, q["ratio_orbit_max"], extras)


def _dnc1(q: Q) -> Evaluation:
    depth = int(q["L"])
    values = {f"DNC1 layer {layer}": q[f"dnc1_{layer}"] for layer in range(1, depth + 1)}
    worst = max(values.values())
    hypotheses = (
        Hypothesis("n >= 2 (n = 1 has no spread)", q["n"], 2, ">="),
        _settled(q),
        Hypothesis(
            "decay time eta lambda_H t",
            q["learning_rate"] * q["lambda_H"] * q["steps"],
            DNC1_DECAY_TIME,
            ">=",
        ),
        Hypothesis(
            "a candidate global optimum: objective / L_DNC",
            q["ratio"],
            1.0 + DNC_REACHED_TOLERANCE,
            "<=",
        ),
    )
    return Evaluation(hypotheses, DNC1_TOLERANCE, worst, values)


DNC_VALUE = Theorem(
    id="sukenik2024.b3.dnc_value",
    reference=f"{REFERENCE}; docs/theory/sukenik2024.md (DNC loss closed form)",
    statement="the DNC configuration (orthogonal frames, ReLU inactive), optimally scaled and "
    "zero-padded to the run's widths, has B2 objective L_DNC: |f - L_DNC| / L_DNC <= 1e-12",
    provenance="derived",
    confidence="[DN] in the notes (1-D reduction by AM-GM); exact for the B2 normalisation",
    quantities=("dnc_config_objective", "L_DNC", "width", "K"),
    relation="<=",
    evaluate=_dnc_value,
    kind="identity",
)

DNC_CRITICAL = Theorem(
    id="sukenik2024.b3.dnc_critical",
    reference=f"{REFERENCE}; docs/theory/sukenik2024.md (L_DNC is a critical value)",
    statement="the gradient of the B2 objective vanishes at the DNC configuration "
    "(relu'(0) = 0): ||grad f|| <= 1e-10",
    provenance="derived",
    confidence="[DN]; the DNC configuration sits on ReLU kinks (off-diagonal pre-activations "
    "are exactly 0), so this is stationarity with JAX's relu'(0) = 0",
    quantities=("dnc_config_gradient_norm", "width", "K"),
    relation="<=",
    evaluate=_dnc_critical,
    kind="identity",
)

SRG_VALUE = Theorem(
    id="sukenik2024.b3.srg_value",
    reference=f"{REFERENCE}, Figure 1 (SRG solution); docs/theory/sukenik2024.md",
    statement="the SRG construction (classes = edges of K_r, H_{L-1} means = incidence matrix "
    "B, W_{L-1} = B^T - J/2), optimally scaled, has B2 objective L_SRG (closed form): "
    "|f - L_SRG| / L_SRG <= 1e-12",
    provenance="derived",
    confidence="construction [VT caption] + incidence identification [DN]; the scaling is "
    "exact (docs/theory/sukenik2024.md); the paper's own SRG may scale layers differently",
    quantities=("srg_config_objective", "L_SRG", "L_DNC", "r", "L", "width", "K"),
    relation="<=",
    evaluate=_srg_value,
    kind="identity",
)

SRG_RANKS = Theorem(
    id="sukenik2024.b3.srg_ranks",
    reference=f"{REFERENCE}, Figure 1 caption; docs/theory/sukenik2024.md",
    statement="SRG ranks: class means of H_1..H_{L-1} rank r, the pre-activation of layer L "
    "rank r (r - 1 when r = 4), H_L rank K; measured = summed rank mismatch <= 0",
    provenance="derived",
    confidence="[VT caption] for r = 5; rank r - 1 at r = 4 derived here (the notes say r)",
    quantities=("srg_rank_mismatch", "srg_rank_pre_L", "srg_rank_post_L", "r", "L", "width", "K"),
    relation="<=",
    evaluate=_srg_ranks,
    kind="identity",
)

EMBEDDING = Theorem(
    id="sukenik2024.b3.embedding",
    reference="docs/theory/sukenik2024.md (trick for tests: zero-padding embedding)",
    statement="the trained solution zero-padded into a DUFM 3 units wider per layer (units "
    "permuted) has the same objective: relative gap <= 1e-12",
    provenance="derived",
    confidence="exact: relu(0) = 0 and permutations commute with the ReLU",
    quantities=("embedded_objective", "objective"),
    relation="<=",
    evaluate=_embedding,
    kind="identity",
)

BELOW_DNC = Theorem(
    id="sukenik2024.b3.below_dnc",
    reference=f"{REFERENCE}, abstract and Figure 2 (DUFM)",
    statement="where DNC is provably not globally optimal (our SRG construction's closed form "
    "lies below L_DNC), gradient descent finds a configuration below it: the best settled run of "
    "the cell ends at max objective on its final orbit / L_DNC <= 1 - 1e-3",
    provenance="derived",
    confidence="the paper's abstract says DNC is not optimal beyond two layers or two classes "
    "[VT] and its Figure 2 shows GD below DNC in the 4-DUFM; the exact conditions (L >= 3 "
    "and/or K >= 3, the lambda range) are [U], so the check applies only where our own witness, "
    "the SRG closed form (K = C(r, 2)), beats DNC: r >= 4 and L >= 4 in our grids. There the "
    "optimality question is settled and the claim is about gradient descent: a cell where it "
    "optimises (best run within 1% of L_DNC) yet every seed converges to DNC is violated, a "
    "finding about what GD reaches (the paper's Figure 3: wide DUFMs reach DNC more often), "
    "never about the optimum; elsewhere (K = 2, K = 3, L = 3) it is vacuous",
    quantities=(
        "ratio_orbit_max",
        "best_ratio_orbit_max",
        "drift",
        "L",
        "K",
        "objective",
        "L_DNC",
        "srg_ratio",
        "fraction_below_dnc",
        "fraction_reached_dnc",
    ),
    relation="<=",
    evaluate=_below_dnc,
    kind="claim",
)

DNC1 = Theorem(
    id="sukenik2024.b4.dnc1",
    reference=f"{REFERENCE}; docs/theory/sukenik2024.md (DNC1 stays optimal)",
    statement="GD collapses within-class variability in every layer: max_l tr S_W / tr S_B "
    "<= 1e-4 (n >= 2)",
    provenance="derived",
    confidence="[U] in the notes (DNC1 believed optimal at every global optimum); checked on "
    "the runs GD brings to a candidate global optimum (objective at most 1% above L_DNC); a run "
    "stuck at a worse critical point (e.g. near 0, where tr S_B vanishes) is outside it",
    quantities=("dnc1_1", "n", "L", "drift", "ratio", "learning_rate", "lambda_H", "steps"),
    relation="<=",
    evaluate=_dnc1,
    kind="claim",
)

THEOREMS: tuple[Theorem, ...] = (
    DNC_VALUE,
    DNC_CRITICAL,
    SRG_VALUE,
    SRG_RANKS,
    EMBEDDING,
    BELOW_DNC,
    DNC1,
)
