"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): a run of the
standard instance (K = 4, n = 3, d = 6) that reached the closed-form minimiser in the non-zero
regime (``REACHED``; the zero-regime statement reads ``ZERO``, threshold 1.39 and W = H = 0
reached), a planted violation of each statement and a failing hypothesis. The contract tests
every registered paper gets read them through ``PAPER.examples``."""

from __future__ import annotations

from nc_jax.checks import Example
from theorems.zhu2021.measure import NC_METRICS

REACHED: dict[str, float] = {
    "K": 4.0,
    "d": 6.0,
    "class_imbalance": 0.0,
    "init_norm": 3.5,
    "threshold": 0.035,
    "objective": 0.149,
    "f_star": 0.149,
    "loss_gap": 1e-12,
    "gram_distance": 1e-9,
    "rho_star": 7.4,
    "row_norm_sq_mean": 7.4,
    "feature_distance": 1e-9,
    "alpha": 1.0,
    "has_bias": 1.0,
    "lambda_b": 1e-3,
    "bias_norm": 1e-10,
    "param_ratio": 0.8,
    "grad_norm": 1e-12,
    "hessian_min": 1e-4,
    **{name: 1e-9 for name in NC_METRICS},
}
ZERO = REACHED | {"threshold": 1.39, "param_ratio": 1e-9}

# theorem id -> (holding quantities, planted violation, a failing hypothesis)
CASES: dict[str, tuple[dict[str, float], ...]] = {
    "zhu2021.thm3_1.loss_gap": (REACHED, REACHED | {"loss_gap": 1e-3}, {"d": 4.0}),
    "zhu2021.thm3_1.etf_gram": (REACHED, REACHED | {"gram_distance": 1e-3}, {"threshold": 2.0}),
    "zhu2021.thm3_1.features": (
        REACHED,
        REACHED | {"feature_distance": 1e-3},
        {"class_imbalance": 1.0},
    ),
    "zhu2021.thm3_1.bias": (REACHED, REACHED | {"bias_norm": 1e-3}, {"lambda_b": 0.0}),
    "zhu2021.thm3_1.zero": (ZERO, ZERO | {"param_ratio": 0.5}, {"init_norm": 0.0}),
    "zhu2021.thm3_1.nc2_from_gram": (
        REACHED,
        REACHED | {"zhu_nc2": 3e-9},
        {"threshold": 2.0},
    ),
    "zhu2021.thm3_2.stationary_end_point": (
        REACHED,
        REACHED | {"loss_gap": 0.1},  # a second-order stationary point above f*
        {"hessian_min": -0.01},  # a strict saddle
    ),
}

EXAMPLES = {
    theorem_id: Example(holds, violated, violated | failing)
    for theorem_id, (holds, violated, failing) in CASES.items()
}
