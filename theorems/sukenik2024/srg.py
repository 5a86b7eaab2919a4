"""Explicit configurations of the L-DUFM (docs/theory/sukenik2024.md): the DNC candidate and the
SRG construction (classes = edges of the complete graph K_r), each scaled optimally, the
zero-padding embedding of a narrow solution into a wider DUFM, and numerical ranks.

Layout (nc_jax.models.ufm.DeepUFM, samples as rows): parameters {"features": H_1 (N, d_1),
"head": [{"w": W_l (d_{l+1}, d_l)}, l = 1..L]}, d_{L+1} = K, labels class-major
(``class_labels``: sample i has class i // n). "Layer l" is H_l (l = 1..L, post-ReLU for l >= 2)
and its pre-activation W_{l-1} H_{l-1} (l = 2..L).

A ``Structure`` fixes every layer up to one positive scale per layer: the class rows of H_1 and
the matrices W_1..W_L, chosen so that no ReLU changes the scaled network's class means except
where the structure intends it, and the output is ``gain * Y``. Scaling layer i by s_i multiplies
the output by prod s_i (the ReLU is positively homogeneous) and its regulariser by s_i^2, so the
best scales solve the 1-D problem of B3 with c_0 = lambda_H b_0 / (2 g^2), c_l = lambda_W b_l / 2
(b_i the squared Frobenius norms of the unscaled layers, g the gain). ``optimal_scaling`` maps
that onto ``nc_jax.models.ufm.dnc_loss`` (effective lambdas lambda_H b_0 / (N g^2) and
lambda_W b_l / K), so the DNC candidate and the SRG construction share one exact solver.

The SRG construction (B3, with the rank correction recorded in docs/theory/sukenik2024.md):
K = C(r, 2); B in {0, 1}^{r x K} the vertex-edge incidence matrix of K_r; H_1 rows = the columns
of B; W_1 = ... = W_{L-2} = I_r; W_{L-1} = B^T - (c/2) 1_K 1_r^T (K x r); W_L = I_K. Then
H_2 = ... = H_{L-1} have class means B (rank r, non-negative, so no ReLU acts), the
pre-activation of layer L is B^T B - c J = B^T (I_r - (c/4) J_r) B, of rank r except rank r - 1
when c r = 4, and its ReLU is (2 - c) I_K (rank K) for 1 <= c < 2: the gain is 2 - c. Only
b_{L-1}(c) / g(c)^2 = K (1/2 + (r - 2) c^2 / (4 (2 - c)^2)) depends on c, increasing on [1, 2),
so c = 1 is optimal (``SRG_C``): W_{L-1} rows are then the minimum-norm rows that map B to an
orthogonal frame after the ReLU (1/2 on the edge's two vertices, -1/2 elsewhere).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from nc_jax.models.ufm import DNCSolution, dnc_loss

SRG_C = 1.0  # the optimal offset c of W_{L-1} = B^T - (c/2) J (module docstring)
RANK_RTOL = 1e-2  # numerical rank: singular values > RANK_RTOL * s_1 count


# ------------------------------------------------------------------------------ structures


@dataclass(frozen=True)
class Structure:
    """An L-DUFM configuration up to per-layer scales (module docstring).

    Attributes:
        class_features: (K, d_1), row k the H_1 row of every sample of class k.
        weights: (W_1, ..., W_L), W_l of shape (d_{l+1}, d_l), d_{L+1} = K.
        gain: g, the unscaled network maps class k to g e_k.
    """

    class_features: np.ndarray
    weights: tuple[np.ndarray, ...]
    gain: float

    @property
    def num_classes(self) -> int:
        return self.class_features.shape[0]

    @property
    def depth(self) -> int:
        return len(self.weights)

    @property
    def widths(self) -> tuple[int, ...]:
        """(d_1, ..., d_L)."""
        return tuple(w.shape[1] for w in self.weights)


class ScaledConfiguration(NamedTuple):
    """A structure at its optimal scales.

    Attributes:
        loss: the B2 objective at the optimum (the closed form of the 1-D problem).
        p: the output scale (the network maps class k to p e_k).
        scales: (s_0, ..., s_L), the multipliers of H_1 and of W_1..W_L.
        params: the DeepUFM parameters (float64 NumPy arrays) at these scales.
    """

    loss: float
    p: float
    scales: tuple[float, ...]
    params: dict[str, Any]


def class_labels(num_classes: int, n_per_class: int) -> np.ndarray:
    """Labels (N,) of the balanced class-major training set: sample i has class i // n."""
    return np.repeat(np.arange(num_classes), n_per_class)


