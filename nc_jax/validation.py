"""Eager argument checks shared by the public functions of nc_jax.

Every public function validates its inputs before any computation. Shape checks always run;
checks that need values (finite entries, labels in range, every class present) run only when the
array is concrete, so that the same functions stay usable under ``jit`` and ``vmap`` (where they
receive tracers). Each message names the argument and says how to fix it.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def is_traced(x: Any) -> bool:
    """True when ``x`` is a JAX tracer (inside jit/vmap/grad), so its values are unknown."""
    return isinstance(x, jax.core.Tracer)


def check_num_classes(num_classes: Any, name: str = "num_classes") -> int:
    """Return ``num_classes`` as an int after checking it is a Python integer >= 2."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(
            f"{name} must be a Python int (the number of classes K), "
            f"got {type(num_classes).__name__}"
        )
    if num_classes < 2:
        raise ValueError(
            f"{name} must be >= 2: neural-collapse metrics compare classes, got K={num_classes}"
        )
    return int(num_classes)


def check_matrix(a: Any, name: str, ndim: int = 2) -> None:
    """Check that ``a`` has ``ndim`` axes and, when concrete, only finite entries."""
    shape = np.shape(a)
    if len(shape) != ndim:
        raise ValueError(
            f"{name} must have {ndim} axes, got shape {shape}"
            + (" (features are stored (N, d), one sample per row)" if ndim == 2 else "")
        )
    if 0 in shape:
        raise ValueError(f"{name} is empty (shape {shape}); pass at least one entry per axis")
    if not is_traced(a) and not np.all(np.isfinite(np.asarray(a))):
        raise ValueError(
            f"{name} contains NaN or inf; a diverged run must be flagged before measuring it"
        )


def check_labels(
    y: Any, num_samples: int, num_classes: int, name: str = "y", require_all_classes: bool = True
) -> None:
    """Check integer labels of shape (num_samples,) with values in [0, num_classes).

    With ``require_all_classes`` every class must occur at least once (class means of an empty
    class are undefined).
    """
    shape = np.shape(y)
    if shape != (num_samples,):
        raise ValueError(
            f"{name} must have shape ({num_samples},) to match the {num_samples} feature rows, "
            f"got {shape}"
        )
    if not np.issubdtype(np.asarray(y).dtype if not is_traced(y) else y.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if is_traced(y):
        return
    values = np.asarray(y)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"{name} must lie in [0, {num_classes}) for num_classes={num_classes}, "
            f"found labels in [{low}, {high}]"
        )
    if require_all_classes:
        counts = np.bincount(values, minlength=num_classes)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            raise ValueError(
                f"{name} has no sample of class(es) {empty.tolist()}; every one of the "
                f"{num_classes} classes needs at least one sample (or lower num_classes)"
            )
