"""Benchmark: the full per-layer metric set, Gram forms (nc_jax) vs d x d covariances (NumPy).

One layer of N samples in d dimensions with K classes (default d = 4096, N = 10,000, K = 10:
a wide layer at the scale of the paper's experiments). Both sides compute the metrics of
``nc_jax.metrics.layer_metrics`` with a classifier (NC1 trace ratio, pinv and CDNV; the scatter
traces; NC2 kappa, ETF and orthogonal-frame deviations, equinorm, equiangularity, maximal
angle; NC3 cosines and self-duality; NC4 agreement):

- nc_jax, jitted, float64 and float32, timed after a warm-up (best of ``--repeats``);
- the straightforward NumPy float64 way: d x d Sigma_W and Sigma_B, np.linalg.pinv (what most
  neural-collapse code does), timed once;
- the float64 reference with Sigma_B^+ truncated to rank K - 1, against which every value is
  compared (relative error).

Usage: python experiments/bench_metrics.py [--dim 4096] [--samples 10000] [--classes 10]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.metrics import layer_metrics
from nc_jax.metrics import reference as ref


def make_layer(dim: int, samples: int, classes: int, seed: int = 0):
    """Noisy class-structured features (N, d), balanced labels (N,), a classifier (K, d)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), samples // classes).astype(np.int32)
    means = rng.normal(size=(classes, dim))
    z = means[y] + 2.0 * rng.normal(size=(y.size, dim))
    classifier = means + 0.5 * rng.normal(size=(classes, dim))
    return z, y, classifier


def time_ours(z, y, classifier, classes: int, dtype, repeats: int):
    """Best wall time of the jitted metric set after one warm-up call, and its values."""
    fn = jax.jit(lambda z, w: layer_metrics(z, jnp.asarray(y), classes, classifier=w))
    args = (jnp.asarray(z, dtype), jnp.asarray(classifier, dtype))
    values = jax.block_until_ready(fn(*args))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best, {key: float(value) for key, value in values.items()}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def max_relative_error(ours: dict, reference: dict) -> tuple[float, str]:
    errors = {
        key: abs(ours[key] - value) / max(abs(value), 1e-300) for key, value in reference.items()
    }
    worst = max(errors, key=errors.get)
    return errors[worst], worst


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=4096)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)

    z, y, classifier = make_layer(args.dim, args.samples, args.classes)
    print(f"one layer: d = {args.dim}, N = {y.size}, K = {args.classes}; {jax.devices()[0]}")
    t64, ours64 = time_ours(z, y, classifier, args.classes, jnp.float64, args.repeats)
    t32, ours32 = time_ours(z, y, classifier, args.classes, jnp.float32, args.repeats)
    t_naive, naive = timed(ref.layer_metric_set, z, y, args.classes, classifier, truncate=False)
    t_ref, reference = timed(ref.layer_metric_set, z, y, args.classes, classifier)

    err64, key64 = max_relative_error(ours64, reference)
    err32, key32 = max_relative_error(ours32, reference)
    rows = [
        ("nc_jax float64 (Gram forms, jit)", t64, err64, key64, ours64["nc1_pinv"]),
        ("nc_jax float32 (Gram forms, jit)", t32, err32, key32, ours32["nc1_pinv"]),
        (
            "NumPy float64, d x d + np.linalg.pinv",
            t_naive,
            *max_relative_error(naive, reference),
            naive["nc1_pinv"],
        ),
        ("NumPy float64, d x d + rank-(K-1) pinv", t_ref, 0.0, "-", reference["nc1_pinv"]),
    ]
    print(
        f"{'implementation':42s} {'seconds':>9s} {'speed-up':>9s} {'max rel err':>12s}"
        f" {'(metric)':>18s} {'NC1 pinv':>12s}"
    )
    for name, seconds, err, key, nc1 in rows:
        print(
            f"{name:42s} {seconds:9.3f} {t_naive / seconds:8.1f}x {err:12.2e} {key:>18s}"
            f" {nc1:12.5g}"
        )
    print(f"speed-up of nc_jax float64 over the d x d NumPy implementation: {t_naive / t64:.1f}x")
    return {
        "seconds_ours64": t64,
        "seconds_ours32": t32,
        "seconds_naive": t_naive,
        "seconds_reference": t_ref,
        "max_rel_err64": err64,
        "max_rel_err32": err32,
        "nc1_pinv_naive": naive["nc1_pinv"],
        "nc1_pinv_reference": reference["nc1_pinv"],
    }


if __name__ == "__main__":
    main()
