"""CITATION.cff: valid Citation File Format fields, its version the package's."""

from __future__ import annotations

from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_citation_file_names_the_tool_at_its_version():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert citation["cff-version"] == "1.2.0"
    for field in ("message", "title", "authors", "type", "license"):
        assert citation[field], field
    assert citation["version"] == project["version"]
    assert citation["license"] == project["license"]
    assert all("name" in a or "family-names" in a for a in citation["authors"])
    import nc_jax  # what the report's "How to cite" block prints

    assert citation["title"] == nc_jax.CITATION_TITLE and citation["version"] == nc_jax.__version__
    assert citation["authors"] == [{"name": nc_jax.CITATION_AUTHORS}]
