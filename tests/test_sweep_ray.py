"""The Ray executor of nc-jax sweep (nc_jax.sweep.ray) on a Ray instance started on this machine:
the same cells, verdicts and measurements as the local executor, resume, file modes, and the
driver writing cells its filesystem lacks."""

from __future__ import annotations

import stat
import sys

import numpy as np
import pytest

from nc_jax import results as store
from nc_jax import sweep
from nc_jax.checks.contract import get_paper
from nc_jax.sweep import ray as sweep_ray

ray = pytest.importorskip("ray")

GRID = {
    "paper": "jacot2025",
    "fixed": {
        "n_per_class": 3,
        "steps": 20,
        "log_every": 10,
        "replay_steps": 1,
        "learning_rates": [1e-3],
        "weight_decay": 0.5,
    },
    "grid": {"widths": [[16, 8, 8, 8, 10], [24, 8, 8, 8, 10]], "seeds": [[0], [1]]},
}
KEYS = ["cell", "run", "check"]


@pytest.fixture(scope="module")
def ray_instance():
    """A fresh Ray instance on this machine (address="local": never an existing cluster)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def sweeps(ray_instance, tmp_path_factory):
    """The grid swept by the local executor and by the Ray executor (4 cells, 2 buckets)."""
    grid = sweep.parse_grid(GRID)
    local, remote = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("ray")
    lines: list[str] = []
    written_local = sweep.sweep(grid, local, executor="local", progress=False, echo=lambda _: None)
    written_ray = sweep.sweep(grid, remote, executor="ray", progress=False, echo=lines.append)
    return grid, local, remote, written_local, written_ray, lines


@pytest.mark.slow  # a Ray instance takes about 30 s to start
def test_ray_matches_the_local_executor(sweeps):
    _, local, remote, written_local, written_ray, lines = sweeps
    assert written_local == written_ray == 4
    assert sum(line.startswith("bucket ") and " done: 2 cells" in line for line in lines) == 2
    a = sweep.load(local).sort_values(KEYS).reset_index(drop=True)
    b = sweep.load(remote).sort_values(KEYS).reset_index(drop=True)
    assert a[KEYS].equals(b[KEYS])
    assert list(a["verdict"]) == list(b["verdict"])
    for column in ("measured", "bound"):
        x, y = a[column].astype(float).to_numpy(), b[column].astype(float).to_numpy()
        # same seeds, float64 in both (the driver's x64 flag is forwarded): at most tiny
        # differences; atol covers the quantities that are rounding noise (~1e-16)
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-12, equal_nan=True)


@pytest.mark.slow  # a Ray instance takes about 30 s to start
def test_rerun_resumes_and_writes_nothing(sweeps):
    grid, _, remote, *_ = sweeps
    before = {p.name: p.stat().st_mtime_ns for p in (remote / store.CELLS).iterdir()}
    assert sweep.sweep(grid, remote, executor="ray", progress=False, echo=lambda _: None) == 0
    # the tasks themselves skip finished cells too (run_bucket), and the driver writes nothing
    plan_ = sweep.plan(get_paper(grid.paper), grid)
    lines: list[str] = []
    assert sweep_ray.RayExecutor().run(plan_, plan_.buckets, remote, lines.append) == 0
    assert sum(" done: 0 cells" in line for line in lines) == 2
    after = {p.name: p.stat().st_mtime_ns for p in (remote / store.CELLS).iterdir()}
    assert after == before


@pytest.mark.slow  # a Ray instance takes about 30 s to start
def test_files_are_readable_by_everyone(sweeps):
    _, _, remote, *_ = sweeps
    files = [p for p in remote.rglob("*") if p.is_file()]
    assert len(files) == 1 + 4 + 4  # grid.json, 4 cells, 4 arrays
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}
    assert not list(remote.rglob(".*.part"))


@pytest.mark.slow  # a Ray instance takes about 30 s to start
def test_driver_writes_the_cells_its_filesystem_lacks(sweeps, tmp_path):
    _, _, remote, *_ = sweeps
    cells = [sweep_ray.read_stored(remote, c) for c in sorted(store.finished_cells(remote))]
    assert sweep_ray.write_missing(tmp_path, cells[:1]) == 1
    assert sweep_ray.write_missing(tmp_path, cells) == 3  # never a cell twice
    assert sweep_ray.write_missing(tmp_path, cells) == 0
    assert store.read_cells(tmp_path) == store.read_cells(remote)


def test_worker_directory_falls_back_to_a_temporary_one(tmp_path):
    assert sweep_ray.worker_directory(str(tmp_path / "out")) == (tmp_path / "out", False)
    folder, temporary = sweep_ray.worker_directory("/proc/nc-jax-not-writable")
    assert temporary and folder.is_dir()
    folder.rmdir()


def test_worker_environment_and_resources():
    env = sweep_ray.worker_env(sweep_ray.Resources(), {"JAX_PLATFORMS": "cpu", "HOME": "/x"})
    assert env == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "JAX_PLATFORMS": "cpu"}
    quarter = sweep_ray.worker_env(sweep_ray.Resources(1, 0.25), {})
    assert quarter["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.188"
    assert sweep_ray.task_resources({}) == sweep_ray.Resources(1.0, 0.0)
    assert sweep_ray.task_resources({"NC_JAX_RAY_GPUS": "0.5"}).num_gpus == 0.5
    with pytest.raises(ValueError, match="NC_JAX_RAY_CPUS"):
        sweep_ray.task_resources({"NC_JAX_RAY_CPUS": "two"})


def test_missing_ray_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ValueError, match=r"pip install 'nc-jax\[distributed\]'"):
        sweep_ray.import_ray()
