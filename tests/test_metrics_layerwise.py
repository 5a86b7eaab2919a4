"""The layer-wise driver on a small MLP with a deep linear head."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixtures import balanced_labels

from nc_jax import metrics as m
from nc_jax.metrics import reference as ref

K, N_PER_CLASS, INPUT = 4, 10, 6
WIDTHS = (12, 3, 9, 8, K)  # layer 2 has width K - 1: enough for NC1 pinv, not for kappa
NONLINEAR = 2  # layers 1-2 ReLU, 3-5 linear


def _network(seed=0):
    rng = np.random.default_rng(seed)
    y = balanced_labels(K, N_PER_CLASS)
    x = rng.normal(size=(y.size, INPUT)) + 2 * np.eye(K, INPUT)[y]
    weights, features, preacts = [], [], []
    z = x
    for index, (fan_in, fan_out) in enumerate(zip((INPUT, *WIDTHS[:-1]), WIDTHS)):
        w = rng.normal(size=(fan_out, fan_in)) / np.sqrt(fan_in)
        h = z @ w.T
        z = np.maximum(h, 0.0) if index < NONLINEAR else h
        weights.append(w)
        features.append(z)
        preacts.append(h if index < NONLINEAR else None)
    return y, weights, features, preacts


def test_network_metrics_match_per_layer_calls_and_references():
    y, weights, features, preacts = _network()
    out = m.network_metrics(features, y, K, weights, preacts)
    assert set(out) == set(m.NETWORK_METRICS)
    assert all(value.shape == (len(WIDTHS),) for value in out.values())
    for layer, z in enumerate(features):
        assert abs(float(out["nc1_trace_ratio"][layer]) - ref.nc1_trace_ratio(z, y, K)) < 1e-10 * (
            1 + ref.nc1_trace_ratio(z, y, K)
        )
    # layer 2 (width 3 = K - 1) has pinv NC1 and an ETF deviation, but no kappa (needs d >= K)
    assert np.isfinite(out["nc1_pinv"][1]) and np.isnan(out["nc2_kappa"][1])
    assert np.isfinite(out["nc2_kappa"][0])
    # NC3/NC4 only where the next weight has K rows: layer 4 (read by W_5)
    finite_nc3 = np.flatnonzero(np.isfinite(np.asarray(out["nc3_cos_min"])))
    assert finite_nc3.tolist() == [3]
    means = ref.class_means(features[3], y, K)
    assert abs(float(out["nc3_cos_min"][3]) - ref.nc3_cosines(weights[4], means).min()) < 1e-10
    # negativity only on the ReLU layers, balancedness on every pair and NaN at the top
    assert np.isfinite(out["negativity"][:NONLINEAR]).all()
    assert np.isnan(out["negativity"][NONLINEAR:]).all()
    for layer in range(len(WIDTHS) - 1):
        expected = ref.balancedness(weights[layer], weights[layer + 1])
        assert abs(float(out["balancedness"][layer]) - expected) < 1e-10 * expected
    assert np.isnan(out["balancedness"][-1])


def test_network_metrics_jit_and_vmap_over_models():
    nets = [_network(seed) for seed in range(3)]
    y = jnp.asarray(nets[0][0])
    weights, features = (
        [jnp.stack([net[part][i] for net in nets]) for i in range(len(WIDTHS))] for part in (1, 2)
    )

    def one(ws, zs):
        return m.network_metrics(zs, y, K, ws)

    batched = jax.jit(jax.vmap(one))(weights, features)
    for seed, net in enumerate(nets):
        single = m.network_metrics(net[2], net[0], K, net[1])
        np.testing.assert_allclose(batched["nc1_pinv"][seed], single["nc1_pinv"], rtol=1e-10)
        np.testing.assert_allclose(
            batched["balancedness"][seed], single["balancedness"], rtol=1e-10
        )


def test_layer_metrics_bias_variant():
    y, weights, features, _ = _network(1)
    bias = np.zeros(K)
    out = m.layer_metrics(features[3], y, K, classifier=weights[4], bias=bias)
    assert float(out["nc4_agreement_bias"]) == float(out["nc4_agreement"])


def test_network_metrics_bad_input():
    y, weights, features, preacts = _network()
    with pytest.raises(ValueError, match="weights"):
        m.network_metrics(features, y, K, weights[:-1])
    with pytest.raises(ValueError, match="preactivations"):
        m.network_metrics(features, y, K, weights, preacts[:-1])
    with pytest.raises(ValueError, match="y"):
        m.network_metrics(features, y[:-1], K, weights)


def test_a_subset_of_names_and_layers_computes_exactly_those_entries():
    """names: only those keys, equal to the full computation's; layers: the chosen layers equal,
    the others NaN (negative indices from the output)."""
    y, weights, features, preacts = _network()
    full = m.network_metrics(features, y, K, weights, preacts)
    names = ("nc1_trace_ratio", "balancedness", "nc3_cos_min", "negativity")
    some = m.network_metrics(features, y, K, weights, preacts, names=names, layers=(0, -2))
    assert tuple(some) == names
    for key in names:
        got, want = np.asarray(some[key]), np.asarray(full[key])
        np.testing.assert_array_equal(got[[0, 3]], want[[0, 3]])
        assert np.isnan(got[[1, 2, 4]]).all()
    only_pairs = m.network_metrics(features, y, K, weights, names=("relative_balancedness",))
    np.testing.assert_array_equal(
        only_pairs["relative_balancedness"], full["relative_balancedness"]
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"names": ("nc1", "negativity")}, r"unknown: \['nc1'\]"),
        ({"names": ()}, "non-empty subset"),
        ({"layers": (5,)}, "metric layer 5 is out of range for a network of 5 layers"),
    ],
)
def test_bad_subsets_are_named(kwargs, match):
    y, weights, features, preacts = _network()
    with pytest.raises(ValueError, match=match):
        m.network_metrics(features, y, K, weights, preacts, **kwargs)
