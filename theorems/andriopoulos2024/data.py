"""Regression data of the neural-regression-collapse checks (docs/theory/andriopoulos2024.md): an
embedded multivariate target and a reader of local D4RL files.

- ``digits``: scikit-learn's 8x8 digits as an image-completion task. The input is the top half
  of the image (rows 0-3, 32 pixels); the n = 4 targets are the mean intensities of the four
  4 x 2 pixel blocks of the bottom half (rows 4-7, columns 0-1, 2-3, 4-5, 6-7). Why this target
  and not the quadrant means of the whole image: those are a fixed linear map of the input, so
  a linear model fits them exactly and Sigma is just a projection of the input covariance; the
  bottom half is not a function of the top half (a linear fit explains 26-39% of each block's
  variance), so the task has an irreducible error, correlated targets (correlations -0.24 to
  0.26) and an anisotropic Sigma (eigenvalues spread by a factor of about 15), like the paper's
  imitation-learning targets. Shipped with scikit-learn: no download.
- ``d4rl``: a D4RL-format HDF5 file (MuJoCo imitation learning, the paper's Swimmer, Reacher
  and Hopper): ``observations`` (N, obs_dim) are the inputs and ``actions`` (N, act_dim) the
  targets (behaviour cloning). Needs ``h5py``.

Conventions (``prepare``): a subset of ``num_samples`` rows drawn with a fixed seed (0);
inputs z-scored per column (constant columns left at 0); targets centred and divided by ONE
common factor so that tr(Sigma) / n = 1: the shape of Sigma (correlations, anisotropy,
lambda_min / lambda_max), which NRC3 and the UFM optimum read, is kept, and weight decays
mean the same on every dataset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATASETS: tuple[str, ...] = ("digits", "d4rl")
D4RL_KEYS = ("observations", "actions")
SUBSET_SEED = 0


class RegressionSet(NamedTuple):
    """x (M, D) float64 inputs and targets (M, n) float64, prepared (see the module docstring);
    name says where they come from."""

    x: np.ndarray
    targets: np.ndarray
    name: str


def digits_completion() -> tuple[np.ndarray, np.ndarray]:
    """(x (1797, 32), targets (1797, 4)): the top half of every digit (pixels scaled to [0, 1])
    and the mean intensities of the four 4 x 2 blocks of its bottom half."""
    from sklearn.datasets import load_digits

    images = load_digits().images / 16.0  # (1797, 8, 8), counts 0-16 -> [0, 1]
    x = images[:, :4].reshape(len(images), -1)
    targets = np.stack([images[:, 4:, 2 * j : 2 * j + 2].mean(axis=(1, 2)) for j in range(4)], 1)
    return x, targets


def read_d4rl(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(observations (N, obs_dim), actions (N, act_dim)) of a D4RL-format HDF5 file.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a key is missing or the two arrays do not match row for row.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no D4RL file {path}: pass --data-file PATH to an HDF5 file with the datasets "
            f"{', '.join(D4RL_KEYS)} (e.g. hopper-medium-v2.hdf5 from the D4RL release)"
        )
    with h5py.File(path, "r") as handle:
        missing = [key for key in D4RL_KEYS if key not in handle]
        if missing:
            raise ValueError(
                f"{path} lacks the datasets {missing}; a D4RL file holds "
                f"{', '.join(D4RL_KEYS)} (found: {', '.join(sorted(handle))})"
            )
        x, targets = (np.asarray(handle[key][...], np.float64) for key in D4RL_KEYS)
    if x.ndim != 2 or targets.ndim != 2 or len(x) != len(targets):
        raise ValueError(
            f"{path}: observations {x.shape} and actions {targets.shape} must be (N, obs_dim) "
            "and (N, act_dim) with the same N"
        )
    return x, targets


def standardise_inputs(x: np.ndarray) -> np.ndarray:
    """Each column of x (M, D) centred and divided by its standard deviation (constant columns
    become 0)."""
    centred = x - x.mean(axis=0)
    scale = centred.std(axis=0)
    return centred / np.where(scale > 0, scale, 1.0)


def scale_targets(targets: np.ndarray) -> np.ndarray:
    """Targets (M, n) centred and divided by one common factor so that tr(Sigma) / n = 1,
    Sigma = (1/M) sum_i (y_i - ybar)(y_i - ybar)^T (docs/theory/andriopoulos2024.md)."""
    centred = targets - targets.mean(axis=0)
    mean_variance = float(np.mean(centred**2))  # (1/n) sum_j Sigma_jj = tr(Sigma) / n
    if not mean_variance > 0:
        raise ValueError("the targets are constant: Sigma = 0 and there is nothing to regress")
    return centred / np.sqrt(mean_variance)


def prepare(x: np.ndarray, targets: np.ndarray, num_samples: int, name: str) -> RegressionSet:
    """A subset of ``num_samples`` rows (fixed seed SUBSET_SEED; all rows when there are no
    more), inputs standardised, targets centred and scaled (module docstring)."""
    if num_samples > len(x):
        raise ValueError(
            f"num_samples = {num_samples} but {name} has only {len(x)} samples: "
            f"pass --num-samples <= {len(x)}"
        )
    rows = np.sort(np.random.default_rng(SUBSET_SEED).permutation(len(x))[:num_samples])
    return RegressionSet(standardise_inputs(x[rows]), scale_targets(targets[rows]), name)


def load(name: str, num_samples: int, data_file: str | None = None) -> RegressionSet:
    """The prepared regression set ``name`` (one of DATASETS) with ``num_samples`` rows."""
    if name == "digits":
        return prepare(*digits_completion(), num_samples, "digits (top half -> bottom blocks)")
    if name == "d4rl":
        if data_file is None:
            raise ValueError("dataset d4rl reads --data-file PATH (a D4RL HDF5 file)")
        return prepare(*read_d4rl(data_file), num_samples, f"d4rl {Path(data_file).name}")
    raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
