"""Layer-wise driver: every metric of every layer of one network, as fixed-shape arrays.

A network with L layers is described by its post-activation features Z_1..Z_L (N, n_l), its
weights W_1..W_L (n_l, n_{l-1}) and, for non-linear layers, its pre-activations H_l = Z_{l-1} W_l^T.
The driver returns a dict of arrays of shape (L,), one entry per layer, with NaN where a metric is
undefined for that layer (a layer too narrow for it, no classifier reading it, no
pre-activation). The key set and shapes never depend on values, so the driver runs inside
jit/vmap/scan (the training engine logs it every ``log_every`` steps).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from nc_jax.metrics.collapse import (
    equiangularity,
    equinorm,
    max_angle_deviation,
    nc1_cdnv,
    nc1_pinv,
    nc1_trace_ratio,
    nc2_kappa,
    nc3_cosines,
    ncc_agreement,
    orthogonal_frame_deviation,
    self_duality_distance,
    simplex_etf_deviation,
)
from nc_jax.metrics.geometry import balancedness, negativity, scale_free, spectral_norm
from nc_jax.metrics.stats import (
    between_class_trace,
    centred_means,
    check_features_and_labels,
    class_stats,
    within_class_trace,
)

LAYER_METRICS: tuple[str, ...] = (
    "nc1_trace_ratio",
    "nc1_pinv",
    "nc1_cdnv",
    "within_trace",
    "between_trace",
    "nc2_kappa",
    "nc2_etf",
    "nc2_orthogonal",
    "equinorm",
    "equiangularity",
    "max_angle",
    "nc3_cos_mean",
    "nc3_cos_min",
    "nc3_self_duality",
    "nc4_agreement",
    "nc4_agreement_bias",
    "negativity",
)
"""Keys returned by :func:`layer_metrics`."""

NETWORK_METRICS: tuple[str, ...] = (*LAYER_METRICS, "balancedness", "relative_balancedness")
"""Keys returned by :func:`network_metrics` (balancedness of layer l is that of W_l, W_{l+1})."""


def check_metric_names(names: Sequence[str] | None, allowed: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a tuple (every name of ``allowed`` when None); ValueError naming the unknown
    ones and the choices."""
    if names is None:
        return tuple(allowed)
    unknown = sorted(set(names) - set(allowed))
    if unknown or not names:
        raise ValueError(
            f"metric names must be a non-empty subset of {', '.join(allowed)}; unknown: {unknown}"
        )
    return tuple(dict.fromkeys(names))


def layer_metrics(
    z: jax.Array,
    y: jax.Array,
    num_classes: int,
    *,
    classifier: jax.Array | None = None,
    bias: jax.Array | None = None,
    preactivation: jax.Array | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, jax.Array]:
    """The metrics ``names`` (default all, :data:`LAYER_METRICS`) of one layer's features,
    scalar values; only the requested ones are computed.

    Args:
        z: (N, d) features of the layer.
        y: (N,) labels in [0, K).
        num_classes: K.
        classifier: optional (K, d) weight reading these features (W_L for Z_{L-1}); enables
            NC3 and NC4. NC3 cosines use the uncentred means (Jacot et al.), self-duality the
            centred ones (Papyan).
        bias: optional (K,) classifier bias for the NC4 variant with bias.
        preactivation: optional (N, d) pre-activation H of this layer (for negativity).
        names: the metrics to compute, a subset of LAYER_METRICS (None: all).

    Metrics needing d >= K (nc2_kappa, nc2_orthogonal) or d >= K - 1 (nc1_pinv, nc2_etf) are NaN
    on narrower layers.
    """
    names = check_metric_names(names, LAYER_METRICS)
    stats = class_stats(z, y, num_classes)
    dim = stats.means.shape[1]
    centred = centred_means(stats)
    nan = jnp.full((), jnp.nan, dtype=stats.means.dtype)
    wide_etf = dim >= num_classes - 1
    wide_frame = dim >= num_classes

    def with_classifier(metric):
        return (lambda: metric(classifier)) if classifier is not None else (lambda: nan)

    def cosines(w):
        return nc3_cosines(w, stats.means)

    formulas = {
        "nc1_trace_ratio": lambda: nc1_trace_ratio(stats),
        "nc1_pinv": (lambda: nc1_pinv(stats)) if wide_etf else (lambda: nan),
        "nc1_cdnv": lambda: nc1_cdnv(stats),
        "within_trace": lambda: within_class_trace(stats),
        "between_trace": lambda: between_class_trace(stats),
        "nc2_kappa": (lambda: nc2_kappa(stats.means)) if wide_frame else (lambda: nan),
        "nc2_etf": (lambda: simplex_etf_deviation(centred)) if wide_etf else (lambda: nan),
        "nc2_orthogonal": (
            (lambda: orthogonal_frame_deviation(stats.means)) if wide_frame else (lambda: nan)
        ),
        "equinorm": lambda: equinorm(centred),
        "equiangularity": lambda: equiangularity(centred),
        "max_angle": lambda: max_angle_deviation(centred),
        "nc3_cos_mean": with_classifier(lambda w: jnp.mean(cosines(w))),
        "nc3_cos_min": with_classifier(lambda w: jnp.min(cosines(w))),
        "nc3_self_duality": with_classifier(lambda w: self_duality_distance(w, centred)),
        "nc4_agreement": with_classifier(
            lambda w: ncc_agreement(z, means=stats.means, classifier=w)
        ),
        "nc4_agreement_bias": (
            (lambda: ncc_agreement(z, means=stats.means, classifier=classifier, bias=bias))
            if classifier is not None and bias is not None
            else (lambda: nan)
        ),
        "negativity": (lambda: nan)
        if preactivation is None
        else (lambda: negativity(preactivation)),
    }
    return {key: formulas[key]().astype(stats.means.dtype) for key in names}


