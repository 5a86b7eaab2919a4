"""The wheel stands alone: built from the repository, it holds the papers and the shipped grids
(and neither the tests nor the experiment scripts), and installed outside the source tree it
lists the checks and grids, runs a quick check and a quick sweep by the grid's name, plots and
writes the report."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from nc_jax.cli import main; sys.exit(main(sys.argv[1:]))"


def test_the_wheel_runs_outside_the_source_tree(tmp_path):
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "-q"]
    build = ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)]
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

    def run(*args: str, code: str = CLI) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", code, *args]
        return subprocess.run(
            command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600
        )

    where = run(code="import nc_jax, theorems; print(nc_jax.__file__); print(theorems.__file__)")
    assert all(Path(line).is_relative_to(site) for line in where.stdout.split()), where
    listed = run("check", "--list")
    assert listed.returncode == 0 and "jacot2025.thm3_1.nc1" in listed.stdout, listed.stderr
    grids = run("sweep", "--list")
    assert grids.returncode == 0 and "jacot2025/width" in grids.stdout, grids.stderr
    check = run("check", "zhu2021", "--quick", "--results", "check")
    assert check.returncode == 0 and (elsewhere / "check" / "checks.txt").is_file(), check.stderr
    sweep = run("sweep", "zhu2021/ufm", "--quick", "--out", "sweep", "--no-progress")
    assert sweep.returncode in (0, 1), sweep.stderr  # 1: a check is violated
    assert run("plot", "sweep").returncode == 0
    report = run("report", "sweep")
    assert report.returncode == 0 and (elsewhere / "sweep" / "report.html").is_file()
