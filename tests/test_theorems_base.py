"""The check contract: comparisons, verdicts (a failing hypothesis is never 'holds'), slack,
JSON, and the entry-point registry."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from nc_jax.checks.contract import (
    Evaluation,
    Hypothesis,
    Theorem,
    check,
    informative_of,
    load_registry,
    satisfies,
    select,
    slack_of,
    verdict_of,
)


def _theorem(evaluate, relation="<="):
    return Theorem(
        id="toy.bound",
        reference="none",
        statement="a <= b",
        provenance="derived",
        confidence="test",
        quantities=("a", "b"),
        relation=relation,
        evaluate=evaluate,
        kind="consequence",
        trivial="none given",
    )


LE = _theorem(lambda q: Evaluation((Hypothesis("h", q["h"], 1.0),), q["b"], q["a"]))
GE = _theorem(lambda q: Evaluation((), q["b"], q["a"]), relation=">=")


def test_satisfies_allows_only_float64_rounding():
    assert satisfies(1.0, "<=", 1.0)
    assert satisfies(1.0 + 1e-12, "<=", 1.0)
    assert not satisfies(1.0 + 1e-6, "<=", 1.0)
    assert satisfies(1.0, ">=", 1.0 + 1e-12)
    assert not satisfies(0.5, ">=", 1.0)
    assert not satisfies(math.nan, "<=", 1.0) and not satisfies(0.0, "<=", math.nan)
    with pytest.raises(ValueError, match="relation"):
        satisfies(0.0, "<", 1.0)


@given(a=st.floats(-1e6, 1e6), b=st.floats(-1e6, 1e6), h=st.floats(-10, 10, allow_nan=False))
@example(a=2.2250738585e-313, b=0.0, h=0.0)  # a subnormal within the absolute floor: holds
def test_a_failing_hypothesis_is_never_holds(a, b, h):
    result = check(LE, {"a": a, "b": b, "h": h})
    if h > 1.0:
        assert result.verdict == "vacuous"
        assert result.failing and result.failing[0].name == "h"
    else:
        # the contract's allowance: ROUNDING (1e-9) relative, with a floor of 1e-300 absolute
        # (so a subnormal a = 2e-313 against b = 0 holds)
        allowance = 1e-9 * max(abs(a), abs(b), 1e-300)
        assert result.verdict == ("holds" if a <= b + allowance else "violated")


def test_verdicts_slack_and_planted_violation():
    holds = check(LE, {"a": 1.0, "b": 4.0, "h": 0.0}, label="run")
    assert (holds.verdict, holds.slack, holds.label) == ("holds", 0.25, "run")
    assert holds.kind == "consequence" and holds.to_json()["kind"] == "consequence"
    violated = check(LE, {"a": 5.0, "b": 4.0, "h": 0.0})
    assert violated.verdict == "violated" and violated.slack == 1.25
    assert check(GE, {"a": 5.0, "b": 4.0}).verdict == "holds"
    assert check(GE, {"a": 3.0, "b": 4.0}).verdict == "violated"
    infinite = check(LE, {"a": 1.0, "b": math.inf, "h": 0.0})
    assert infinite.verdict == "vacuous" and math.isnan(infinite.slack)
    diverged = check(LE, {"a": math.nan, "b": 4.0, "h": 0.0})
    assert diverged.verdict == "vacuous"
    assert diverged.failing[-1].name == "the measured value is a number"


def test_hypotheses_are_compared_exactly_and_strictly_when_asked():
    assert Hypothesis("eps1 < s", 3.0, 3.0, "<").holds is False
    assert Hypothesis("eps1 <= s", 3.0, 3.0).holds is True
    assert Hypothesis("x <= t", 1.0 + 1e-12, 1.0).holds is False  # no rounding allowance
    assert Hypothesis("x > 0", math.nan, 0.0, ">").holds is False
    with pytest.raises(ValueError, match="relation"):
        Hypothesis("x", 1.0, 1.0, "==")


def test_missing_quantities_are_named():
    with pytest.raises(ValueError, match=r"\['b'\]"):
        check(LE, {"a": 1.0, "h": 0.0})


def test_contract_fields_are_validated():
    with pytest.raises(ValueError, match="provenance"):
        Theorem("x", "r", "s", "guessed", "c", (), "<=", lambda q: None, "identity")
    with pytest.raises(ValueError, match="relation"):
        Theorem("x", "r", "s", "printed", "c", (), "<", lambda q: None, "identity")
    with pytest.raises(ValueError, match="kind"):
        Theorem("x", "r", "s", "printed", "c", (), "<=", lambda q: None, "evidence")


def test_results_serialise_to_json_with_infinities():
    result = check(LE, {"a": 1.0, "b": math.inf, "h": 0.0})
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["bound"] == "inf" and payload["verdict"] == "vacuous"
    assert payload["hypotheses"][0]["holds"] is True


def test_slack_of_degenerate_bounds():
    assert math.isnan(slack_of(1.0, 0.0)) and math.isnan(slack_of(1.0, math.inf))
    assert verdict_of(Evaluation((), 2.0, 1.0), "<=") == "holds"


def test_registry_finds_the_installed_paper_modules():
    registry = load_registry()
    assert "jacot2025.thm3_1.nc1" in registry
    assert len(select(registry, ["jacot2025.sec4"])) == 3
    assert [t.id for t in select(registry, ["jacot2025.thm3_1.nc1"])] == ["jacot2025.thm3_1.nc1"]
    with pytest.raises(ValueError, match="no registered theorem"):
        select(registry, ["jacot2025.thm9"])


def test_informative_means_the_bound_beats_its_trivial_reference_strictly():
    assert informative_of("holds", "<=", 1.0, 2.0) is True
    assert informative_of("holds", "<=", 2.0, 2.0) is False  # no better than trivial
    assert informative_of("violated", ">=", 0.5, 0.1) is True
    assert informative_of("holds", ">=", 0.1, 0.5) is False
    assert informative_of("vacuous", "<=", 1.0, 2.0) is False
    assert informative_of("holds", "<=", 1.0, math.nan) is None  # no reference: not asked
    theorem = _theorem(lambda q: Evaluation((), q["b"], q["a"], trivial=q["t"]), relation="<=")
    result = check(theorem, {"a": 1.0, "b": 2.0, "t": 3.0})
    assert result.informative is True and result.trivial == 3.0
    assert json.loads(json.dumps(result.to_json()))["informative"] is True


def test_only_a_consequence_names_a_trivial_reference():
    with pytest.raises(ValueError, match="trivial"):
        Theorem("toy.x", "r", "s", "derived", "c", (), "<=", lambda q: None, kind="consequence")
    with pytest.raises(ValueError, match="trivial"):
        Theorem("toy.x", "r", "s", "derived", "c", (), "<=", lambda q: None, "claim", "t")
