"""Rates fitted by least squares, in float64 NumPy: the slope of log y against x with its
ordinary-least-squares standard error (a power law against log x, an exponential decay against
a step count)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

NAN = float("nan")


class LogFit(NamedTuple):
    """log y = intercept + slope x, fitted on n pairs; stderr the slope's standard error."""

    slope: float
    stderr: float
    intercept: float
    n: int


def log_linear_fit(x: np.ndarray, y: np.ndarray) -> LogFit:
    """Ordinary least squares of log y on x (both (n,)): slope b = S_xz / S_xx with z = log y,
    its standard error sqrt(RSS / (n - 2) / S_xx) and the intercept. Every entry but n is NaN
    when n < 3, x does not vary, or a y is not a finite value > 0 (the caller decides which
    pairs to keep)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n = len(x)
    if n < 3 or not np.all(np.isfinite(x)) or not np.all(np.isfinite(y) & (y > 0)):
        return LogFit(NAN, NAN, NAN, n)
    centred = x - x.mean()
    spread = float(np.sum(centred**2))
    if spread == 0:
        return LogFit(NAN, NAN, NAN, n)
    z = np.log(y)
    slope = float(np.sum(centred * (z - z.mean())) / spread)
    residual = z - z.mean() - slope * centred
    stderr = float(np.sqrt(np.sum(residual**2) / (n - 2) / spread))
    return LogFit(slope, stderr, float(z.mean() - slope * x.mean()), n)
