"""The checks of Munn, Dherin, Gonzalvo (NeurIPS 2024) as Theorem records (nc_jax.checks).

Only the abstract, the figure captions and reviews of the paper could be read: its Proposition
4.1 (GC bounds the CDNV) and Propositions 4.2/4.3 (NCC transfer bounds) are known by name
only. E6-a, E6-b and E6-d are OUR stand-ins for them (provenance "stand-in"): the Poincare
inequality Var_Q(g) <= C_Q E_Q ||grad g||^2 of a Gaussian class Q = N(m, Sigma) (C_Q =
lambda_max(Sigma)) applied to every coordinate of the embedding, and Chebyshev's inequality
for the nearest-class-mean classifier. E6-c is our derivation that the estimators the paper
names are unbiased; E6-e and E6-f are the paper's empirical claims C1-C3 as read in the
captions. docs/theory/munn2024.md states every check, convention and tolerance.

Monte-Carlo: the stand-in bounds hold for the laws, not for samples; each bound gets a margin
of Z = 4 standard errors of (measured - bound) over independent samples (the chance that noise
alone crosses it is 3e-5 per check), and is vacuous with fewer than 30 samples per class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nc_jax.checks.contract import Evaluation, Hypothesis, Theorem
from nc_jax.checks.cross_run import rank_claim_hypotheses
from theorems.munn2024.setting import Z

Q = Mapping[str, Any]
MIN_SAMPLES = 30  # per class or draws: the standard errors (a CLT) need a few dozen
LINEAR_TOLERANCE = 1e-12  # relative: float64 sums of p x D products
ESTIMATOR_ROUNDING = 1e-12  # relative floor of the E6-c margin (an estimator of spread 0)
MIN_ACCURACY = 0.9  # every run of the cell trained (training accuracy)

_PAPER = "Munn, Dherin, Gonzalvo, NeurIPS 2024"
_STAND_IN = (
    "our stand-in: the paper's Proposition 4.1 could not be read; this is the Poincare "
    "mechanism it names, derived and checked in NumPy by us, not the paper's statement"
)
_CAPTIONS = "as read in the figure captions only (the paper's text could not be read)"
_CELL = ("cell_runs", "min_train_accuracy")


SAMPLES = ("gaussian", "eval_per_class")


def _samples(q: Q) -> tuple[Hypothesis, ...]:
    return (
        Hypothesis("Gaussian classes (Poincare constant sigma^2 known)", q["gaussian"], 1, ">="),
        Hypothesis("samples per class >= 30", q["eval_per_class"], MIN_SAMPLES, ">="),
    )


def _cell(q: Q, rho: str, spread: str) -> tuple[Hypothesis, ...]:
    """A cross-run claim says something only over enough trained runs whose GC differs between
    settings by more than between seeds, when the rank correlation ``rho`` is beyond its spread
    between independent values (nc_jax.checks.cross_run), and when every run trained."""
    return (
        *rank_claim_hypotheses(q[rho], q["cell_runs"], q[spread]),
        Hypothesis(
            "every run trained: training accuracy >= 0.9",
            q["min_train_accuracy"],
            MIN_ACCURACY,
            ">=",
        ),
    )


def _stand_in(
    part: str,
    statement: str,
    names: tuple[str, str, str],
    hypotheses: Callable[[Q], tuple[Hypothesis, ...]],
    ceiling: Callable[[Q], float],
    reference: str,
    confidence: str,
    trivial: str,
) -> Theorem:
    """A stand-in bound measured <= bound + Z se, ``names`` = (measured, bound, se), its
    hypotheses on SAMPLES and the value of its trivial reference, ``ceiling``."""
    measured, bound, se = names
    return Theorem(
        id=f"munn2024.{part}",
        reference=f"{_PAPER}, {reference}; docs/theory/munn2024.md",
        statement=f"our stand-in: {statement} (+ 4 standard errors)",
        provenance="stand-in",
        confidence=confidence,
        quantities=(*names, *SAMPLES, "embed_dim", "pair_trivial"),
        relation="<=",
        evaluate=lambda q: Evaluation(
            hypotheses(q),
            q[bound] + Z * q[se],
            q[measured],
            {"standard_error": q[se]},
            trivial=ceiling(q),
        ),
        kind="consequence",
        trivial=trivial,
    )


_PROP41 = "Proposition 4.1 [U: statement], E6-a"
VARIANCE = _stand_in(
    "e6a.variance",
    "Var_c <= C_c GC(f, Q_c) for the worst class",
    ("poincare_var", "poincare_cgc", "poincare_se"),
    _samples,
    lambda q: q["embed_dim"],
    _PROP41,
    _STAND_IN,
    "Var_c <= p: every coordinate of a tanh embedding lies in [-1, 1] (Popoviciu)",
)
CDNV = _stand_in(
    "e6a.cdnv",
    "Avg V_ij <= Avg max(C_i, C_j) GCol_ij",
    ("pair_cdnv", "pair_cgcol", "pair_se"),
    _samples,
    lambda q: q["pair_trivial"],
    _PROP41,
    _STAND_IN,
    "Avg V_ij <= p Avg 1/||mu_i - mu_j||^2 (Var_c <= p for a tanh embedding)",
)

LINEAR = Theorem(
    id="munn2024.e6b.linear",
    reference="docs/theory/munn2024.md, E6-b (the equality case of our stand-in)",
    statement="our stand-in's equality case: f(x) = A x, x ~ N(m, sigma^2 I): Var = C GC",
    provenance="stand-in",
    confidence="exact (closed form); A is the trained embedding's Jacobian at a test point",
    quantities=("linear_var", "linear_cgc", "linear_norm"),
    relation="<=",
    evaluate=lambda q: Evaluation(
        (Hypothesis("||A||_F^2 > 0", q["linear_norm"], 0, ">"),),
        LINEAR_TOLERANCE,
        abs(q["linear_var"] - q["linear_cgc"]) / q["linear_var"],
    ),
    kind="identity",
)


def _estimator(name: str, description: str) -> Theorem:
    return Theorem(
        id=f"munn2024.e6c.{name}",
        reference=f"{_PAPER}, GC-estimation figure (captions); docs/theory/munn2024.md, E6-c",
        statement=f"E[{description}] = GC(f, train): |mean of draws - GC| <= 4 standard errors",
        provenance="derived",
        confidence="unbiasedness is our derivation for the estimators the captions name",
        quantities=(f"est_{name}_mean", f"est_{name}_se", "gc_train", "estimator_draws"),
        relation="<=",
        evaluate=lambda q: Evaluation(
            (Hypothesis("draws >= 30", q["estimator_draws"], MIN_SAMPLES, ">="),),
            Z * q[f"est_{name}_se"] + ESTIMATOR_ROUNDING * q["gc_train"],
            abs(q[f"est_{name}_mean"] - q["gc_train"]),
        ),
        kind="identity",
    )


NCC = _stand_in(
    "e6d.ncc",
    "NCC error <= 4 (K-1) Avg V'_ij",
    ("ncc_error", "ncc_bound", "ncc_se"),
    lambda q: (_samples(q)[1],),
    lambda q: 1.0,
    "Propositions 4.2/4.3 [U: statement], E6-d",
    "Chebyshev along mu_j - mu_i (ours); the paper's constants were not readable",
    "an error rate is <= 1 (the bound says nothing when it is >= 1)",
)


def _claim(
    name: str,
    quantity: str,
    relation: str,
    statement: str,
    reference: str,
    spread: str = "gc_spread",
    confidence: str = _CAPTIONS,
) -> Theorem:
    """A cross-run claim: the cell's rank correlation ``quantity`` is >= 0 or <= 0, under the
    hypotheses of ``_cell`` with the spread ratio of the quantity it ranks (``spread``)."""
    return Theorem(
        id=f"munn2024.{name}",
        reference=f"{_PAPER}, {reference}; docs/theory/munn2024.md",
        statement=statement,
        provenance="printed",
        confidence=confidence,
        quantities=(quantity, spread, *_CELL),
        relation=relation,
        evaluate=lambda q: Evaluation(_cell(q, quantity, spread), 0.0, q[quantity]),
        kind="claim",
    )


THEOREMS: tuple[Theorem, ...] = (
    VARIANCE,
    CDNV,
    LINEAR,
    _estimator("batch", "GC on a random batch"),
    _estimator("mask", "Bernoulli(q)-masked GC / q"),
    _estimator("output", "p ||random output row of J||^2"),
    NCC,
    _claim(
        "e6e.gc_cdnv", "rho_gc_cdnv", ">=",
        "lower GC goes with lower CDNV: Spearman rho(train GC, train CDNV) >= 0 over the cell",
        "claims C1/C2 (sweeps of lr, batch, L2, GC penalty)",
    ),
    _claim(
        "e6f.target_cdnv", "rho_gc_target_cdnv", ">=",
        "lower source GC, lower target CDNV: rho(train GC, target CDNV) >= 0 over the cell",
        "claim C3 (transfer)",
    ),
    _claim(
        "e6f.few_shot", "rho_gc_few_shot", "<=",
        "lower source GC, higher 5-shot NCC accuracy: rho(train GC, accuracy) <= 0",
        "claim C3 (transfer)",
    ),
    _claim(
        "e6f.cdnv_few_shot", "rho_cdnv_few_shot", "<=",
        "lower source CDNV, higher 5-shot NCC accuracy on the held-out classes: "
        "rho(train CDNV, accuracy) <= 0 over the cell",
        "the CDNV-to-transfer link of its NCC bounds (Props. 4.2/4.3, after Galanti et al.)",
        spread="cdnv_spread",
        confidence="the step of the paper's argument from collapse to transfer, as read in its "
        "captions and reviews (the NCC error plotted against a CDNV bound); the rank reading "
        "across a cell's runs is ours",
    ),
)  # fmt: skip
