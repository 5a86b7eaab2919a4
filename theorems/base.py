"""The theorem contract (DESIGN.md, "Theorem contract"): a check is data plus a pure function.

A ``Theorem`` names what a paper states: an id (``jacot2025.thm3_1.nc1``), the reference, the
statement as text, its provenance (``printed`` as the paper prints it, or ``derived``: an
inequality proved from the paper's hypotheses in the theory notes, with a confidence note), the
named quantities it reads, the relation of measured to bound, and ``evaluate``: a pure function
from a mapping of quantities (floats, measured in float64) to an ``Evaluation`` (hypotheses, bound,
measured value).

``check(theorem, quantities, label)`` turns an evaluation into a ``CheckResult`` with a verdict:

- ``vacuous``: a hypothesis fails, the bound is not a finite number, or the measurement is NaN
  (a diverged run): the bound says nothing;
- ``holds``: every hypothesis holds and measured <= bound (or >=, per ``relation``);
- ``violated``: every hypothesis holds and the measurement breaks the bound: a finding.

Comparisons are exact in float64 up to a relative rounding allowance ``ROUNDING`` (1e-9), so a
reported violation is never a rounding artefact of the measurement. The slack measured / bound
is always reported.

Registry. Theorem modules expose ``THEOREMS`` (a tuple of Theorem) and are found through the
entry-point group ``nc_jax.theorems`` (declared in pyproject.toml), so a researcher's own package
adds checks for a new paper with no change here: ``load_registry()`` returns id -> Theorem.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "nc_jax.theorems"
PROVENANCES: tuple[str, ...] = ("printed", "derived")
RELATIONS: tuple[str, ...] = ("<=", ">=")
HYPOTHESIS_RELATIONS: tuple[str, ...] = ("<=", ">=", "<", ">")
VERDICTS: tuple[str, ...] = ("holds", "violated", "vacuous")
ROUNDING = 1e-9


def satisfies(value: float, relation: str, threshold: float) -> bool:
    """value <= threshold (or >=) up to the relative rounding allowance ROUNDING; NaN never
    satisfies anything."""
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
    if math.isnan(value) or math.isnan(threshold):
        return False
    allowance = ROUNDING * max(abs(value), abs(threshold), 1e-300)
    if relation == "<=":
        return value <= threshold + allowance
    return value >= threshold - allowance


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of a theorem, evaluated: ``value relation threshold`` must hold.

    Hypotheses are compared exactly (no rounding allowance, NaN never holds): a borderline
    hypothesis makes the check vacuous rather than letting it claim anything.
    """

    name: str
    value: float
    threshold: float
    relation: str = "<="

    def __post_init__(self) -> None:
        if self.relation not in HYPOTHESIS_RELATIONS:
            raise ValueError(
                f"relation must be one of {HYPOTHESIS_RELATIONS}, got {self.relation!r}"
            )

    @property
    def holds(self) -> bool:
        value, threshold = float(self.value), float(self.threshold)
        return {
            "<=": value <= threshold,
            ">=": value >= threshold,
            "<": value < threshold,
            ">": value > threshold,
        }[self.relation]

    def describe(self) -> str:
        return f"{self.name}: {self.value:.4g} {self.relation} {self.threshold:.4g}"


@dataclass(frozen=True)
class Evaluation:
    """What a theorem's ``evaluate`` returns: its hypotheses, the bound and the measured value,
    plus named extras worth reporting (e.g. the intermediate quantities of the bound)."""

    hypotheses: tuple[Hypothesis, ...]
    bound: float
    measured: float
    extras: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Theorem:
    """A checkable statement of a paper.

    Attributes:
        id: dotted id, ``<paper>.<result>.<part>``.
        reference: paper, theorem and equation (or theory-notes section).
        statement: the inequality checked, as text.
        provenance: "printed" or "derived".
        confidence: what is uncertain about the statement (the theory notes' tags).
        quantities: names of the quantities ``evaluate`` reads.
        relation: "<=" (measured <= bound) or ">=" (measured >= bound).
        evaluate: quantities -> Evaluation, pure.
    """

    id: str
    reference: str
    statement: str
    provenance: str
    confidence: str
    quantities: tuple[str, ...]
    relation: str
    evaluate: Callable[[Mapping[str, Any]], Evaluation]

    def __post_init__(self) -> None:
        if self.provenance not in PROVENANCES:
            raise ValueError(f"provenance must be one of {PROVENANCES}, got {self.provenance!r}")
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")


