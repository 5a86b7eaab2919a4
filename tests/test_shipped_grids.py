"""The grids nc-jax ships (nc_jax/grids, package data), found by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from nc_jax import sweep
from nc_jax.cli import main as cli_main


def test_a_shipped_grid_is_found_by_name_and_listed(tmp_path, capsys):
    """The grids ship inside the package (nc_jax/grids, package data): `nc-jax sweep NAME` finds
    one by its name, with or without the slash after the paper; a path that exists wins; an
    unknown name is a usage error listing the names; --list prints them."""
    shipped = sweep.shipped_grids()
    assert "jacot2025_width" in shipped and len(shipped) >= 10
    width = shipped["jacot2025_width"]
    assert sweep.grid_path("jacot2025/width") == width == sweep.grid_path("jacot2025_width")
    own = tmp_path / "jacot2025_width.toml"
    own.write_text(width.read_text())
    assert sweep.grid_path(own) == own  # a file given by its path
    grid = sweep.read_grid_file("jacot2025/width", profile="quick")
    assert grid.paper == "jacot2025"
    with pytest.raises(ValueError, match="no shipped grid 'nosuch'.*jacot2025_width"):
        sweep.grid_path("nosuch")
    assert cli_main(["sweep", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "jacot2025/width " in listed and "zhu2021/ufm " in listed
    assert cli_main(["sweep", "nosuch", "--out", str(tmp_path / "out")]) == 2
    assert "nc-jax sweep --list" in capsys.readouterr().err
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "grids/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["nc_jax"]
