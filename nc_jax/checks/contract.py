"""The check contract (docs/theory/jacot2025.md, "Kinds of check"): a check is data plus a pure
function, and a paper is a small object that fills this contract.

A ``Theorem`` names what a paper states: an id (``jacot2025.thm3_1.nc1``), the reference, the
statement as text, its provenance (``printed`` as the paper prints it; ``derived``: an
inequality proved from the paper's hypotheses, see docs/theory/, with a confidence note; or
``stand-in``: our own statement of a mechanism the paper describes, where the paper's exact
statement could not be established, never to be cited as the paper's result), the
named quantities it reads, the relation of measured to bound, ``evaluate``: a pure function
from a mapping of quantities (floats, measured in float64) to an ``Evaluation`` (hypotheses, bound,
measured value), and its **kind**, which says what a verdict is worth:

- ``identity``: an exact identity checked to rounding (e.g. the GD + weight-decay balancedness
  recursion): it tests the engine and the derivation;
- ``consequence``: an inequality implied by other quantities measured on the same network: only
  a bug or a wrong constant can break it, so "holds" is algebra, not evidence; its worth is its
  tightness (the slack);
- ``claim``: a statement about what training produces, which real runs can refute; it states its
  tolerance and why.

A ``consequence`` also names its **trivial reference** (``Theorem.trivial``, the value in
``Evaluation.trivial``): what a user knows with no theorem (a bound that needs none, e.g.
within-class mass <= total centred mass, or the same quantity on the untrained network). The
result is ``informative`` when the bound beats it strictly (smaller for "<=", larger for ">=")
and the check is not vacuous; a bound that does not beat it says nothing, whatever its verdict.

``check(theorem, quantities, label)`` turns an evaluation into a ``CheckResult`` with a verdict:

- ``vacuous``: a hypothesis fails, the bound is not a finite number, or the measurement is NaN
  (a diverged run): the bound says nothing;
- ``holds``: every hypothesis holds and measured <= bound (or >=, per ``relation``);
- ``violated``: every hypothesis holds and the measurement breaks the bound: a finding.

Comparisons are exact in float64 up to a relative rounding allowance ``ROUNDING`` (1e-9), so a
reported violation is never a rounding artefact of the measurement. The slack measured / bound
is always reported.

A ``Paper`` is what a paper package provides (found through the entry-point group
``nc_jax.theorems``, so a researcher's own package adds a paper with no change to nc_jax):

- ``setting``: a frozen dataclass of the paper's knobs. Every field has a default and a line in
  the class docstring's ``Attributes:`` section (the command line is built from them: every field
  is an option); ``__post_init__`` validates and raises ``SettingError(field, message)``;
  ``RUN_FIELDS`` names the fields that only change per-run values (learning rate, seed): cells
  that differ only there train together as one compiled program. A paper whose ``run`` trains
  one trajectory and measures it at every cell's length (``TrainContext.train_to``) may list
  its training length there too (jacot2025 lists ``steps``). Optional: ``cost()``, the
  training work of one run (e.g. FLOPs), for a sweep's time estimate; ``memory()``, the bytes
  one run holds while training, for the sweep's run groups; ``num_runs()`` (default: the
  product of the lengths of the list-valued RUN_FIELDS).
- ``theorems``: the tuple of ``Theorem`` records.
- ``run(settings, context) -> list[CellOutcome]``: trains (or loads) and measures the runs of
  every setting (all from one bucket: equal outside ``RUN_FIELDS``), one ``CellOutcome`` per
  setting: a ``RunRecord`` per run (its per-run values, its float64 quantities, or the step at
  which it diverged) and named arrays for plots (leading run axis). The papers of this
  repository all use the shared skeleton, ``run_bucket(settings, context, train_and_measure)``
  of nc_jax.checks.bucket, with ``Setting.runs()`` laying out the runs; a hand-written ``run``
  (as below) trains through ``context.train`` and only the runs ``context.share`` assigns to
  this process.
- ``examples`` (one ``Example`` per theorem) and ``quick`` (Setting overrides that train in
  seconds): what the contract tests every registered paper gets read.
- ``tables`` (optional): the answer of each of the paper's shipped grids (nc_jax/grids) as
  text, by the grid's name without the paper's prefix (``width`` for ``jacot2025/width``):
  a function of a finished results directory, found by ``nc_jax.sweep.grid_table``.

Everything else (the table, the results directory, ``--recheck``, exit status, the command-line
options, sweeps) is generic: nc_jax.checks.runner and nc_jax.sweep. A complete made-up paper::

    from dataclasses import dataclass
    import numpy as np
    from nc_jax.checks import CellOutcome, Evaluation, Hypothesis, Paper, RunRecord
    from nc_jax.checks import SettingError, Theorem

    @dataclass(frozen=True)
    class Setting:
        '''Attributes:
            scale: the planted feature scale.
            seeds: one run per seed.'''
        scale: float = 1.0
        seeds: tuple[int, ...] = (0, 1)
        RUN_FIELDS = ("seeds",)

        def __post_init__(self):
            if self.scale <= 0:
                raise SettingError("scale", f"must be > 0, got {self.scale}")

    def run(settings, context):
        def one(seed, scale):
            x = np.random.default_rng(seed).normal(size=100) * scale
            return {"mean_abs": float(np.abs(x).mean()), "std": float(x.std()),
                    "max_abs": float(np.abs(x).max())}
        return [CellOutcome([RunRecord(i, f"seed={s}", {"seed": s}, one(s, st.scale))
                             for i, s in enumerate(st.seeds)]) for st in settings]

    BOUND = Theorem("toy.mean_abs", "Made up 2030, Lemma 1", "E|x| <= 2 std", "derived", "exact",
                    ("mean_abs", "std", "max_abs"), "<=", lambda q: Evaluation(
                        (Hypothesis("std > 0", q["std"], 0, ">"),), 2 * q["std"], q["mean_abs"],
                        trivial=q["max_abs"]),
                    kind="consequence", trivial="E|x| <= max |x| (no theorem needed)")
    PAPER = Paper("toy", "Made up 2030", Setting, (BOUND,), run)

(and in pyproject.toml: ``[project.entry-points."nc_jax.theorems"] toy = "toy_paper:PAPER"``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

ENTRY_POINT_GROUP = "nc_jax.theorems"
PROVENANCES: tuple[str, ...] = ("printed", "derived", "stand-in")
KINDS: tuple[str, ...] = ("identity", "consequence", "claim")
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
    trivial: float = math.nan


@dataclass(frozen=True)
class Theorem:
    """A checkable statement of a paper.

    Attributes:
        id: dotted id, ``<paper>.<result>.<part>``.
        reference: paper, theorem and equation (or theory-notes section).
        statement: the inequality checked, as text.
        provenance: "printed", "derived" or "stand-in" (module docstring).
        confidence: what is uncertain about the statement (the tags of docs/theory).
        quantities: names of the quantities ``evaluate`` reads.
        relation: "<=" (measured <= bound) or ">=" (measured >= bound).
        evaluate: quantities -> Evaluation, pure.
        kind: "identity", "consequence" or "claim" (module docstring).
        trivial: for a consequence, the reference a user has without the theorem (text; its
            value is ``Evaluation.trivial``); empty for identities and claims.
    """

    id: str
    reference: str
    statement: str
    provenance: str
    confidence: str
    quantities: tuple[str, ...]
    relation: str
    evaluate: Callable[[Mapping[str, Any]], Evaluation]
    kind: str
    trivial: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "consequence") != bool(self.trivial):
            raise ValueError(
                f"{self.id}: a consequence names its trivial reference (trivial=...), and only "
                f"a consequence does; kind {self.kind!r}, trivial {self.trivial!r}"
            )
        if self.provenance not in PROVENANCES:
            raise ValueError(f"provenance must be one of {PROVENANCES}, got {self.provenance!r}")
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.relation!r}")


@dataclass(frozen=True)
class CheckResult:
    """A theorem evaluated on one run's quantities, with its verdict and slack."""

    theorem_id: str
    label: str
    kind: str
    provenance: str
    relation: str
    verdict: str
    bound: float
    measured: float
    slack: float
    hypotheses: tuple[Hypothesis, ...]
    extras: Mapping[str, float]
    trivial: float = math.nan
    informative: bool | None = None

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
        for key in ("bound", "measured", "slack", "trivial"):
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


