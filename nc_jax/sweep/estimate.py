"""The time estimate of a sweep, from a timed warm-up that is the sweep's own first work."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nc_jax.checks.contract import setting_cost
from nc_jax.sweep.grid import Cell
from nc_jax.sweep.planning import Bucket


def work(cells: Sequence[Cell]) -> float:
    """Training work of ``cells``: runs x the paper's ``cost()`` of one run."""
    return sum(c.num_runs * setting_cost(c.setting) for c in cells)


def run_steps_of(cells: Sequence[Cell]) -> int:
    """Runs x training steps (the Setting's ``steps``, 1 without one): the bars' unit."""
    return sum(c.num_runs * int(getattr(c.setting, "steps", 1)) for c in cells)


class Estimator:
    """The time estimate, from a timed warm-up that is the sweep's own first work (nothing is
    trained twice): the first bucket's first chunk holds the compilation, its next chunk gives
    the training rate (in the paper's ``cost()`` units per second) and its end the measuring
    time per run. Estimates are printed once the rate is known and again after the first
    bucket; the per-bucket progress bars refine them.

    A bucket's estimate is ``compile_s + work / rate + runs * measure_s`` over its pending
    cells; the total sums it over the buckets.
    """

    def __init__(self, buckets: Sequence[Bucket], done: set[str], echo: Callable[[str], None]):
        self.pending = {b.index: b.pending(done) for b in buckets}
        self.echo = echo
        self.started = time.perf_counter()
        self.marks: list[tuple[float, int]] = []
        self.compile_s = self.rate = self.measure_s = None
        self.first = buckets[0]

    def chunk(self, run_steps: int) -> None:
        """Called after every chunk of the first bucket with the run-steps it trained."""
        self.marks.append((time.perf_counter(), run_steps))
        if len(self.marks) == 2:
            (t0, _), (t1, n1) = self.marks
            cells = self.pending[self.first.index]
            per_run_step = work(cells) / max(1, run_steps_of(cells))
            self.rate = n1 * per_run_step / max(t1 - t0, 1e-9)
            self.compile_s = max(0.0, (t0 - self.started) - (t1 - t0))
            self.echo(f"estimated time (training only): {self._total(0.0):.0f} s; {self._how()}")

    def bucket_done(self) -> None:
        """Called when the first bucket is written: the measuring time per run is known."""
        if self.rate is None or not self.marks:
            return
        runs = sum(c.num_runs for c in self.pending[self.first.index])
        self.measure_s = (time.perf_counter() - self.marks[-1][0]) / max(1, runs)
        left = self._total(self.measure_s) - self._bucket_s(self.first.index, self.measure_s)
        self.echo(f"estimated time left: {left:.0f} s (measuring {self.measure_s:.2f} s per run)")

    def _bucket_s(self, index: int, measure_s: float) -> float:
        cells = self.pending[index]
        runs = sum(c.num_runs for c in cells)
        return self.compile_s + work(cells) / self.rate + runs * measure_s

    def _total(self, measure_s: float) -> float:
        return sum(self._bucket_s(i, measure_s) for i in self.pending)

    def _how(self) -> str:
        return (
            f"warm-up on bucket {self.first.index}: compile {self.compile_s:.1f} s per program, "
            "a rough guide that the bars refine"
        )