def network_metrics(
    features: Sequence[jax.Array],
    y: jax.Array,
    num_classes: int,
    weights: Sequence[jax.Array],
    preactivations: Sequence[jax.Array | None] | None = None,
    biases: Sequence[jax.Array | None] | None = None,
    *,
    names: Sequence[str] | None = None,
    layers: Sequence[int] | None = None,
) -> dict[str, jax.Array]:
    """Metrics of every layer of one network; keys ``names`` (default :data:`NETWORK_METRICS`),
    values (L,).

    Args:
        features: [Z_1, ..., Z_L], Z_l of shape (N, n_l) (post-activation outputs).
        y: (N,) labels.
        num_classes: K.
        weights: [W_1, ..., W_L], W_l of shape (n_l, n_{l-1}), or None for a layer that is not
            a dense matrix (a convolution, an attention block).
        preactivations: optional [H_1, ..., H_L] with None for linear layers.
        biases: optional [b_1, ..., b_L] with None for bias-free layers.
        names: the metrics to compute, a subset of NETWORK_METRICS (None: all); only these are
            computed.
        layers: indices of the layers to measure (negative ones count from the output; None:
            all); the other layers' entries are NaN, so the shapes do not depend on the choice.

    Layer l's NC3/NC4 use W_{l+1} as the classifier when W_{l+1} has K rows (normally only the
    penultimate layer). Layer l's balancedness is that of the pair (W_l, W_{l+1}); NaN for l = L
    and where either weight is None.
    """
    num_layers = len(features)
    if len(weights) != num_layers:
        raise ValueError(
            f"weights has {len(weights)} entries but features has {num_layers}: pass one "
            "weight matrix W_l per layer output Z_l"
        )
    preactivations = [None] * num_layers if preactivations is None else list(preactivations)
    biases = [None] * num_layers if biases is None else list(biases)
    for name, seq in (("preactivations", preactivations), ("biases", biases)):
        if len(seq) != num_layers:
            raise ValueError(f"{name} must have one entry (or None) per layer ({num_layers})")
    names = check_metric_names(names, NETWORK_METRICS)
    measured = measured_layers(layers, num_layers)
    check_features_and_labels(features[0], y, num_classes)
    nan = jnp.full((), jnp.nan, dtype=jnp.result_type(*features))
    per_layer_names = [n for n in names if n in LAYER_METRICS]
    norm = functools.cache(lambda i: spectral_norm(weights[i]))  # each W_l's norm computed once
    per_layer = []
    for index in range(num_layers):
        if index not in measured:
            per_layer.append(dict.fromkeys(names, nan))
            continue
        upper = weights[index + 1] if index + 1 < num_layers else None
        reads_k = upper is not None and upper.shape[0] == num_classes
        metrics = {}
        if per_layer_names:
            metrics = layer_metrics(
                features[index],
                y,
                num_classes,
                classifier=upper if reads_k else None,
                bias=biases[index + 1] if reads_k else None,
                preactivation=preactivations[index],
                names=per_layer_names,
            )
        metrics.update(_pair_metrics(weights, index, names, norm, nan))
        per_layer.append(metrics)
    return {key: jnp.stack([m[key].astype(nan.dtype) for m in per_layer]) for key in names}


def _pair_metrics(
    weights: Sequence[jax.Array | None],
    index: int,
    names: Sequence[str],
    norm: Callable[[int], jax.Array],
    nan: jax.Array,
) -> dict[str, jax.Array]:
    """The requested pair metrics of layer ``index`` (balancedness and relative balancedness of
    W_l, W_{l+1}), NaN where either is missing or not dense; the balancedness is computed once
    for both, and the operator norms come from ``norm`` (one per weight, shared by its pairs)."""
    wanted = [key for key in ("balancedness", "relative_balancedness") if key in names]
    if not wanted:
        return {}
    upper = weights[index + 1] if index + 1 < len(weights) else None
    if upper is None or weights[index] is None:
        return dict.fromkeys(wanted, nan)
    values = {"balancedness": balancedness(weights[index], upper)}
    if "relative_balancedness" in wanted:
        values["relative_balancedness"] = scale_free(
            values["balancedness"], norm(index), norm(index + 1)
        )
    return {key: values[key] for key in wanted}


def measured_layers(layers: Sequence[int] | None, num_layers: int) -> set[int]:
    """The non-negative indices of ``layers`` (None: all ``num_layers``); ValueError naming an
    index out of range."""
    if layers is None:
        return set(range(num_layers))
    out = set()
    for index in layers:
        if not -num_layers <= int(index) < num_layers:
            raise ValueError(
                f"metric layer {index} is out of range for a network of {num_layers} layers"
            )
        out.add(int(index) % num_layers)
    return out
