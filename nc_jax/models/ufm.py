"""Unconstrained features models (UFM, deep UFM) as models the training engine trains.

In an unconstrained features model the penultimate features are free parameters: H (N, d), one
row per training sample (docs/theory/sukenik2024.md; the papers store H as d x N).

Why the input is the identity. The training engine (nc_jax.train) calls
``model.init(key, input_dim)`` and ``model.apply(params, x)``, vmaps both over runs, and for SGD
passes a minibatch of *rows* of x. A UFM has no input, so we give it x = I_N (``ufm_inputs``)
and compute the free features as Z_0 = x @ H. Then

- the full batch gives Z_0 = H exactly, so the model is the UFM and nothing else;
- a row subset x[idx] gives H[idx]: SGD over "samples" is SGD over rows of H, with no engine
  change (the engine only needs rows of x to be samples);
- d(loss)/dH through x @ H equals the gradient with respect to the free features themselves
  (rows not in the minibatch get zero gradient), so weight decay, optimisers and every metric
  treat H as an ordinary parameter.

The price is an N x N input and an N x N x d matmul per step, negligible at UFM sizes.

Models:

- ``UFM``: Z = H W^T (+ b), the one-layer UFM of Zhu et al. (docs/theory/zhu2021.md; with MSE
  and no bias, the L = 1 case of the L-DUFM). Layers: features (H, Z), weights (None, W), so
  network_metrics measures NC1/NC2 on H with W as its classifier (NC3, NC4).
- ``DeepUFM``: the L-DUFM of docs/theory/sukenik2024.md: free H_1, H_{l+1} = relu(W_l H_l) for
  l < L, output W_L H_L, no biases.

Per-group weight decay. Both papers regularise H and each W_l with separate lambdas.
``decay_scales(params)`` returns a pytree shaped like params with a float multiplier per leaf:
the effective decay of a leaf is ``weight_decay * scale`` (so H gets
``weight_decay * feature_decay_scale``). Regularisers on H are *not* divided by N in either
paper.

Normalisation of the closed forms (B2/B3 and D1 reconciled, see ``dnc_loss``): both papers use
the data loss averaged over samples, i.e. the engine's ``reduction="mean"`` (MSE: 1/(2N)
||Z - Y||_F^2; CE: (1/N) sum CE), plus lambda/2 ||.||_F^2 on every group (the engine's coupled
"l2" decay with ``weight_decay = lambda_W`` and ``feature_decay_scale = lambda_H / lambda_W``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.models.activations import get_activation
from nc_jax.models.base import Layers, Params
from nc_jax.validation import check_num_classes

# ----------------------------------------------------------------------------- shared helpers


def ufm_inputs(num_samples: int, dtype: Any = jnp.float32) -> jax.Array:
    """The UFM's input x = I_N (N, N): row i selects the free feature row h_i (Z_0 = x @ H)."""
    _check_count(num_samples, "num_samples")
    return jnp.eye(num_samples, dtype=dtype)


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_scale(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a float >= 0, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite float >= 0, got {value!r}")
    return float(value)


def _check_input_dim(input_dim: int, num_samples: int) -> None:
    if input_dim != num_samples:
        raise ValueError(
            f"input_dim must equal num_samples = {num_samples} (the UFM's input is the identity "
            f"I_N), got {input_dim}: pass x = ufm_inputs({num_samples}) and "
            f"input_dim = {num_samples}"
        )


def _check_x(x: jax.Array, num_samples: int) -> None:
    if x.ndim != 2 or x.shape[1] != num_samples:
        raise ValueError(
            f"x must have shape (B, {num_samples}): rows of ufm_inputs({num_samples}) "
            f"selecting samples, got shape {x.shape}"
        )


def _free_features(key: jax.Array, num_samples: int, dim: int, scale: float) -> jax.Array:
    """H (N, d) with i.i.d. N(0, scale^2) entries (rows of norm about scale sqrt(d))."""
    return scale * jax.random.normal(key, (num_samples, dim))


def _dense(key: jax.Array, fan_out: int, fan_in: int, gain: float, scale: float) -> jax.Array:
    """W (fan_out, fan_in) with i.i.d. N(0, scale^2 gain / fan_in) entries (LeCun: gain 1,
    He: gain 2)."""
    return scale * jnp.sqrt(gain / fan_in) * jax.random.normal(key, (fan_out, fan_in))


def _select_features(params: Params, x: jax.Array) -> jax.Array:
    """Z_0 = x @ H: the free-feature rows that x selects, (B, d)."""
    return jnp.matmul(x, params["features"])


# ---------------------------------------------------------------------------------------- UFM


@dataclass(frozen=True)
class UFM:
    """The one-layer unconstrained features model Z = H W^T (+ b) (docs/theory/zhu2021.md;
    the L-DUFM of docs/theory/sukenik2024.md at L = 1).

    Parameters: {"features": H (N, d), "head": [{"w": W (K, d)[, "b": b (K,)]}]}.

    Attributes:
        num_samples: N, the number of free feature rows (the input dimension of ufm_inputs(N)).
        feature_dim: d.
        num_classes: K >= 2, the number of outputs.
        bias: a classifier bias b (Zhu et al.'s UFM has one; the bias-free MSE UFM has none).
        init_scale: H entries ~ N(0, init_scale^2); W entries ~ N(0, init_scale^2 / d) (LeCun);
            b = 0. A small init_scale gives the small-initialisation regime.
        feature_decay_scale: decay multiplier of H (lambda_H = weight_decay * this).
        weight_decay_scale: decay multiplier of W (lambda_W = weight_decay * this).
        bias_decay_scale: decay multiplier of b (lambda_b = weight_decay * this).
    """

    num_samples: int
    feature_dim: int
    num_classes: int
    bias: bool = False
    init_scale: float = 1.0
    feature_decay_scale: float = 1.0
    weight_decay_scale: float = 1.0
    bias_decay_scale: float = 1.0

    def __post_init__(self) -> None:
        _check_count(self.num_samples, "num_samples")
        _check_count(self.feature_dim, "feature_dim")
        check_num_classes(self.num_classes)
        for name in ("init_scale", "feature_decay_scale", "weight_decay_scale", "bias_decay_scale"):
            _check_scale(getattr(self, name), name)

    @property
    def num_outputs(self) -> int:
        return self.num_classes

    @property
    def num_linear(self) -> int:
        """The head is one linear layer."""
        return 1

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """Parameters {"features": H (N, d), "head": [{"w": (K, d)[, "b": (K,)]}]};
        ``input_dim`` must be N (the input is ufm_inputs(N))."""
        _check_input_dim(input_dim, self.num_samples)
        h_key, w_key = jax.random.split(key)
        head = {"w": _dense(w_key, self.num_classes, self.feature_dim, 1.0, self.init_scale)}
        if self.bias:
            head["b"] = jnp.zeros((self.num_classes,))
        return {
            "features": _free_features(h_key, self.num_samples, self.feature_dim, self.init_scale),
            "head": [head],
        }

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        """Output Z = (x @ H) W^T (+ b), (B, K), for x = rows of ufm_inputs(N), (B, N).

        Layers: features (H rows (B, d), Z (B, K)), preactivations (None, None),
        weights (None, W), biases (None, b or None).
        """
        _check_x(x, self.num_samples)
        h = _select_features(params, x)
        entry = params["head"][0]
        z = jnp.matmul(h, entry["w"].T)
        if "b" in entry:
            z = z + entry["b"]
        return z, Layers((h, z), (None, None), (None, entry["w"]), (None, entry.get("b")))

    def decay_scales(self, params: Params) -> Params:
        """Weight-decay multipliers shaped like ``params`` (floats): effective decay of a group
        is weight_decay * its scale (H: feature_decay_scale, W: weight_decay_scale, b:
        bias_decay_scale)."""
        scales = {"w": self.weight_decay_scale, "b": self.bias_decay_scale}
        return {
            "features": self.feature_decay_scale,
            "head": [{name: scales[name] for name in entry} for entry in params["head"]],
        }


# ------------------------------------------------------------------------------------ DeepUFM


@dataclass(frozen=True)
class DeepUFM:
    """The L-DUFM of docs/theory/sukenik2024.md: H_1 free, H_{l+1} = sigma(W_l H_l) (l < L), output
    W_L H_L (linear last layer), no biases.

    With samples as rows: Z_0 = x @ H_1 (B, d_1), Z_l = sigma(Z_{l-1} W_l^T) for l < L and the
    output Z_{L-1} W_L^T (B, K). Parameters: {"features": H_1 (N, d_1),
    "head": [{"w": W_1 (d_2, d_1)}, ..., {"w": W_L (K, d_L)}]}.

    Attributes:
        num_samples: N.
        widths: (d_1, ..., d_L), the feature width of every layer H_1..H_L; L = len(widths)
            weight matrices W_l (d_{l+1}, d_l) with d_{L+1} = K. The DNC candidate needs every
            d_l >= K (docs/theory/sukenik2024.md).
        num_classes: K >= 2.
        activation: sigma (relu in B2; any name of models.activations).
        init_scale: H_1 entries ~ N(0, init_scale^2); W_l ~ N(0, 2 init_scale^2 / d_l) (He) for
            l < L (followed by sigma), W_L ~ N(0, init_scale^2 / d_L) (LeCun).
        feature_decay_scale: decay multiplier of H_1 (lambda_H = weight_decay * this).
        weight_decay_scales: optional per-layer multipliers of W_1..W_L (length L; default 1).
    """

    num_samples: int
    widths: tuple[int, ...]
    num_classes: int
    activation: str = "relu"
    init_scale: float = 1.0
    feature_decay_scale: float = 1.0
    weight_decay_scales: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _check_count(self.num_samples, "num_samples")
        if isinstance(self.widths, (int, np.integer)) or len(self.widths) == 0:
            raise ValueError(
                f"widths must be a non-empty tuple (d_1, ..., d_L) of feature widths, "
                f"got {self.widths!r}"
            )
        widths = tuple(_check_count(w, "widths entries") for w in self.widths)
        object.__setattr__(self, "widths", widths)
        check_num_classes(self.num_classes)
        get_activation(self.activation)
        _check_scale(self.init_scale, "init_scale")
        _check_scale(self.feature_decay_scale, "feature_decay_scale")
        if self.weight_decay_scales is not None:
            if len(self.weight_decay_scales) != len(widths):
                raise ValueError(
                    f"weight_decay_scales needs one entry per weight W_1..W_L ({len(widths)}), "
                    f"got {len(self.weight_decay_scales)}"
                )
            scales = tuple(
                _check_scale(s, "weight_decay_scales entries") for s in self.weight_decay_scales
            )
            object.__setattr__(self, "weight_decay_scales", scales)

    @property
    def num_outputs(self) -> int:
        return self.num_classes

    @property
    def num_linear(self) -> int:
        """Only the last layer W_L is linear."""
        return 1

    @property
    def depth(self) -> int:
        """L, the number of weight matrices."""
        return len(self.widths)

    def init(self, key: jax.Array, input_dim: int) -> Params:
        """Parameters {"features": H_1 (N, d_1), "head": [{"w": W_l (d_{l+1}, d_l)}]};
        ``input_dim`` must be N (the input is ufm_inputs(N))."""
        _check_input_dim(input_dim, self.num_samples)
        keys = jax.random.split(key, self.depth + 1)
        fan_outs = (*self.widths[1:], self.num_classes)
        head = [
            {
                "w": _dense(
                    k, fan_out, fan_in, 2.0 if layer < self.depth - 1 else 1.0, self.init_scale
                )
            }
            for layer, (k, fan_in, fan_out) in enumerate(zip(keys[1:], self.widths, fan_outs))
        ]
        h = _free_features(keys[0], self.num_samples, self.widths[0], self.init_scale)
        return {"features": h, "head": head}

    def apply(self, params: Params, x: jax.Array) -> tuple[jax.Array, Layers]:
        """Output (B, K) for x = rows of ufm_inputs(N), (B, N).

        Layers (L + 1 entries): features (H_1, ..., H_L, output) with H_1 = x @ H_1 (B, d_1);
        preactivations (None, W_1 H_1, ..., W_{L-1} H_{L-1}, None); weights
        (None, W_1, ..., W_L); biases all None.
        """
        _check_x(x, self.num_samples)
        sigma = get_activation(self.activation)
        z = _select_features(params, x)
        features, preacts, weights = [z], [None], [None]
        for layer, entry in enumerate(params["head"]):
            pre = jnp.matmul(z, entry["w"].T)
            nonlinear = layer < self.depth - 1
            z = sigma(pre) if nonlinear else pre
            features.append(z)
            preacts.append(pre if nonlinear else None)
            weights.append(entry["w"])
        biases = (None,) * len(features)
        return z, Layers(tuple(features), tuple(preacts), tuple(weights), biases)

    def decay_scales(self, params: Params) -> Params:
        """Weight-decay multipliers shaped like ``params`` (floats): H_1 gets
        feature_decay_scale, W_l gets weight_decay_scales[l - 1] (default 1)."""
        layer_scales = self.weight_decay_scales or (1.0,) * self.depth
        return {
            "features": self.feature_decay_scale,
            "head": [{"w": scale} for scale, _ in zip(layer_scales, params["head"])],
        }


# ------------------------------------------------------------------------------ closed forms


class DNCSolution(NamedTuple):
    """The DNC candidate of the L-DUFM (docs/theory/sukenik2024.md).

    Attributes:
        loss: L_DNC, the objective of B2 at the best DNC configuration.
        p: the optimal product of the L + 1 layer scales (output = p Y).
        scales: (a_0, ..., a_L), the per-layer scales at the optimum: ||H_1||_F^2 = N a_0^2 and
            ||W_l||_F^2 = K a_l^2 (all zero in the trivial regime p = 0).
    """

    loss: float
    p: float
    scales: tuple[float, ...]


def _check_lambda(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a float > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"{name} must be a finite float > 0 (with a zero regulariser the optimal scales are "
            f"not attained), got {value!r}"
        )
    return float(value)


def _dnc_objective(p: float, coefficient: float, exponent: float) -> float:
    return 0.5 * (p - 1.0) ** 2 + coefficient * p**exponent


def dnc_loss(
    num_classes: int,
    n_per_class: int,
    depth: int,
    lambda_h: float,
    lambda_w: float | Sequence[float],
) -> DNCSolution:
    """Closed-form loss of the DNC candidate of the L-DUFM (docs/theory/sukenik2024.md).

    L_DNC = min_{p >= 0} (1/2)(p - 1)^2 + (L+1) (prod_{i=0}^{L} c_i)^{1/(L+1)} p^{2/(L+1)},
    c_0 = N lambda_H / 2, c_l = K lambda_{W_l} / 2 (l = 1..L), N = K n.

    Normalisation: this is the objective of B2 exactly as written there,
    (1/(2N)) ||W_L sigma(... sigma(W_1 H_1)) - Y||_F^2 + sum_l lambda_{W_l}/2 ||W_l||_F^2
    + lambda_H/2 ||H_1||_F^2 (H_1 not divided by N): on the DNC candidate the output is p Y and
    (1/(2N)) ||pY - Y||_F^2 = (1/2)(p - 1)^2, so B2 and B3 agree. In engine terms: MSE with
    ``reduction="mean"`` plus coupled l2 decay. With L = 1 it is the global optimum of the
    bias-free MSE UFM (``UFM``): loss A - A^2/2 with A = K sqrt(n lambda_H lambda_W), p = 1 - A.

    The 1-D problem is solved exactly: with q = 2/(L+1) and A the coefficient, stationary points
    p > 0 solve (1 - p) p^{1-q} = A q, whose left side rises then falls on [0, 1] (peak at
    p = (1-q)/(2-q)); the root on the falling branch is the only interior local minimum and is
    found by bisection, then compared with the local minimum p = 0 (loss 1/2).

    Args:
        num_classes: K >= 2.
        n_per_class: n >= 1.
        depth: L >= 1, the number of weight matrices (4 for the "4-DUFM").
        lambda_h: lambda_H > 0.
        lambda_w: lambda_W > 0, one value for every layer or a sequence of L values.
    """
    num_classes = check_num_classes(num_classes)
    n_per_class = _check_count(n_per_class, "n_per_class")
    depth = _check_count(depth, "depth")
    lambda_h = _check_lambda(lambda_h, "lambda_h")
    if np.ndim(lambda_w) > 0:
        if len(lambda_w) != depth:
            raise ValueError(
                f"lambda_w must be one float or one value per layer ({depth}), "
                f"got {len(lambda_w)} values"
            )
        lambdas_w = [_check_lambda(float(v), "lambda_w entries") for v in lambda_w]
    else:
        lambdas_w = [_check_lambda(lambda_w, "lambda_w")] * depth
    num_samples = num_classes * n_per_class
    c = np.array([num_samples * lambda_h / 2] + [num_classes * lam / 2 for lam in lambdas_w])
    geometric = float(np.exp(np.mean(np.log(c))))  # (prod c_i)^{1/(L+1)}
    coefficient = (depth + 1) * geometric
    exponent = 2.0 / (depth + 1)
    p = _dnc_interior_minimum(coefficient, exponent)
    if p is None or _dnc_objective(p, coefficient, exponent) >= 0.5:
        return DNCSolution(0.5, 0.0, (0.0,) * (depth + 1))
    scales = tuple(float(s) for s in np.sqrt(geometric * p**exponent / c))
    return DNCSolution(_dnc_objective(p, coefficient, exponent), p, scales)


def _dnc_interior_minimum(coefficient: float, exponent: float) -> float | None:
    """The interior local minimiser of (1/2)(p-1)^2 + A p^q on (0, 1], or None."""
    target = coefficient * exponent
    rising = lambda p: (1.0 - p) * p ** (1.0 - exponent)  # noqa: E731
    low = (1.0 - exponent) / (2.0 - exponent)
    if rising(low) < target:
        return None
    high = 1.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if rising(mid) >= target:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def zhu_ufm_optimum(num_classes: int, n_per_class: int, lambda_w: float, lambda_h: float) -> float:
    """rho* = ||w_k*||^2, the squared classifier row norm at the global optimum of the CE UFM
    of Zhu et al. (docs/theory/zhu2021.md), or 0 in the trivial regime K sqrt(n lambda_W lambda_H)
    >= 1 (W = H = 0).

    Objective (D1, regularisers not divided by N): (1/N) sum CE(W h + b) + lambda_W/2 ||W||^2
    + lambda_H/2 ||H||^2 (+ lambda_b/2 ||b||^2, which does not change rho*). In engine terms:
    ``UFM(bias=...)``, cross entropy with ``reduction="mean"``, coupled l2 decay with
    weight_decay = lambda_W and feature_decay_scale = lambda_H / lambda_W. On the simplex-ETF
    family f(rho) = log(1 + (K-1) exp(-beta rho)) + lambda_W K rho with
    alpha = sqrt(lambda_W / (lambda_H n)), beta = alpha K / (K-1), minimised at
    rho* = (1/beta) log((K-1)(beta - lambda_W K) / (lambda_W K)); the features are then
    h_{k,i} = alpha w_k.
    """
    num_classes = check_num_classes(num_classes)
    n_per_class = _check_count(n_per_class, "n_per_class")
    lambda_w = _check_lambda(lambda_w, "lambda_w")
    lambda_h = _check_lambda(lambda_h, "lambda_h")
    k = num_classes
    if k * math.sqrt(n_per_class * lambda_w * lambda_h) >= 1.0:
        return 0.0
    beta = math.sqrt(lambda_w / (lambda_h * n_per_class)) * k / (k - 1)
    return math.log((k - 1) * (beta - lambda_w * k) / (lambda_w * k)) / beta
