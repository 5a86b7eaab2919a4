"""The wheel stands alone: built from the repository, it holds the papers and the shipped grids
(and neither the tests nor the experiment scripts), and installed outside the source tree it
lists the checks and grids, runs a quick check and a quick sweep by the grid's name, plots and
writes the report."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# one process outside the source tree: where the packages come from, then the commands
PROGRAM = """
import nc_jax, theorems
from nc_jax.cli import main
print("FROM", nc_jax.__file__, theorems.__file__)
short = ["--set", "steps=500", "--set", "log_every=250", "--set", "lambda_scales=[[1.0]]"]
commands = [
    ["check", "--list"],
    ["sweep", "--list"],
    ["check", "zhu2021", "--quick", "--steps", "500", "--log-every", "250", "--results", "check"],
    ["sweep", "zhu2021/ufm", "--quick", *short, "--out", "sweep", "--no-progress"],
    ["plot", "sweep"],
    ["report", "sweep"],
]
print("STATUS", *[main(command) for command in commands])
"""


def test_the_wheel_runs_outside_the_source_tree(tmp_path):
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    source = tmp_path / "source"  # a copy: the build writes build/ and *.egg-info beside it
    for name in ("nc_jax", "theorems"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "-q"]
    build = ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)]
    subprocess.run([*pip, *build], check=True, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("nc_jax-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    grids = {f"nc_jax/grids/{p.name}" for p in (ROOT / "nc_jax" / "grids").glob("*.toml")}
    assert grids and grids <= names
    assert "theorems/jacot2025/__init__.py" in names
    assert not any(n.startswith(("tests/", "experiments/")) for n in names)
    install = ["install", "--no-deps", "--target", str(site), str(wheel)]
    subprocess.run([*pip, *install], check=True, timeout=300, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    (located,) = [line.split()[1:] for line in out.splitlines() if line.startswith("FROM ")]
    assert all(Path(file).is_relative_to(site) for file in located)
    assert "jacot2025.thm3_1.nc1" in out and "jacot2025/width" in out  # the two --list
    (codes,) = [line.split()[1:] for line in out.splitlines() if line.startswith("STATUS ")]
    # a check and a sweep exit 0 or 1 (a violated check); the lists, plot and report exit 0
    assert codes[:2] == ["0", "0"] and set(codes[2:4]) <= {"0", "1"} and codes[4:] == ["0", "0"]
    assert (elsewhere / "check" / "checks.txt").is_file()
    assert (elsewhere / "sweep" / "report.html").is_file()