@dataclass(frozen=True)
class CheckResult:
    """A theorem evaluated on one run's quantities, with its verdict and slack."""

    theorem_id: str
    label: str
    provenance: str
    relation: str
    verdict: str
    bound: float
    measured: float
    slack: float
    hypotheses: tuple[Hypothesis, ...]
    extras: Mapping[str, float]

    @property
    def failing(self) -> tuple[Hypothesis, ...]:
        return tuple(h for h in self.hypotheses if not h.holds)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (hypotheses carry their ``holds``; non-finite floats as strings)."""
        out = asdict(self)
        out["hypotheses"] = [
            {**asdict(h), "holds": h.holds, "value": _json_float(h.value)}
            | {"threshold": _json_float(h.threshold)}
            for h in self.hypotheses
        ]
        for key in ("bound", "measured", "slack"):
            out[key] = _json_float(out[key])
        out["extras"] = {k: _json_float(v) for k, v in self.extras.items()}
        return out


def _json_float(value: float) -> float | str:
    value = float(value)
    return value if math.isfinite(value) else str(value)


def verdict_of(evaluation: Evaluation, relation: str) -> str:
    """``vacuous`` when a hypothesis fails or the bound is not finite, else ``holds`` or
    ``violated`` by comparing measured with the bound."""
    if not all(h.holds for h in evaluation.hypotheses) or not math.isfinite(evaluation.bound):
        return "vacuous"
    return "holds" if satisfies(evaluation.measured, relation, evaluation.bound) else "violated"


def slack_of(measured: float, bound: float) -> float:
    """measured / bound (NaN when the bound is 0 or not finite)."""
    if not math.isfinite(bound) or bound == 0.0:
        return math.nan
    return measured / bound


def check(theorem: Theorem, quantities: Mapping[str, Any], label: str = "") -> CheckResult:
    """Evaluate ``theorem`` on ``quantities`` (must hold every name in theorem.quantities)."""
    missing = [name for name in theorem.quantities if name not in quantities]
    if missing:
        raise ValueError(
            f"{theorem.id} needs the quantities {missing}, which were not measured; "
            "measure them first (see the paper module's measure functions)"
        )
    evaluation = theorem.evaluate(quantities)
    if math.isnan(evaluation.measured):
        # a NaN measurement (a run or replay that diverged) says nothing about the bound
        unmeasurable = Hypothesis("the measured value is a number", 0.0, 1.0, ">=")
        evaluation = dataclasses.replace(
            evaluation, hypotheses=(*evaluation.hypotheses, unmeasurable)
        )
    return CheckResult(
        theorem_id=theorem.id,
        label=label,
        provenance=theorem.provenance,
        relation=theorem.relation,
        verdict=verdict_of(evaluation, theorem.relation),
        bound=float(evaluation.bound),
        measured=float(evaluation.measured),
        slack=slack_of(float(evaluation.measured), float(evaluation.bound)),
        hypotheses=tuple(evaluation.hypotheses),
        extras=dict(evaluation.extras),
    )


def load_registry() -> dict[str, Theorem]:
    """Every registered theorem, id -> Theorem, from the ``nc_jax.theorems`` entry points (each
    names a module exposing ``THEOREMS``)."""
    registry: dict[str, Theorem] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        module = import_module(point.value)
        for theorem in module.THEOREMS:
            if theorem.id in registry:
                raise ValueError(f"theorem id {theorem.id!r} is registered twice")
            registry[theorem.id] = theorem
    return registry


def select(registry: Mapping[str, Theorem], patterns: Sequence[str]) -> list[Theorem]:
    """Theorems whose id equals a pattern or starts with ``pattern + '.'`` (a paper or result)."""
    chosen = [
        theorem
        for theorem_id, theorem in registry.items()
        if any(theorem_id == p or theorem_id.startswith(p + ".") for p in patterns)
    ]
    if not chosen:
        raise ValueError(
            f"no registered theorem matches {list(patterns)}; known ids: {sorted(registry)}"
        )
    return chosen
