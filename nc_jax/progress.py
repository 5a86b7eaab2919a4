"""Progress bars (``rich``) on stderr, shared by the engine, the check runner and the sweep, so
that printed tables on stdout stay clean when piped."""

from __future__ import annotations

from typing import Any


def progress_bars(enabled: bool = True) -> Any:
    """A ``rich.progress.Progress`` on stderr with percentage, elapsed time and ETA; use it as a
    context manager and ``add_task(description, total=...)`` / ``advance(task, n)``. Disabled,
    it draws nothing."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
