"""The generic runner and the options built from a Setting: the contract's own example paper
runs end to end, every field is an option with its docstring and default, errors name the flag,
exit statuses (0, 1 violated, 2 bad usage, 3 a bug), --recheck and nc-jax check --help."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import jax
import numpy as np
import pytest
import toy_paper

import nc_jax.checks.contract as contract
import nc_jax.checks.validate as validate
from nc_jax import results
from nc_jax.checks import Paper, SettingError
from nc_jax.checks.options import field_docs, format_value, make_setting, parse_text
from nc_jax.checks.runner import main, main_all
from nc_jax.cli import main as cli_main
from theorems.jacot2025 import PAPER as JACOT


def _example_paper() -> Paper:
    """The made-up paper of nc_jax.checks.contract's docstring, executed as written."""
    block = contract.__doc__.split("A complete made-up paper::", 1)[1].split("\n(and in", 1)[0]
    code = "\n".join(line[4:] for line in block.splitlines())
    assert 18 <= len([line for line in code.splitlines() if line.strip()]) <= 30
    namespace: dict = {}
    exec(compile(code, "nc_jax/checks/contract.py docstring", "exec"), namespace)
    return namespace["PAPER"]


def test_the_contract_docstring_example_is_a_complete_paper(tmp_path, capsys):
    paper = _example_paper()
    assert main(paper, ["--results", str(tmp_path), "--seeds", "3,4,5"]) == 0
    assert "toy.mean_abs" in capsys.readouterr().out
    table = results.load(tmp_path)
    assert list(table["seed"]) == [3, 4, 5] and (table["verdict"] == "holds").all()
    assert main(paper, ["--results", str(tmp_path), "--scale", "-1"]) == 2
    assert "--scale: must be > 0" in capsys.readouterr().err


def test_every_setting_field_is_documented_and_an_option():
    for setting in (JACOT.setting, toy_paper.Setting):
        docs = field_docs(setting)
        assert set(docs) == {f.name for f in dataclasses.fields(setting)}
        assert all(len(text) > 10 for text in docs.values())
    # unwrapped with every space removed: argparse breaks a long default (a list) mid-word;
    # a ruled field's help goes on "; must be ..." after its default
    help_text = re.sub(r"\s+", "", _jacot_help())
    for field in dataclasses.fields(JACOT.setting):
        flag = "--" + field.name.replace("_", "-")
        default = re.sub(r"\s+", "", format_value(getattr(JACOT.setting(), field.name)))
        assert re.search(
            re.escape(flag) + r".*?\(default:" + re.escape(default) + r"[;)]", help_text
        ), field.name


def _jacot_help() -> str:
    from nc_jax.checks.runner import build_parser

    return build_parser(JACOT, "nc-jax check jacot2025").format_help()


def test_values_are_written_one_way_everywhere():
    hints = {"widths": tuple[int, ...], "data_dir": str | None, "flag": bool}
    assert parse_text("256,64,10", hints["widths"]) == (256, 64, 10)
    assert parse_text("none", hints["data_dir"]) is None
    assert parse_text("true", hints["flag"]) is True
    setting = make_setting(JACOT.setting, {"widths": [64, 64, 64, 64, 10], "seeds": [1]})
    assert setting.widths == (64, 64, 64, 64, 10) and setting.seeds == (1,)
    with pytest.raises(ValueError, match=r"--widths must be a list of int, got 3"):
        make_setting(JACOT.setting, {"widths": 3})
    with pytest.raises(ValueError, match=r"\[grid\] num_linear: must be >= 1"):
        make_setting(JACOT.setting, {"num_linear": 0}, lambda key: f"[grid] {key}")
    with pytest.raises(ValueError, match=r"--backbone: must be one of mlp, resnet20"):
        make_setting(JACOT.setting, {"backbone": "vgg"})
    with pytest.raises(ValueError, match=r"--backbone: resnet20 needs images"):
        make_setting(JACOT.setting, {"backbone": "resnet20", "dataset": "gaussian"})
    with pytest.raises(ValueError, match=r"--precision: must be one of float32, float64"):
        make_setting(JACOT.setting, {"precision": "float16"})
    resnet = make_setting(JACOT.setting, {"backbone": "resnet20", "widths": [10], "num_linear": 1})
    assert resnet.model().num_nonlinear == 3  # the three recorded stages come before the head
    with pytest.raises(ValueError, match="--colour is not a setting"):
        make_setting(JACOT.setting, {"colour": 1})
    error = SettingError("steps", "must be > 0")
    assert error.field == "steps" and str(error) == "steps: must be > 0"


