"""The MLP against a float64 NumPy forward pass for every activation, with and without biases
(non-linear layers and head), and every initialisation scheme against its stated law: LeCun
N(0, 1/fan_in), He N(0, 2/fan_in) on the non-linear layers and N(0, 1/fan_in) on the head,
orthogonal with gains sqrt 2 and 1; init_scale and layer_scales multiply; biases start at 0."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nc_jax.models import MLP

SMOOTH_GAMMA = 0.25
NUMPY_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    # jax.nn.gelu's default is the tanh approximation
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
    f"smooth:{SMOOTH_GAMMA}": lambda x: SMOOTH_GAMMA * x + (1 - SMOOTH_GAMMA) * np.logaddexp(0, x),
}


def numpy_forward(params, x, activation, num_nonlinear):
    """Z_l = sigma(Z_{l-1} W_l^T + b_l) for the first num_nonlinear layers, then linear."""
    sigma = NUMPY_ACTIVATIONS[activation]
    z, features, preacts = np.asarray(x, np.float64), [], []
    for layer, entry in enumerate(params):
        h = z @ np.asarray(entry["w"], np.float64).T
        if "b" in entry:
            h = h + np.asarray(entry["b"], np.float64)
        z = sigma(h) if layer < num_nonlinear else h
        features.append(z)
        preacts.append(h)
    return z, features, preacts


@pytest.mark.parametrize("activation", list(NUMPY_ACTIVATIONS))
@pytest.mark.parametrize("bias", [False, True])
def test_forward_pass_matches_numpy_for_every_activation_with_and_without_bias(activation, bias):
    model = MLP((7, 6, 5, 3), num_linear=2, activation=activation, bias=bias, head_bias=bias)
    params = model.init(jax.random.PRNGKey(1), 4)
    params = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf, jnp.float64), params)
    rng = np.random.default_rng(2)
    if bias:  # non-zero biases, or a wrong sign or a missing bias would go unnoticed
        params = [
            {**entry, "b": jnp.asarray(rng.normal(size=entry["b"].shape))} for entry in params
        ]
    assert all(("b" in entry) == bias for entry in params)
    x = rng.normal(size=(9, 4)) * 2
    out, layers = model.apply(params, jnp.asarray(x))
    want, features, preacts = numpy_forward(params, x, activation, model.num_nonlinear)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-12, atol=1e-12)
    for layer, (got, expected) in enumerate(zip(layers.features, features)):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-12)
        if layer < model.num_nonlinear:
            np.testing.assert_allclose(np.asarray(layers.preactivations[layer]), preacts[layer])
        else:
            assert layers.preactivations[layer] is None
    assert [w.shape for w in layers.weights] == [(7, 4), (6, 7), (5, 6), (3, 5)]


def _variance_ratio(model, fan_in=400, layer=0):
    """Empirical variance of a layer's weights times fan_in (the law's gain)."""
    params = model.init(jax.random.PRNGKey(0), fan_in)
    return float(np.var(np.asarray(params[layer]["w"], np.float64))) * (
        fan_in if layer == 0 else model.widths[layer - 1]
    )


@pytest.mark.parametrize(
    ("scheme", "gains"), [("lecun", (1.0, 1.0)), ("he", (2.0, 1.0))], ids=["lecun", "he"]
)
def test_gaussian_initialisations_have_the_stated_variance(scheme, gains):
    model = MLP((300, 300), num_linear=1, init_scheme=scheme)  # layer 0 ReLU, layer 1 the head
    nonlinear, head = gains
    assert _variance_ratio(model, layer=0) == pytest.approx(nonlinear, rel=0.03)
    assert _variance_ratio(model, layer=1) == pytest.approx(head, rel=0.03)
    scaled = MLP((300, 300), num_linear=1, init_scheme=scheme, init_scale=0.5, layer_scales=(2, 3))
    assert _variance_ratio(scaled, layer=0) == pytest.approx(nonlinear * (0.5 * 2) ** 2, rel=0.03)
    assert _variance_ratio(scaled, layer=1) == pytest.approx(head * (0.5 * 3) ** 2, rel=0.03)


def test_orthogonal_initialisation_is_orthogonal_with_its_gains():
    model = MLP((5, 12, 3), num_linear=1, init_scheme="orthogonal", bias=True)
    params = model.init(jax.random.PRNGKey(3), 8)
    w0, w1, w2 = (np.asarray(entry["w"], np.float64) for entry in params)
    np.testing.assert_allclose(w0 @ w0.T, 2.0 * np.eye(5), atol=1e-5)  # wide: rows orthogonal
    np.testing.assert_allclose(w1.T @ w1, 2.0 * np.eye(5), atol=1e-5)  # tall: columns
    np.testing.assert_allclose(w2 @ w2.T, np.eye(3), atol=1e-5)  # the head: gain 1
    assert all(np.all(np.asarray(entry["b"]) == 0) for entry in params[:2])
    assert "b" not in params[2]  # the head is bias-free unless head_bias