def incidence_matrix(r: int) -> np.ndarray:
    """B (r, C(r, 2)) in {0, 1}: the vertex-edge incidence matrix of the complete graph K_r,
    edges (u, v), u < v, in lexicographic order; every column has two ones (its end points),
    every row r - 1 (the degree)."""
    if r < 2:
        raise ValueError(f"r must be >= 2 (K_r needs an edge), got {r}")
    edges = list(itertools.combinations(range(r), 2))
    b = np.zeros((r, len(edges)))
    for k, (u, v) in enumerate(edges):
        b[u, k] = b[v, k] = 1.0
    return b


def triangular_root(num_classes: int) -> int | None:
    """r with C(r, 2) = K (the K_r whose edges are the classes), or None when K is not a
    triangular number."""
    r = round((1 + math.sqrt(1 + 8 * num_classes)) / 2)
    return r if r * (r - 1) // 2 == num_classes else None


def dnc_structure(num_classes: int, depth: int) -> Structure:
    """The DNC candidate (B3): every layer's class means the orthogonal frame I_K, H_1 rows
    e_k, W_l = I_K; gain 1. Non-negative throughout, so no ReLU acts."""
    eye = np.eye(num_classes)
    return Structure(eye, tuple(eye for _ in range(depth)), 1.0)


def srg_structure(r: int, depth: int, c: float = SRG_C) -> Structure:
    """The SRG construction for K = C(r, 2) classes and L = ``depth`` >= 2 layers (module
    docstring): H_1 rows B^T, W_1..W_{L-2} = I_r, W_{L-1} = B^T - (c/2) J, W_L = I_K; gain
    2 - c. Needs r >= 3 and 1 <= c < 2."""
    if r < 3:
        raise ValueError(f"r must be >= 3 (K = C(r, 2) >= 3 classes), got {r}")
    if depth < 2:
        raise ValueError(f"the SRG construction needs L >= 2 layers, got {depth}")
    if not 1.0 <= c < 2.0:
        raise ValueError(f"c must lie in [1, 2) (ReLU(B^T B - cJ) = (2 - c) I), got {c}")
    b = incidence_matrix(r)
    k = b.shape[1]
    hidden = tuple(np.eye(r) for _ in range(depth - 2))
    last_hidden = b.T - (c / 2) * np.ones((k, r))
    return Structure(b.T.copy(), (*hidden, last_hidden, np.eye(k)), 2.0 - c)


def srg_pre_relu_rank(r: int, c: float = SRG_C) -> int:
    """rank(B^T B - c J) = rank(B^T (I_r - (c/4) J_r) B): r, or r - 1 when c r = 4 (the
    eigenvalue 1 - c r / 4 of I_r - (c/4) J_r on 1_r vanishes; B has full row rank r for
    r >= 3)."""
    return r - 1 if math.isclose(c * r, 4.0) else r


# ------------------------------------------------------------------------------- scaling


def _effective_lambdas(
    structure: Structure, n_per_class: int, lambda_h: float, lambda_w: float
) -> tuple[float, list[float]]:
    """The lambdas that make dnc_loss solve this structure's 1-D problem (module docstring)."""
    k = structure.num_classes
    b0 = n_per_class * float(np.sum(structure.class_features**2))
    bl = [float(np.sum(w**2)) for w in structure.weights]
    effective_h = lambda_h * b0 / (k * n_per_class * structure.gain**2)
    return effective_h, [lambda_w * b / k for b in bl]