def informative_of(verdict: str, relation: str, bound: float, trivial: float) -> bool | None:
    """Whether a non-vacuous bound beats the trivial reference strictly (``bound < trivial``
    for "<=", ``>`` for ">="); None when the check has no trivial reference (NaN)."""
    if math.isnan(trivial):
        return None
    if verdict == "vacuous":
        return False
    return bound < trivial if relation == "<=" else bound > trivial


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
    with np.errstate(all="ignore"):  # an infinite bound is a verdict (vacuous), not a warning
        evaluation = as_floats(theorem.evaluate(float64_values(quantities)))
    if math.isnan(evaluation.measured):
        # a NaN measurement (a run or replay that diverged) says nothing about the bound
        unmeasurable = Hypothesis("the measured value is a number", 0.0, 1.0, ">=")
        evaluation = dataclasses.replace(
            evaluation, hypotheses=(*evaluation.hypotheses, unmeasurable)
        )
    verdict = verdict_of(evaluation, theorem.relation)
    return CheckResult(
        theorem_id=theorem.id,
        label=label,
        kind=theorem.kind,
        provenance=theorem.provenance,
        relation=theorem.relation,
        verdict=verdict,
        bound=evaluation.bound,
        measured=evaluation.measured,
        slack=slack_of(evaluation.measured, evaluation.bound),
        hypotheses=tuple(evaluation.hypotheses),
        extras=dict(evaluation.extras),
        trivial=evaluation.trivial,
        informative=informative_of(verdict, theorem.relation, evaluation.bound, evaluation.trivial),
    )


