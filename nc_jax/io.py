"""Atomic file writes: a reader (or a crash) never sees a half-written file."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
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
