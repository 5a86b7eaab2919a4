"""Hadamard initialisation of the cross-entropy UFM and its reduction to singular values
(Garrod, Keating, Thrampoulidis; docs/theory/ufm_extras.md, "Hadamard
initialisation").

The model is ``nc_jax.models.ufm.UFM`` (bias-free): features H as rows (N, d), classifier
W (K, d), logits Z = H W^T, mean cross entropy over the N = K n samples plus
lambda_W/2 ||W||_F^2 + lambda_H/2 ||H||_F^2 (the engine's ``reduction="mean"`` with coupled
"l2" decay). K is a power of 2 and the classes are balanced (n samples each).

Spectral initialisation. With an orthogonal K x K basis U, a Stiefel frame E (d, K) and spectra
a, b in R^K:

    W = U diag(a) E^T,    h_i = (U diag(b) E^T)[y_i]   (every sample of class k equal).

Derivation [D] (the notes' mechanism, [DN], made into a discrete recursion). Take U = Q the
normalised Sylvester Hadamard matrix, Q = H_K / sqrt(K). The class logits Zbar = Q diag(a b) Q^T
are dyadic, Zbar_{rc} = g(r XOR c), so every column of softmax(Zbar) is a permutation of the
first one, p = softmax(H_K (a b) / K), and softmax(Zbar) = Q diag(pi) Q^T with pi = H_K p. The
data gradients are dL/dW = (1/K) Q diag((pi - 1) b) E^T and dL/dh_i = (1/N) (E diag((pi - 1) a)
Q^T)[:, y_i], so one GD step with learning rate eta keeps the form and maps the spectra by

    a <- (1 - eta lambda_W) a - (eta / K) (pi - 1) b,
    b <- (1 - eta lambda_H) b - (eta / N) (pi - 1) a,

exactly. The loss is -log p_0 (every diagonal entry of softmax(Zbar) is p_0) and ||H||_F^2 =
n ||b||^2. pi_0 = sum(p) = 1, so a_0 and b_0 (the all-ones direction) only decay. For a generic
orthogonal U the softmax is not diagonalised and the singular vectors move.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.models.ufm import UFM
from nc_jax.train import RunState, TrainConfig, TrainData, make_step


def is_power_of_two(value: int) -> bool:
    """True for 1, 2, 4, 8, ..."""
    return value >= 1 and value & (value - 1) == 0


def sylvester_hadamard(order: int) -> np.ndarray:
    """The Sylvester Hadamard matrix H_K (K, K) of +-1 entries, K a power of 2:
    H_1 = [1], H_2m = [[H_m, H_m], [H_m, -H_m]]; symmetric, H_K H_K = K I, and
    (H_K)_{rj} (H_K)_{cj} = (H_K)_{r XOR c, j}."""
    if not is_power_of_two(order):
        raise ValueError(f"a Sylvester Hadamard matrix needs K a power of 2, got {order}")
    matrix = np.ones((1, 1))
    while matrix.shape[0] < order:
        matrix = np.block([[matrix, matrix], [matrix, -matrix]])
    return matrix


def hadamard_basis(order: int) -> np.ndarray:
    """Q = H_K / sqrt(K), orthogonal and symmetric (K, K)."""
    return sylvester_hadamard(order) / np.sqrt(order)


def random_basis(rng: np.random.Generator, order: int) -> np.ndarray:
    """A Haar-random orthogonal K x K basis (the control: not Hadamard)."""
    q, r = np.linalg.qr(rng.normal(size=(order, order)))
    return q * np.sign(np.diag(r))


def random_frame(rng: np.random.Generator, dim: int, order: int) -> np.ndarray:
    """A random Stiefel frame E (d, K), E^T E = I_K."""
    q, r = np.linalg.qr(rng.normal(size=(dim, order)))
    return q * np.sign(np.diag(r))


def spectral_params(
    basis: np.ndarray, frame: np.ndarray, a: np.ndarray, b: np.ndarray, labels: np.ndarray
) -> dict[str, Any]:
    """UFM parameters W = U diag(a) E^T (K, d) and feature rows (U diag(b) E^T)[y] (N, d),
    float64 NumPy, in the layout of ``UFM.init`` (bias-free)."""
    classifier = basis @ np.diag(a) @ frame.T
    class_features = basis @ np.diag(b) @ frame.T
    return {"features": class_features[labels], "head": [{"w": classifier}]}


class Spectra(NamedTuple):
    """Spectral coordinates of UFM parameters in a basis (U, E).

    Attributes:
        a: diag(U^T W E), (K,).
        b: diag(U^T Hbar E), (K,), Hbar the class means of the feature rows (K, d).
        residue: max(||W - U diag(a) E^T||_F / ||W||_F, ||H - (U diag(b) E^T)[y]||_F / ||H||_F):
            0 exactly when the parameters have the spectral form (both the off-diagonal part in
            the basis and anything outside span(E), and any spread within a class).
    """

    a: jax.Array
    b: jax.Array
    residue: jax.Array


def spectral_coordinates(
    params: Any, basis: jax.Array, frame: jax.Array, labels: jax.Array, num_classes: int
) -> Spectra:
    """The Spectra of one run's UFM parameters (traceable; float64 under x64)."""
    w = params["head"][0]["w"]
    h = params["features"]
    counts = jax.ops.segment_sum(jnp.ones_like(h[:, 0]), labels, num_segments=num_classes)
    means = jax.ops.segment_sum(h, labels, num_segments=num_classes) / counts[:, None]
    a = jnp.diag(basis.T @ w @ frame)
    b = jnp.diag(basis.T @ means @ frame)
    w_rest = jnp.linalg.norm(w - basis @ (a[:, None] * frame.T)) / jnp.linalg.norm(w)
    h_model = (basis @ (b[:, None] * frame.T))[labels]
    h_rest = jnp.linalg.norm(h - h_model) / jnp.linalg.norm(h)
    return Spectra(a, b, jnp.maximum(w_rest, h_rest))