def complete_quantities(
    quantities: Mapping[str, float], theorems: Sequence[Theorem]
) -> dict[str, float]:
    """``quantities`` with every name that ``theorems`` read (their ``quantities``) added as NaN
    where the run does not measure it: for a paper whose cell holds runs of several kinds, each
    kind measuring what its own checks read. A check is then vacuous on a run of another kind
    (NaN never satisfies a hypothesis; give each such check a hypothesis on a quantity that
    every run reports, such as its kind), while ``check`` still refuses a name that no run
    reports."""
    names = dict.fromkeys(name for theorem in theorems for name in theorem.quantities)
    return dict.fromkeys(names, math.nan) | dict(quantities)


def float64_values(quantities: Mapping[str, Any]) -> dict[str, Any]:
    """Python floats as NumPy float64 (an overflow gives inf, not OverflowError); the rest
    (integers, arrays, tracers) unchanged."""
    return {k: np.float64(v) if isinstance(v, float) else v for k, v in quantities.items()}


def as_floats(evaluation: Evaluation) -> Evaluation:
    """An evaluation with Python floats everywhere (evaluate may compute with NumPy or JAX)."""
    return Evaluation(
        tuple(
            Hypothesis(h.name, float(h.value), float(h.threshold), h.relation)
            for h in evaluation.hypotheses
        ),
        float(evaluation.bound),
        float(evaluation.measured),
        {k: float(v) for k, v in evaluation.extras.items()},
        float(evaluation.trivial),
    )


