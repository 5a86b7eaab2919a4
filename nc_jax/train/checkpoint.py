"""Checkpoints of a batch of runs: the run state and the trajectory logged so far.

Layout of a checkpoint directory:
  state-<chunk>.npz   every leaf of the RunState pytree (leaf_0, leaf_1, ...)
  logs-<chunk>.npz    the trajectory so far, one array per measurement (R, logs, ...)
  checkpoint.json     {"chunk": k, "fingerprint": ...}: written last, it names the complete pair

Each file is written atomically and the pointer file only after both data files exist, so a run
killed at any moment resumes from the last complete checkpoint; older pairs are then removed.
The fingerprint (model, configuration, number of runs) guards against resuming a different job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nc_jax.io import (
    read_npz,
    read_tree_npz,
    write_json_atomic,
    write_npz_atomic,
    write_tree_npz_atomic,
)

POINTER = "checkpoint.json"


def save_checkpoint(
    directory: Path, state: Any, logs: dict[str, np.ndarray], chunk: int, fingerprint: str
) -> None:
    """Save ``state`` (a pytree) and ``logs`` as checkpoint number ``chunk``."""
    directory = Path(directory)
    write_tree_npz_atomic(directory / f"state-{chunk}.npz", state)
    write_npz_atomic(directory / f"logs-{chunk}.npz", logs)
    write_json_atomic(directory / POINTER, {"chunk": chunk, "fingerprint": fingerprint})
    for old in (*directory.glob("state-*.npz"), *directory.glob("logs-*.npz")):
        if old.stem.split("-")[-1] != str(chunk):
            old.unlink()


def load_checkpoint(
    directory: Path, template: Any, fingerprint: str
) -> tuple[Any, dict[str, np.ndarray], int] | None:
    """The (state, logs, chunk) saved in ``directory``, or None when there is no checkpoint.

    ``template`` is a pytree with the structure of the saved state (the initial state).

    Raises:
        ValueError: when the checkpoint belongs to a different job (fingerprint mismatch) or
            its state does not match the template's structure.
    """
    pointer = Path(directory) / POINTER
    if not pointer.exists():
        return None
    meta = json.loads(pointer.read_text())
    if meta["fingerprint"] != fingerprint:
        raise ValueError(
            f"the checkpoint in {directory} was written by a different job (model, config or "
            "number of runs differ); use another checkpoint_dir or delete it to start afresh"
        )
    chunk = int(meta["chunk"])
    state = read_tree_npz(Path(directory) / f"state-{chunk}.npz", template)
    return state, read_npz(Path(directory) / f"logs-{chunk}.npz"), chunk
