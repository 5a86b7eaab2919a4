"""nc-jax report: one self-contained HTML page (no script, no external resource) with the
verdict table, the embedded plots (decodable PNGs), every check's statement and the commands
that regenerate it; the grid it prints reads back as the same grid."""

from __future__ import annotations

import base64
import re

import tomllib

from nc_jax import report, results, sweep
from nc_jax.cli import main as cli_main


def test_report_is_self_contained_and_holds_every_part(toy_sweep, tmp_path):
    out = tmp_path / "page" / "report.html"
    assert cli_main(["report", str(toy_sweep), "--x", "size", "--y", "scale", "-o", str(out)]) == 0
    page = out.read_text()
    assert "<title>nc-jax report: toy</title>" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    (verdicts,) = re.findall(r'<table id="verdicts">(.*?)</table>', page, re.S)
    assert verdicts.count("<tr>") == 2  # the header and the one check
    assert "toy.mean_abs" in verdicts and "the run trained without diverging" in verdicts
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4  # bound vs size, the tightness atlas, the regime map, the curves
    assert "Where each check speaks, over size and scale" in page
    for data in images:
        png = base64.b64decode(data)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "E|x| &lt;= 2 std" in page and "Trivial reference" in page
    assert f"nc-jax sweep grid.toml --out {toy_sweep}" in page


def test_the_printed_grid_reads_back_as_the_same_grid(toy_sweep):
    stored = results.read_grid(toy_sweep)
    text = report.grid_toml(stored)
    again = sweep.parse_grid(tomllib.loads(text))
    assert again.to_data() == {key: stored[key] for key in again.to_data()}


def test_report_of_a_missing_directory_is_a_usage_error(tmp_path, capsys):
    assert cli_main(["report", str(tmp_path / "nothing")]) == 2
    assert "no grid.json" in capsys.readouterr().err


def test_the_report_shows_the_environment_and_warns_when_cells_mix_them(toy_sweep):
    """Every cell records its environment (matmul precision, x64, XLA flags, devices, cache);
    the report states what they share and warns, naming the key, when one cell differs."""
    records = results.read_cells(toy_sweep)
    environment = records[0]["environment"]
    assert {"matmul_precision", "x64", "xla_flags", "device_kind", "device_count"} <= set(
        environment
    )
    assert environment["compilation_cache"] in ("on", "off")
    page = report.build(toy_sweep)
    assert "Environment: matmul_precision " in page and "Warning:" not in page
    changed = records[1] | {"environment": environment | {"matmul_precision": "highest"}}
    results.write_cell(toy_sweep, changed, results.read_arrays(toy_sweep, changed["cell"]))
    shared, mixed = report.environments(results.read_cells(toy_sweep))
    assert "matmul_precision" not in shared
    assert sorted(mixed["matmul_precision"]) == sorted([environment["matmul_precision"], "highest"])
    page = report.build(toy_sweep)
    assert '<p class="warning"><b>Warning:</b>' in page and "matmul_precision: " in page


def test_the_report_says_how_to_cite_the_papers_and_the_tool(toy_sweep):
    import toy_paper

    import nc_jax

    page = report.build(toy_sweep)
    (cite,) = re.findall(r"<h2>How to cite</h2>(.*?)<h2>", page, re.S)
    assert f"<li>{report._escape(toy_paper.PAPER.title)}</li>" in cite
    assert nc_jax.CITATION_TITLE in cite and f"version = {{{nc_jax.__version__}}}" in cite