class SettingError(ValueError):
    """A bad value of a Setting field: ``field`` names it, so the command line can name the flag
    (``--n-per-class``) and a sweep the grid key; the message says what is wrong and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RunRecord:
    """One run of a cell: its index in the cell, a label, its per-run values (seed, learning
    rate...), its float64 quantities (None when it diverged) and the first logged step at which
    it was found diverged (the divergence happened within the preceding logging period)."""

    index: int
    label: str
    params: Mapping[str, Any]
    quantities: Mapping[str, float] | None
    diverged_step: int | None = None


@dataclass(frozen=True)
class CellOutcome:
    """What a paper's ``run`` returns for one setting: its runs and named arrays for plots, each
    with a leading run axis (engine trajectories, curves such as a replay)."""

    runs: Sequence[RunRecord]
    arrays: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    """A family of instances that ``nc-jax falsify`` searches for counterexamples to a paper's
    consequence checks (nc_jax.falsify).

    Attributes:
        name: e.g. "near-balanced head, K=3, L2=2".
        sample: key -> parameters (a pytree of float arrays): one random starting instance.
        quantities: parameters -> the instance's array quantities (JAX scalars), traceable and
            differentiable: the search ascends through them and the checks' ``evaluate``.
        static: the quantities every instance of the family shares (sizes, e.g. N, K, L2).
    """

    name: str
    sample: Callable[[Any], Any]
    quantities: Callable[[Any], Mapping[str, Any]]
    static: Mapping[str, Any]


@dataclass(frozen=True)
class Example:
    """Hand-made quantities for one theorem, read by the contract tests every registered paper
    gets (tests/test_paper_contract.py): under ``holds`` the statement holds, ``violated`` is a
    planted violation (every hypothesis holds, the measurement breaks the bound) and under
    ``vacuous`` a hypothesis fails (None for a statement without hypotheses)."""

    holds: Mapping[str, float]
    violated: Mapping[str, float]
    vacuous: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Paper:
    """What a paper package registers (see the module docstring for a complete example).

    Attributes:
        name, title: the paper's short name (the prefix of its theorem ids) and citation.
        setting: its Setting dataclass.
        theorems: its Theorem records.
        run: ``run(settings, context) -> list[CellOutcome]`` (usually ``run_bucket`` of
            nc_jax.checks.bucket with the paper's ``train_and_measure``).
        families: optional instance families for ``nc-jax falsify`` (Family).
        examples: theorem id -> Example, one per theorem (the contract tests require it).
        quick: Setting overrides that train in seconds (the contract tests train them).
        finish_cell: optional ``finish_cell(setting, outcome) -> CellOutcome``, a summary of one
            cell over all its runs (a best run, pooled trends, rank correlations across runs)
            written into the runs' quantities before the checks read them. The runner applies
            it once the whole cell is in one place: after ``run`` on one process, and after
            process 0 has merged the processes' parts in a multi-host job (so it reads only the
            runs' quantities and the cell's arrays, and never the training state).
        tables: a shipped grid's short name -> its table: a function from a finished results
            directory to the grid's answer as text (``nc_jax.sweep.grid_table`` finds it). The
            short name is the grid's name without the paper's prefix and its underscore
            (``width`` for ``jacot2025/width``, ``jacot2025_width.toml``); a grid whose name
            does not start with its paper's keeps its whole name (``ufm_imbalance``). The tests
            check that every name is a shipped grid of the paper.
    """

    name: str
    title: str
    setting: type
    theorems: tuple[Theorem, ...]
    run: Callable[..., list[CellOutcome]]
    families: tuple[Family, ...] = ()
    examples: Mapping[str, Example] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    tables: Mapping[str, Callable[[Path], str]] = field(default_factory=dict)
    finish_cell: Callable[[Any, CellOutcome], CellOutcome] | None = None

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.setting):
            raise TypeError(f"paper {self.name}: setting must be a frozen dataclass")
        fields = {f.name for f in dataclasses.fields(self.setting)}
        unknown = set(run_fields(self.setting)) - fields
        if unknown:
            raise TypeError(f"paper {self.name}: RUN_FIELDS names unknown fields {sorted(unknown)}")
        foreign = [t.id for t in self.theorems if not t.id.startswith(self.name + ".")]
        if foreign:
            raise TypeError(
                f"paper {self.name}: theorem ids must start with '{self.name}.': {foreign}"
            )
        not_callable = [name for name, table in self.tables.items() if not callable(table)]
        if not_callable:
            raise TypeError(f"paper {self.name}: tables {not_callable} are not functions")


def run_fields(setting_type: type) -> tuple[str, ...]:
    """The Setting fields that only change per-run values (no recompilation)."""
    return tuple(getattr(setting_type, "RUN_FIELDS", ()))


def setting_cost(setting: Any) -> float:
    """The training work of one run of ``setting``: its ``cost()`` when defined, else 1."""
    cost = getattr(setting, "cost", None)
    return float(cost()) if callable(cost) else 1.0


def setting_runs(setting: Any) -> int:
    """Runs of a cell: the length of ``setting.runs()`` (its per-run grid, nc_jax.checks.bucket)
    or ``setting.num_runs()`` when defined, else the product of the lengths of its list-valued
    RUN_FIELDS (each run one combination, like a paper's own run grid)."""
    if callable(getattr(setting, "runs", None)):
        return len(setting.runs())
    if callable(getattr(setting, "num_runs", None)):
        return int(setting.num_runs())
    sizes = [
        len(v) for k in run_fields(type(setting)) if isinstance(v := getattr(setting, k), tuple)
    ]
    return math.prod(sizes)


def load_papers() -> dict[str, Paper]:
    """Every registered paper, name -> Paper, from the ``nc_jax.theorems`` entry points."""
    papers: dict[str, Paper] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        paper = point.load()
        if not isinstance(paper, Paper):
            raise TypeError(f"entry point {point.name} = {point.value} is not an nc_jax Paper")
        papers[point.name] = paper
    return papers


def paper_names() -> list[str]:
    """Names of the registered papers, without importing them."""
    return sorted(point.name for point in entry_points(group=ENTRY_POINT_GROUP))


def get_paper(name: str) -> Paper:
    """The registered paper ``name``; a ValueError naming the registered ones otherwise."""
    points = {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in points:
        raise ValueError(
            f"no registered paper {name!r}; registered: {sorted(points)} "
            "(is the package that provides it installed?)"
        )
    paper = points[name].load()
    if not isinstance(paper, Paper):
        raise TypeError(f"entry point {name} = {points[name].value} is not an nc_jax Paper")
    return paper


def load_registry() -> dict[str, Theorem]:
    """Every registered theorem, id -> Theorem, over every registered paper."""
    registry: dict[str, Theorem] = {}
    for paper in load_papers().values():
        for theorem in paper.theorems:
            if theorem.id in registry:
                raise ValueError(f"theorem id {theorem.id!r} is registered twice")
            registry[theorem.id] = theorem
    return registry


def matches(theorem_id: str, patterns: Sequence[str]) -> bool:
    """Whether ``theorem_id`` equals a pattern or starts with ``pattern + '.'`` (a paper, a
    result or a part: ``jacot2025``, ``jacot2025.thm3_1``, ``jacot2025.thm3_1.nc1``)."""
    return any(theorem_id == p or theorem_id.startswith(p + ".") for p in patterns)


def select(registry: Mapping[str, Theorem], patterns: Sequence[str]) -> list[Theorem]:
    """Theorems whose id ``matches`` a pattern."""
    chosen = [theorem for theorem_id, theorem in registry.items() if matches(theorem_id, patterns)]
    if not chosen:
        raise ValueError(
            f"no registered theorem matches {list(patterns)}; known ids: {sorted(registry)}"
        )
    return chosen
