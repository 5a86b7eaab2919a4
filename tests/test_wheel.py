"""The wheel stands alone: built from the repository, it holds the papers and the shipped grids
(and neither the tests nor the experiment scripts), and installed into a fresh virtual
environment outside the source tree its console script lists the shipped grids, and its Python
lists the checks, runs a quick check and a quick sweep by the grid's name, plots and writes the
report.

The fresh environment takes the wheel's dependencies from the environment running the tests (a
path file names its site-packages; an installed package's path files are not read from there, so
the editable install of the source tree stays invisible): installing JAX again would download
hundreds of megabytes per test run. ``pip check`` proves that the wheel's declared requirements
are met there, and unmet before the path file exists."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIP = [sys.executable, "-m", "pip", "-q"]
# one process outside the source tree: where the packages come from, then the commands
PROGRAM = """
import nc_jax, theorems
from nc_jax.cli import main
print("FROM", nc_jax.__file__, theorems.__file__)
short = ["--set", "steps=500", "--set", "log_every=250", "--set", "lambda_scales=[[1.0]]"]
commands = [
    ["check", "--list"],
    ["check", "zhu2021", "--quick", "--steps", "500", "--log-every", "250", "--results", "check"],
    ["sweep", "zhu2021/ufm", "--quick", *short, "--out", "sweep", "--no-progress",
     "--log-dir", "logs"],
    ["plot", "sweep"],
    ["report", "sweep"],
]
print("STATUS", *[main(command) for command in commands])
"""


def build_wheel(tmp_path: Path) -> Path:
    """The wheel built from a copy of the sources (the build writes build/ and *.egg-info
    beside them), after checking what it holds."""
    source, wheels = tmp_path / "source", tmp_path / "wheels"
    for name in ("nc_jax", "theorems"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)]
    subprocess.run([*PIP, *build], check=True, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("nc_jax-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    grids = {f"nc_jax/grids/{p.name}" for p in (ROOT / "nc_jax" / "grids").glob("*.toml")}
    assert grids and grids <= names
    assert "theorems/jacot2025/__init__.py" in names
    assert not any(n.startswith(("tests/", "experiments/")) for n in names)
    return wheel


def fresh_environment(directory: Path, wheel: Path) -> tuple[Path, Path]:
    """A new virtual environment in ``directory`` holding ``wheel``, its dependencies taken
    from this environment (module docstring); returns its python and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    install = ["--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    subprocess.run([*PIP, *install], check=True, timeout=300, capture_output=True)
    check = [sys.executable, "-m", "pip", "--python", str(python), "check"]
    unmet = subprocess.run(check, capture_output=True, text=True)
    assert unmet.returncode != 0 and "jax" in unmet.stdout  # the wheel declares what it needs
    site = Path(run_in(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    here = sysconfig.get_paths()
    (site / "_test_dependencies.pth").write_text(f"{here['purelib']}\n{here['platlib']}\n")
    met = subprocess.run(check, capture_output=True, text=True)
    assert met.returncode == 0, met.stdout
    return python, site


def test_the_wheel_runs_outside_the_source_tree(tmp_path):
    python, site = fresh_environment(tmp_path / "venv", build_wheel(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    run = dict(cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    grids = subprocess.run([str(python.parent / "nc-jax"), "sweep", "--list"], **run)
    assert grids.returncode == 0 and "jacot2025/width" in grids.stdout, grids.stderr[-2000:]
    done = subprocess.run([str(python), "-c", PROGRAM], **run)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    (located,) = [line.split()[1:] for line in out.splitlines() if line.startswith("FROM ")]
    assert all(Path(file).is_relative_to(site) for file in located)
    assert "jacot2025.thm3_1.nc1" in out  # check --list
    assert "Per (d, lambda scale c): the closed form" in out  # the sweep printed its grid's table
    (codes,) = [line.split()[1:] for line in out.splitlines() if line.startswith("STATUS ")]
    # every command exits 0: short runs are unconverged, so their claims are vacuous, not violated
    assert codes == ["0"] * 5
    assert (elsewhere / "check" / "checks.txt").is_file()
    assert (elsewhere / "sweep" / "report.html").is_file()
    assert list((elsewhere / "logs").glob("zhu2021-*/*/events.out.tfevents.*"))


def run_in(python: Path, code: str) -> str:
    """What ``code`` prints when run by ``python``, stripped."""
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()
