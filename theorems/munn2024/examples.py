"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): a trained run
of the Gaussian instance (``RUN``, numbers of the size the default check measures), a planted
violation of each statement and a failing hypothesis. The contract tests every registered
paper gets read them through ``PAPER.examples``."""

from __future__ import annotations

from nc_jax.checks import Example

RUN: dict[str, float] = {
    "gaussian": 1.0,
    "eval_per_class": 256.0,
    "embed_dim": 16.0,
    "poincare_var": 0.40,
    "poincare_cgc": 1.10,  # C GC: Var / (C GC) = 0.36
    "poincare_se": 0.05,
    "pair_cdnv": 0.020,
    "pair_cgcol": 0.060,
    "pair_se": 0.002,
    "pair_trivial": 0.90,
    "linear_var": 3.2,
    "linear_cgc": 3.2 * (1 + 1e-15),
    "linear_norm": 6.5,
    "gc_train": 2.0,
    "estimator_draws": 200.0,
    **{f"est_{name}_mean": 2.01 for name in ("batch", "mask", "output")},
    **{f"est_{name}_se": 0.01 for name in ("batch", "mask", "output")},
    "ncc_error": 0.002,
    "ncc_bound": 0.15,
    "ncc_se": 0.01,
    "cell_runs": 18.0,
    "gc_spread": 5.0,
    "cdnv_spread": 4.0,
    "min_train_accuracy": 1.0,
    "rho_gc_cdnv": 0.8,
    "rho_gc_target_cdnv": 0.6,
    "rho_gc_few_shot": -0.5,
    "rho_cdnv_few_shot": -0.55,
}

# theorem id -> (planted violation, a failing hypothesis), both changes to RUN
CASES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "munn2024.e6a.variance": ({"poincare_var": 1.5}, {"gaussian": 0.0}),
    "munn2024.e6a.cdnv": ({"pair_cdnv": 0.1}, {"eval_per_class": 10.0}),
    "munn2024.e6b.linear": ({"linear_cgc": 3.3}, {"linear_norm": 0.0}),
    "munn2024.e6c.batch": ({"est_batch_mean": 2.2}, {"estimator_draws": 10.0}),
    "munn2024.e6c.mask": ({"est_mask_mean": 1.9}, {"estimator_draws": 10.0}),
    "munn2024.e6c.output": ({"est_output_mean": 2.1}, {"estimator_draws": 10.0}),
    "munn2024.e6d.ncc": ({"ncc_error": 0.3}, {"eval_per_class": 10.0}),
    "munn2024.e6e.gc_cdnv": ({"rho_gc_cdnv": -0.6}, {"gc_spread": 0.3}),
    "munn2024.e6f.target_cdnv": ({"rho_gc_target_cdnv": -0.6}, {"cell_runs": 4.0}),
    "munn2024.e6f.few_shot": ({"rho_gc_few_shot": 0.6}, {"rho_gc_few_shot": 0.1}),
    "munn2024.e6f.cdnv_few_shot": ({"rho_cdnv_few_shot": 0.6}, {"cdnv_spread": 0.5}),
}

EXAMPLES: dict[str, Example] = {
    theorem_id: Example(holds=RUN, violated=RUN | planted, vacuous=RUN | failing)
    for theorem_id, (planted, failing) in CASES.items()
}
