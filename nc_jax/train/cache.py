"""JAX's persistent compilation cache for nc-jax's commands: a rerun, or an extension of a sweep
with other seeds or values, compiles nothing it compiled before.

The commands that train (``nc-jax check``, ``nc-jax sweep``, the experiment scripts, the Ray
workers) call ``enable_compilation_cache()`` before their first program. The directory is, in
order: ``NC_JAX_COMPILATION_CACHE`` when it names a directory, JAX's own
``JAX_COMPILATION_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/nc-jax/xla`` (default
``~/.cache/nc-jax/xla``). ``NC_JAX_COMPILATION_CACHE=off`` (or ``0``, ``false``, ``no``) or the
command-line flag ``--no-compilation-cache`` turns it off. Entries are XLA executables keyed by
the program, the compile options, the XLA flags, the backend and the versions, so a cached
executable is the one XLA would have built: results are bit-identical with and without it.
Programs that compile in less than ``MIN_COMPILE_SECONDS`` are not written (their entry would
cost about as much to read as to rebuild).

``jit_run_once`` compiles a program that runs once per job (the initial states, a paper's
float64 measurement) for a short compilation rather than a fast run on the CPU.

In memory, the functions that build compiled programs (the engine's initial states, chunks and
measurements, the continual trainer's sequences of tasks, the readout's probes) are cached per
model and configuration with ``program_cache``; ``clear_compiled_programs`` empties every one
of them, so that the next job traces and compiles afresh.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
from jax.experimental.compilation_cache import compilation_cache

ENV_VARIABLE = "NC_JAX_COMPILATION_CACHE"
OFF_VALUES = ("off", "0", "false", "no")
MIN_COMPILE_SECONDS = 0.2
_PROGRAM_CACHES: list[Any] = []  # every program_cache, for clear_compiled_programs


def program_cache(maxsize: int) -> Callable[[Callable[..., Any]], Any]:
    """``functools.lru_cache(maxsize)`` for a function that builds a compiled program, registered
    so that ``clear_compiled_programs`` empties it with the others."""

    def decorate(build: Callable[..., Any]) -> Any:
        cached = functools.lru_cache(maxsize=maxsize)(build)
        _PROGRAM_CACHES.append(cached)
        return cached

    return decorate


def clear_compiled_programs() -> None:
    """Forget every cached program (``program_cache``), so that the next job traces and
    compiles afresh (e.g. a benchmark that times compilation). JAX's own caches are
    ``jax.clear_caches()``."""
    for cache in _PROGRAM_CACHES:
        cache.cache_clear()


def cache_directory(environ: dict[str, str] | None = None) -> Path | None:
    """The cache directory the environment asks for (module docstring), or None when off."""
    environ = dict(os.environ) if environ is None else environ
    chosen = environ.get(ENV_VARIABLE, "").strip()
    if chosen.lower() in OFF_VALUES:
        return None
    if chosen:
        return Path(chosen).expanduser()
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(environ["JAX_COMPILATION_CACHE_DIR"]).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "nc-jax" / "xla"


def enable_compilation_cache(enabled: bool = True, directory: Path | None = None) -> Path | None:
    """Turn JAX's persistent compilation cache on in ``directory`` (default:
    ``cache_directory()``), unless ``enabled`` is False or, without a ``directory``, the
    environment turns it off; returns the directory in use, or None. May be called again to
    move or turn off the cache within one process (e.g. a benchmark's cold and warm runs)."""
    compilation_cache.reset_cache()  # the next compilation reads the settings below afresh
    if directory is None:
        directory = cache_directory() if enabled else None
    if not enabled or directory is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return None
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return directory


# XLA's CPU backend without LLVM optimisation. Measured on 2 CPU cores (jax 0.10.2, 64 runs of an
# MLP 64-16-16-16-10 on 50 samples): the initial states compile in 0.51 s instead of 1.98 s and
# run in 22 ms instead of 4; jacot2025's float64 measurement compiles in 1.67 s instead of 2.20 s
# and runs in 125 ms instead of 91. A program that runs many times (a training chunk, the in-loop
# metrics: 39 ms a log instead of 24) keeps the default.
RUN_ONCE_OPTIONS = {"xla_backend_optimization_level": 0}


def jit_run_once(fn: Callable, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fn, **jit_kwargs)`` for a program that runs once per job: on the CPU compiled
    with ``RUN_ONCE_OPTIONS`` (a shorter compilation, a slower run), elsewhere as ``jax.jit``.
    Results agree with ``jax.jit``'s to rounding, not bit for bit: the initial draws of 4
    MLPs 256-64-64-64-10 differed in the last bit of about 4% of their entries, and training
    carries such differences on (the quick jacot2025 check's NTK top eigenvalue moved by 0.1%
    over 200 steps, its verdicts not at all); a program compiled the same way twice gives the
    same result."""
    if jax.default_backend() == "cpu":
        jit_kwargs.setdefault("compiler_options", RUN_ONCE_OPTIONS)
    return jax.jit(fn, **jit_kwargs)
