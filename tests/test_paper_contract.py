"""The contract every registered paper fills, tested the same way for each (a paper another
package registers through the ``nc_jax.theorems`` entry points is collected here too):

- every theorem has an Example: its hand-made quantities hold, its planted violation is
  flagged, and a failing hypothesis makes it vacuous;
- the command line is the Setting: one option per field, nothing given by default, and the
  defaults and the paper's quick overrides build valid settings;
- the Setting lays out its runs (labels unique in a cell, the count the sweep plans with);
- the quick setting trains through the generic runner, every run gets a verdict for every
  theorem, and ``--recheck`` on the stored quantities reproduces every result exactly.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from nc_jax import exits
from nc_jax.checks import Paper, SettingError, check, load_papers, setting_runs
from nc_jax.checks.options import add_setting_options, flag, given_options
from nc_jax.checks.runner import build_parser, main, recheck
from nc_jax.results import read_cells

PAPERS: dict[str, Paper] = load_papers()
THEOREMS = [(name, t.id) for name, paper in PAPERS.items() for t in paper.theorems]


def _theorem(name: str, theorem_id: str):
    (theorem,) = [t for t in PAPERS[name].theorems if t.id == theorem_id]
    return theorem


def test_the_six_papers_are_registered():
    assert {"jacot2025", "zhu2021", "sukenik2024", "sukenik2025", "ufm_extras"} < set(PAPERS)
    assert "andriopoulos2024" in PAPERS


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_every_theorem_has_an_example(name):
    paper = PAPERS[name]
    assert set(paper.examples) == {t.id for t in paper.theorems}


@pytest.mark.parametrize("name, theorem_id", THEOREMS)
def test_example_holds_planted_violation_is_flagged_failing_hypothesis_is_vacuous(name, theorem_id):
    theorem, example = _theorem(name, theorem_id), PAPERS[name].examples[theorem_id]
    held = check(theorem, example.holds)
    assert held.verdict == "holds", held
    planted = check(theorem, example.violated)
    assert planted.verdict == "violated", planted
    assert all(h.holds for h in planted.hypotheses)  # a violation is a refuted statement
    if example.vacuous is None:  # only a statement without hypotheses may have no vacuous case
        assert not held.hypotheses
    else:
        outside = check(theorem, example.vacuous)
        assert outside.verdict == "vacuous" and outside.failing, outside


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_a_non_finite_number_is_refused_naming_its_field_before_training(name):
    """Every float field (or list of floats) given NaN or infinity fails in the Setting itself,
    with a SettingError naming the field (the command line's flag), not later in the engine."""
    paper = PAPERS[name]
    default = paper.setting()
    numeric = []
    for field in dataclasses.fields(paper.setting):
        value = getattr(default, field.name)
        if isinstance(value, float):
            numeric.append((field.name, False))
        elif isinstance(value, tuple) and value and all(isinstance(v, float) for v in value):
            numeric.append((field.name, True))
    assert numeric, "a Setting without float fields"
    for field, is_list in numeric:
        for bad in (float("nan"), float("inf")):
            with pytest.raises(SettingError) as error:
                paper.setting(**{field: (bad,) if is_list else bad})
            assert error.value.field == field, (field, str(error.value))


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_every_setting_field_is_an_option_and_nothing_is_given_by_default(name):
    paper = PAPERS[name]
    parser = build_parser(paper, "prog")
    options = {option for action in parser._actions for option in action.option_strings}
    fields = [f.name for f in dataclasses.fields(paper.setting)]
    assert {flag(field) for field in fields} <= options
    assert given_options(parser.parse_args([]), paper.setting) == {}
    lone = argparse.ArgumentParser()
    add_setting_options(lone, paper.setting)  # the sweep's grid keys are the same fields
    assert given_options(lone.parse_args([]), paper.setting) == {}


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_the_setting_lays_out_its_runs(name):
    paper = PAPERS[name]
    for setting in (paper.setting(), paper.setting(**paper.quick)):
        runs = setting.runs()
        assert len(runs) == setting_runs(setting) >= 1
        assert len({spec.label for spec in runs}) == len(runs)  # a run is named once
        assert all(isinstance(spec.params, dict) and spec.params for spec in runs)


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_the_quick_setting_trains_and_recheck_reproduces_every_result(name, tmp_path, capsys):
    """``nc-jax check PAPER --quick``: trains the paper's quick setting through the runner, one
    result per run and theorem, the exit status of its verdicts; ``--recheck`` on the stored
    quantities gives back every result exactly."""
    paper = PAPERS[name]
    assert paper.quick, f"{name} names no quick setting"
    status = main(paper, ["--quick", "--results", str(tmp_path)])
    setting = paper.setting(**paper.quick)
    stored = [check for cell in read_cells(tmp_path) for check in cell["checks"]]
    assert len(stored) == setting_runs(setting) * len(paper.theorems)
    for theorem in paper.theorems:
        assert len([c for c in stored if c["theorem_id"] == theorem.id]) == setting_runs(setting)
    assert status == exits.status_of(c["verdict"] for c in stored)
    runs = {(cell["cell"], r["index"]): r for cell in read_cells(tmp_path) for r in cell["runs"]}
    for cell in read_cells(tmp_path):
        for c in (c for c in cell["checks"] if c["verdict"] != "vacuous"):
            (theorem,) = [t for t in paper.theorems if t.id == c["theorem_id"]]
            quantities = runs[(cell["cell"], c["run"])]["quantities"]
            unmeasured = [n for n in theorem.quantities if str(quantities[n]) == "nan"]
            assert not unmeasured, f"{theorem.id} gave a verdict on unmeasured {unmeasured}"
    assert (tmp_path / "checks.png").is_file()
    again = recheck(paper, tmp_path, paper.theorems)
    assert [{"run": c["run"], **r.to_json()} for c, r in zip(stored, again)] == stored
    assert main(paper, ["--recheck", "--quick", "--results", str(tmp_path)]) == exits.USAGE
    assert "--quick would be ignored" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_geometric_logs_reach_the_engine_and_a_bad_spacing_names_its_flag(name):
    paper = PAPERS[name]
    if "log_spacing" not in {f.name for f in dataclasses.fields(paper.setting)}:
        pytest.skip(f"{name} logs linearly only")
    setting = paper.setting(**(dict(paper.quick) | {"log_spacing": "geometric"}))
    assert setting.config().log_spacing == "geometric"
    with pytest.raises(SettingError) as error:
        paper.setting(log_spacing="logarithmic")
    assert error.value.field == "log_spacing"
