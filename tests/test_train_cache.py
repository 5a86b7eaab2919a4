"""JAX's persistent compilation cache as the commands turn it on (nc_jax.train.cache): where it
lives, how it is turned off, and that a second process reuses what a first one compiled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nc_jax.train.cache import cache_directory


def test_the_directory_follows_the_environment(tmp_path):
    home = str(Path.home())
    assert cache_directory({}) == Path(home) / ".cache" / "nc-jax" / "xla"
    assert cache_directory({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "nc-jax" / "xla"
    assert cache_directory({"JAX_COMPILATION_CACHE_DIR": "/a"}) == Path("/a")
    both = {"JAX_COMPILATION_CACHE_DIR": "/a", "NC_JAX_COMPILATION_CACHE": "/b"}
    assert cache_directory(both) == Path("/b")
    for off in ("off", "0", "false", "No"):
        assert cache_directory({"NC_JAX_COMPILATION_CACHE": off, "XDG_CACHE_HOME": "/x"}) is None


# One process: the cache on in DIR (or off with --no-compilation-cache), a program compiled,
# and the cache's hits and writes counted through jax.monitoring.
PROGRAM = """
import sys, jax, jax.numpy as jnp
from nc_jax.train import enable_compilation_cache
events = []
jax.monitoring.register_event_listener(lambda name, **_: events.append(name))
print(enable_compilation_cache(sys.argv[1] != "off"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum() + jnp.linalg.norm(x))
f(jnp.ones((7, 5))).block_until_ready()
print(sum("cache_hits" in e for e in events), sum("cache_misses" in e for e in events))
"""


def _compile_once(directory: Path, mode: str) -> tuple[str, int, int]:
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["NC_JAX_COMPILATION_CACHE"] = str(directory)
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    used, counts = done.stdout.strip().splitlines()[-2:]
    hits, misses = (int(n) for n in counts.split())
    return used, hits, misses


@pytest.mark.parametrize("mode", ["on", "off"])
def test_a_second_process_reuses_the_first_ones_programs_unless_turned_off(tmp_path, mode):
    first = _compile_once(tmp_path / "xla", mode)
    second = _compile_once(tmp_path / "xla", mode)
    if mode == "off":
        assert first == second == ("None", 0, 0)
        assert not (tmp_path / "xla").exists()
        return
    assert first[0] == str(tmp_path / "xla")
    assert first[1] == 0 and first[2] >= 1  # compiled and written
    assert any((tmp_path / "xla").iterdir())
    assert second[1] >= 1  # read back


def test_a_run_once_program_compiles_without_llvm_optimisation_on_the_cpu(monkeypatch):
    """jit_run_once passes RUN_ONCE_OPTIONS on the CPU (and nothing elsewhere); the program
    computes what jax.jit's does, to rounding."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from nc_jax.train import cache

    def program(x):
        return jnp.tanh(x @ x.T).sum(axis=1) + jnp.linalg.norm(x, axis=1)

    x = jnp.asarray(np.random.default_rng(0).normal(size=(6, 4)))
    np.testing.assert_allclose(cache.jit_run_once(program)(x), jax.jit(program)(x), rtol=1e-12)
    seen = []
    monkeypatch.setattr(cache.jax, "jit", lambda fn, **kwargs: seen.append(kwargs) or fn)
    cache.jit_run_once(program)
    monkeypatch.setattr(cache.jax, "default_backend", lambda: "gpu")
    cache.jit_run_once(program)
    assert seen == [{"compiler_options": cache.RUN_ONCE_OPTIONS}, {}]
