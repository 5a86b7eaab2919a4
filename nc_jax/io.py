"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Files are created readable by everyone (mode 0644, like any file ``open`` creates under the
usual umask), not 0600 as ``tempfile`` would leave them: results are meant to be shared.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

FILE_MODE = 0o644


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def write_json_atomic(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as indented JSON."""
    write_atomic(path, json.dumps(payload, indent=1).encode())


def write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Atomically write named arrays as an (uncompressed) .npz file."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file, name -> array (read eagerly; the file is closed)."""
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def write_tree_npz_atomic(path: Path, tree: Any) -> None:
    """Atomically save the leaves of a pytree as leaf_0, leaf_1, ... (read_tree_npz restores it)."""
    leaves = jax.tree_util.tree_leaves(tree)
    write_npz_atomic(path, {f"leaf_{i}": np.asarray(v) for i, v in enumerate(leaves)})


def read_tree_npz(path: Path, template: Any) -> Any:
    """The pytree saved by write_tree_npz_atomic, with the structure of ``template``.

    Raises:
        ValueError: when the file holds a different number of leaves than the template.
    """
    saved = read_npz(path)
    leaves = [saved[f"leaf_{i}"] for i in range(len(saved))]
    treedef = jax.tree_util.tree_structure(template)
    if treedef.num_leaves != len(leaves):
        raise ValueError(
            f"{path} holds {len(leaves)} arrays but the expected structure has "
            f"{treedef.num_leaves} leaves: it was written for a different model or state"
        )
    return jax.tree_util.tree_unflatten(treedef, leaves)
