"""Forgetting of a sequence of tasks from its accuracy matrix, in float64 NumPy.

A[i, j] is the accuracy on task j after training task i (``nc_jax.train.continual_readout``
reads it with the network's own head and with linear probes). Forgetting is the mean over the
earlier tasks of the drop from the accuracy right after a task to the accuracy after the last
one (the sign of Lanzillotta, Meier and Hofmann's slides: > 0 is forgetting).
"""

from __future__ import annotations

import numpy as np


def forgetting(accuracy: np.ndarray) -> np.ndarray:
    """F = mean over the tasks j < T - 1 of A_jj - A_{T-1, j}, for accuracies A (..., T, T)
    (T >= 2; entries above the diagonal are not read); shape (...)."""
    accuracy = np.asarray(accuracy, np.float64)
    drops = np.diagonal(accuracy, axis1=-2, axis2=-1)[..., :-1] - accuracy[..., -1, :-1]
    return drops.mean(-1)


def forgetting_se(num_tasks: float, test_samples: float) -> float:
    """Worst-case standard error of a forgetting F over ``num_tasks`` T tasks, each accuracy on
    m = ``test_samples`` test samples of its task: F averages T - 1 differences of two
    accuracies, each of variance at most 1 / (4 m), so SE <= sqrt(2 / (4 m (T - 1)))."""
    return float(np.sqrt(0.5 / (test_samples * (num_tasks - 1))))