class Reduced(NamedTuple):
    """The reduced GD recursion's trajectory, steps 0..T.

    Attributes:
        a, b: (T + 1, K) spectra.
        loss: (T + 1,) mean cross entropy -log p_0.
        objective: (T + 1,) loss + lambda_W/2 ||a||^2 + lambda_H/2 n ||b||^2.
    """

    a: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    objective: np.ndarray


def reduced_probabilities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """p = softmax(H_K (a b) / K), the first column of softmax(Zbar) (K,)."""
    order = a.shape[0]
    logits = sylvester_hadamard(order) @ (a * b) / order
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def reduced_gd(
    a0: np.ndarray,
    b0: np.ndarray,
    *,
    learning_rate: float,
    lambda_w: float,
    lambda_h: float,
    n_per_class: int,
    steps: int,
) -> Reduced:
    """The K-scalar recursion of the module docstring iterated ``steps`` times, in float64
    NumPy (independent of the engine and of JAX)."""
    a, b = np.asarray(a0, np.float64).copy(), np.asarray(b0, np.float64).copy()
    order = a.shape[0]
    signs = sylvester_hadamard(order)
    num_samples = order * n_per_class
    a_path, b_path = [a], [b]
    for _ in range(steps):
        residual = signs @ reduced_probabilities(a, b) - 1.0
        a, b = (
            (1 - learning_rate * lambda_w) * a - learning_rate / order * residual * b,
            (1 - learning_rate * lambda_h) * b - learning_rate / num_samples * residual * a,
        )
        a_path.append(a)
        b_path.append(b)
    loss = [-np.log(reduced_probabilities(x, y)[0]) for x, y in zip(a_path, b_path)]
    a_arr, b_arr, loss_arr = np.stack(a_path), np.stack(b_path), np.asarray(loss)
    penalty = 0.5 * lambda_w * np.sum(a_arr**2, 1) + 0.5 * lambda_h * n_per_class * np.sum(
        b_arr**2, 1
    )
    return Reduced(a_arr, b_arr, loss_arr, loss_arr + penalty)


@functools.lru_cache(maxsize=8)
def _replay_program(model: UFM, config: TrainConfig, steps: int, num_classes: int):
    """jit(vmap over runs(scan of ``steps`` engine steps)) recording the Spectra after every
    step in each run's own basis (cached: bases, frames, learning rates live in arrays)."""
    step = make_step(model, config)

    def one(state: RunState, data: TrainData, basis: jax.Array, frame: jax.Array):
        def body(current: RunState, _: None):
            following = step(current, data)
            spectra = spectral_coordinates(following.params, basis, frame, data.y, num_classes)
            return following, spectra

        return jax.lax.scan(body, state, None, length=steps)

    return jax.jit(jax.vmap(one, in_axes=(0, None, 0, 0)))


def replay_spectra(
    model: UFM,
    config: TrainConfig,
    state: RunState,
    data: TrainData,
    bases: jax.Array,
    frames: jax.Array,
) -> tuple[RunState, Spectra]:
    """Replay ``config.steps`` steps of the engine's own ``make_step`` from ``state`` (leading run
    axis, float64) and return the final states and the Spectra after every step, each
    (R, T, ...), measured in each run's (U, E) (bases (R, K, K), frames (R, d, K))."""
    program = _replay_program(model, config, config.steps, data.targets.shape[1])
    return program(state, data, bases, frames)