def optimal_scaling(
    structure: Structure, n_per_class: int, lambda_h: float, lambda_w: float
) -> ScaledConfiguration:
    """The structure at the scales that minimise the B2 objective among its rescalings, with
    ``n_per_class`` samples per class, lambda_H on H_1 and lambda_W on every W_l.

    Exact: the 1-D problem of B3 solved by ``dnc_loss`` with the effective lambdas of the
    module docstring; for ``dnc_structure`` it is dnc_loss itself.
    """
    effective_h, effective_w = _effective_lambdas(structure, n_per_class, lambda_h, lambda_w)
    solution: DNCSolution = dnc_loss(
        structure.num_classes, n_per_class, structure.depth, effective_h, effective_w
    )
    scales = (solution.scales[0] / structure.gain, *solution.scales[1:])
    labels = class_labels(structure.num_classes, n_per_class)
    params = {
        "features": scales[0] * structure.class_features[labels],
        "head": [{"w": s * w} for s, w in zip(scales[1:], structure.weights)],
    }
    return ScaledConfiguration(solution.loss, solution.p, tuple(scales), params)


def srg_loss(
    num_classes: int, n_per_class: int, depth: int, lambda_h: float, lambda_w: float
) -> float:
    """L_SRG: the B2 objective of the optimally scaled SRG construction (c = 1), or NaN when
    K is not C(r, 2) for an r >= 3 or L < 2."""
    r = triangular_root(num_classes)
    if r is None or r < 3 or depth < 2:
        return math.nan
    return optimal_scaling(srg_structure(r, depth), n_per_class, lambda_h, lambda_w).loss


# ----------------------------------------------------------------------------- embedding


def embed(params: dict[str, Any], widths: Sequence[int], rng: np.random.Generator) -> dict:
    """A DeepUFM solution of widths (d_1..d_L) inside a DUFM of ``widths`` (D_l >= d_l):
    every hidden layer zero-padded to D_l, then its units permuted at random (B3's "trick for
    tests"). ReLU commutes with both and relu(0) = 0, so the output and every regulariser, hence
    the objective, are unchanged.

    Args:
        params: {"features": (N, d_1), "head": [{"w": (d_{l+1}, d_l)}]} (NumPy or JAX).
        widths: (D_1, ..., D_L).
        rng: the source of the permutations.
    """
    weights = [np.asarray(e["w"], np.float64) for e in params["head"]]
    features = np.asarray(params["features"], np.float64)
    old = [features.shape[1], *(w.shape[0] for w in weights[:-1])]
    if len(widths) != len(old) or any(big < small for big, small in zip(widths, old)):
        raise ValueError(f"widths {tuple(widths)} must be >= the solution's widths {tuple(old)}")
    perms = [rng.permutation(width) for width in widths]
    outputs = weights[-1].shape[0]
    new_h = _pad(features, features.shape[0], widths[0])[:, perms[0]]
    head = []
    for layer, w in enumerate(weights):
        rows = widths[layer + 1] if layer + 1 < len(widths) else outputs
        padded = _pad(w, rows, widths[layer])[:, perms[layer]]
        head.append({"w": padded[perms[layer + 1]] if layer + 1 < len(widths) else padded})
    return {"features": new_h, "head": head}


def _pad(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols))
    out[: a.shape[0], : a.shape[1]] = a
    return out


# ---------------------------------------------------------------------------------- ranks


def numerical_rank(matrix: np.ndarray, rtol: float = RANK_RTOL) -> int:
    """Singular values of ``matrix`` above rtol * s_1 (0 for the zero matrix); float64 SVD."""
    s = np.linalg.svd(np.asarray(matrix, np.float64), compute_uv=False)
    if s.size == 0 or s[0] == 0.0:
        return 0
    return int(np.sum(s > rtol * s[0]))