def test_exit_statuses_and_recheck(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(toy_paper.PAPER, ["--results", out]) == 0
    assert main(toy_paper.PAPER, ["--results", out, "--violate", "true"]) == 1
    capsys.readouterr()
    assert main(toy_paper.PAPER, ["--results", out, "--recheck", "--size", "5"]) == 2
    assert "--size would be ignored" in capsys.readouterr().err
    assert main(toy_paper.PAPER, ["--results", out, "--recheck"]) == 1  # the stored violation
    file = tmp_path / "file"
    file.write_text("x")
    assert main(toy_paper.PAPER, ["--results", str(file)]) == 2
    assert "is a file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(toy_paper.PAPER, ["--size", "many"])
    assert usage.value.code == 2
    assert "--size: expected int, got 'many'" in capsys.readouterr().err

    def broken(settings, context):
        raise RuntimeError("a bug")

    buggy = dataclasses.replace(toy_paper.PAPER, run=broken)
    assert main(buggy, ["--results", str(tmp_path / "b")]) == 3
    assert "RuntimeError: a bug" in capsys.readouterr().err


def test_a_diverged_run_is_reported_vacuous_with_its_step(tmp_path, capsys):
    assert main(toy_paper.PAPER, ["--results", str(tmp_path), "--diverge", "1"]) == 0
    out = capsys.readouterr().out
    assert "the run trained without diverging: 7" in out
    table = results.load(tmp_path)
    assert table.loc[table["seed"] == 1, "diverged_step"].item() == 7


def test_cli_version_and_check_help_lists_papers_with_their_options(capsys):
    with pytest.raises(SystemExit) as done:
        cli_main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("nc-jax ")
    with pytest.raises(SystemExit) as done:
        cli_main(["check", "--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0
    assert "=== paper jacot2025" in text and "--n-per-class" in text
    assert "(default: 20; must be >= 1)" in " ".join(text.split())  # the field's rule
    with pytest.raises(SystemExit):
        cli_main(["sweep", "--help"])
    assert "(default: local)" in capsys.readouterr().out


def test_check_all_runs_every_paper_and_sums_up(tmp_path, capsys):
    violating = dataclasses.replace(
        toy_paper.PAPER,
        run=lambda settings, context: toy_paper.run(
            [dataclasses.replace(s, violate=True) for s in settings], context
        ),
    )

    def broken_run(settings, context):
        raise RuntimeError("a bug in this paper")

    broken = dataclasses.replace(toy_paper.PAPER, run=broken_run)
    papers = {"b_toy": toy_paper.PAPER, "c_violating": violating, "a_broken": broken}

    assert main_all({"b_toy": toy_paper.PAPER}, ["--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "=== b_toy: " in out and "=== every paper ===" in out
    assert re.search(r"^b_toy\s+2\s+\d+\.\d$", out, re.M)  # 2 runs x 1 check, wall seconds
    assert (results.load(tmp_path / "b_toy")["verdict"] == "holds").all()

    assert main_all(papers, ["--results", str(tmp_path)]) == 1  # a violation outranks a bug
    captured = capsys.readouterr()
    assert "RuntimeError: a bug in this paper" in captured.err
    assert "failed with an error: a_broken" in captured.err
    assert results.load(tmp_path / "c_violating")["verdict"].eq("violated").all()
    summary = captured.out.split("=== every paper ===")[1]
    assert re.search(r"^total\s+4\s", summary, re.M)  # the two papers that ran, 2 runs each

    assert main_all(papers, ["--results", str(tmp_path), "--skip", "c_violating"]) == 3
    assert main_all(papers, ["--skip", "nobody"]) == 2
    assert "--skip nobody: no such paper" in capsys.readouterr().err


def test_resnet20_backbone_widths_are_validated_and_used():
    setting = make_setting(
        JACOT.setting,
        {"backbone": "resnet20", "backbone_widths": [8, 16, 32], "widths": [10], "num_linear": 1},
    )
    assert setting.model().channels == (8, 16, 32) and setting.model().feature_dim == 32
    with pytest.raises(ValueError, match=r"--backbone-widths: must be three positive"):
        make_setting(JACOT.setting, {"backbone": "resnet20", "backbone_widths": [8, 16]})


def test_a_cpu_trains_one_convolutional_run_per_device_at_a_time(monkeypatch):
    """Vmapped over runs, convolutions with per-run kernels are grouped convolutions that XLA's
    CPU backend runs several times slower per network: TrainContext caps a ResNet's run group
    at one run per CPU device, and leaves an MLP's group alone."""
    from nc_jax.checks import context as context_module
    from nc_jax.models import MLP, ResNet
    from nc_jax.train import runs_per_device

    resnet = ResNet(image_shape=(1, 8, 8), head=MLP((10,), num_linear=1))
    mlp = MLP((16, 10), num_linear=1)
    assert runs_per_device(resnet, "cpu") == 1 and runs_per_device(resnet, "gpu") is None
    assert runs_per_device(mlp, "cpu") is None
    groups = []
    monkeypatch.setattr(
        context_module, "train", lambda *args, run_group, **kw: groups.append(run_group)
    )
    cpu = jax.devices("cpu")[0]
    state = SimpleNamespace(step=np.zeros(6))
    context_module.TrainContext(devices=[cpu]).train(resnet, None, None, state)
    context_module.TrainContext(devices=[cpu]).train(mlp, None, None, state)
    context_module.TrainContext(devices=[cpu], run_group=4).train(mlp, None, None, state)
    assert groups == [1, 6, 4]


@pytest.mark.parametrize("paper", ["jacot2025", "zhu2021", "sukenik2024", "sukenik2025"])
def test_every_setting_refuses_steps_that_are_not_a_multiple_of_log_every(paper):
    """One shared rule (nc_jax.checks.validate.check_steps), named after the option, before
    any training."""
    validate.check_steps(200, 100)
    for steps, log_every in ((250, 100), (50, 100), (100, 0)):
        with pytest.raises(SettingError, match="steps"):
            validate.check_steps(steps, log_every)
    setting = contract.get_paper(paper).setting
    with pytest.raises(SettingError, match="must be a positive multiple of log_every"):
        setting(steps=250, log_every=100)


def test_finish_cell_runs_on_whole_cells_only():
    """One process: run_paper applies the paper's finish_cell; a multi-host part is left
    unfinished, and finish_merged finishes the merged cell and evaluates its checks again."""
    from nc_jax.checks.runner import finish_merged, run_paper

    setting = toy_paper.Setting(seeds=(0, 1, 2))
    whole = SimpleNamespace(process_index=0, process_count=1, share=lambda n: np.arange(n))
    (outcome,) = run_paper(toy_paper.PAPER, [setting], whole)
    assert [r.quantities["cell_runs"] for r in outcome.runs] == [3.0, 3.0, 3.0]
    part = SimpleNamespace(process_index=1, process_count=2, share=lambda n: np.arange(1, n, 2))
    (unfinished,) = run_paper(toy_paper.PAPER, [setting], part)
    assert [r.index for r in unfinished.runs] == [1]
    assert "cell_runs" not in unfinished.runs[0].quantities
    record = {"runs": results.encode_runs(outcome.runs), "checks": []}
    for run in record["runs"]:
        run["quantities"] = {k: v for k, v in run["quantities"].items() if not k.startswith("cell")}
    merged, arrays = finish_merged(toy_paper.PAPER, setting, record, {"x": np.zeros(3)})
    assert [r["quantities"]["cell_runs"] for r in merged["runs"]] == [3.0, 3.0, 3.0]
    assert [c["verdict"] for c in merged["checks"]] == ["holds"] * 3 and "x" in arrays


def test_complete_quantities_adds_what_the_checks_read_as_nan():
    from nc_jax.checks import complete_quantities

    completed = complete_quantities({"std": 1.0, "kind": 2.0}, toy_paper.PAPER.theorems)
    assert completed["std"] == 1.0 and completed["kind"] == 2.0
    assert np.isnan(completed["mean_abs"]) and np.isnan(completed["max_abs"])
    result = contract.check(toy_paper.BOUND, completed)
    assert result.verdict == "vacuous"  # NaN is never a measurement
    with pytest.raises(ValueError, match="mean_abs"):
        contract.check(toy_paper.BOUND, {"std": 1.0, "max_abs": 2.0})  # still refused
