"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): a network
that satisfies every hypothesis (``IDEAL``: eps1 = 0.1 s_K(Y), a balanced head, a settled
run), a planted violation of each statement and a change that makes one of its hypotheses
fail. The contract tests every registered paper gets read them through ``PAPER.examples``."""

from __future__ import annotations

from nc_jax.checks import Example
from theorems.jacot2025.bounds import THEOREMS

IDEAL = {
    "eps1": 0.3, "eps2": 1e-4, "eps2_last": 1e-4, "r": 2.0, "r_head": 1.5, "s_K_Y": 3.0,
    "N": 90, "K": 10, "n_penultimate": 16, "L2": 3, "head_bias_free": 1.0,
    "class_imbalance": 0, "within_mass": 0.1, "nc1": 1e-3, "kappa_M": 1.2, "cos_min": 0.99,
    "kappa_WL": 1.05, "kappa_head": 1.16, "head_s1": 1.16, "head_sK": 1.0,
    "norm_first_linear": 1.2, "recursion_residual": 1e-16,
    "gd_coupled": 1.0, "grad_balance_bound": 1e-3, "weight_decay": 0.001,
    "ntk_lambda_max": 50.0, "ntk_relative_change": 1e-9, "step_scale": 0.01,
    "stability_product": 0.5, "total_mass": 20.0, "nc1_init": 3.0, "kappa_M_init": 8.0,
    "cos_min_init": 0.05, "kappa_WL_init": 2.5, "kappa_head_init": 9.0, "eps2_init": 4.0,
    "penultimate_op_sq": 4.0, "last_pair_sq_norm": 2.25, "head_grad_sq": 0.01,
    "before_op": 1.8, "norm_WL": 1.4,
    "eta": 1e-3, "steps": 2_000_000, "decay_steps": 2_000_000, "n1": 128, "pyramidal": 1.0,
    "theta0_norm": 0.5,
    "smooth_activation": 1.0,
    "lambda_F_init": 0.5, "hessian_lambda_max": 60.0, "hessian_relative_change": 1e-9,
    "hessian_lambda_max_init": 400.0,
    "unit_roundoff": 2.0**-53, "competitor_c": 2.0, "competitor_residual": 1e-12,
    "cost_ratio": 0.5, "fit_gain": 1.0,
}  # fmt: skip

# theorem id -> (planted measurement breaking the bound, a mutation that fails a hypothesis)
PLANTED = {
    "jacot2025.thm3_1.within_mass": (lambda q, b: {"within_mass": 2 * b}, {"eps1": 3.5}),
    "jacot2025.thm3_1.nc1": (lambda q, b: {"nc1": 2 * b}, {"class_imbalance": 1}),
    "jacot2025.thm3_1.nc2": (lambda q, b: {"kappa_M": 2 * b}, {"eps1": 3.0}),
    "jacot2025.thm3_1.nc3": (lambda q, b: {"cos_min": b / 2}, {"head_bias_free": 0.0}),
    "jacot2025.thm3_1.nc2_c3": (lambda q, b: {"kappa_M": 2 * b}, {"eps2": 1.0}),
    "jacot2025.thm3_1.nc3_c3": (lambda q, b: {"cos_min": b / 2}, {"eps1": 3.0}),
    "jacot2025.thm3_1.within_mass_tight": (lambda q, b: {"within_mass": 2 * b}, {"eps1": 3.0}),
    "jacot2025.thm3_1.nc1_tight": (lambda q, b: {"nc1": 2 * b}, {"class_imbalance": 1}),
    "jacot2025.thm3_1.nc2_tight": (lambda q, b: {"kappa_M": 2 * b}, {"L2": 1}),
    "jacot2025.thm3_1.nc3_tight": (lambda q, b: {"cos_min": b / 2}, {"head_bias_free": 0.0}),
    "jacot2025.thm3_1.head_to_last": (
        lambda q, b: {"kappa_WL": (2 * b) ** (1 / 6)},
        {"head_sK": 1e-4},
    ),
    "jacot2025.thm3_1.head_to_last_composite": (
        lambda q, b: {"kappa_WL": (2 * b) ** (1 / 6)},
        {"eps2": 1.0},
    ),
    "jacot2025.sec4.recursion": (lambda q, b: {"recursion_residual": 1e-6}, {"gd_coupled": 0.0}),
    "jacot2025.sec4.interpolation": (lambda q, b: {"eps1": 3.01}, {"n1": 64}),
    "jacot2025.sec4.balancing": (lambda q, b: {"eps2": 2 * b}, {"gd_coupled": 0.0}),
    "jacot2025.sec5.balanced_head": (lambda q, b: {"kappa_WL": 1.3}, {"weight_decay": 0.0}),
    "jacot2025.sec5.critical_balance": (lambda q, b: {"eps2_last": 2 * b}, {"weight_decay": 0}),
    "jacot2025.sec5_2.ntk": (lambda q, b: {"ntk_lambda_max": b / 2}, {"eps1": 3.0}),
    "jacot2025.sec5_2.edge_of_stability": (
        lambda q, b: {"kappa_head": 2 * b},
        {"stability_product": 2.5},
    ),
    "jacot2025.thm5_2.head_conditioning": (
        lambda q, b: {"kappa_WL": 2 * b},
        {"cost_ratio": 1.5},  # costlier than the competitor: the bound's premise fails
    ),
    "jacot2025.sec5_2.edge_of_stability_hessian": (
        lambda q, b: {"kappa_head": 2 * b},
        {"hessian_lambda_max": 3000.0},  # eta lambda_max = 3 > 2: past the edge
    ),
}


def _example(theorem_id: str) -> Example:
    """IDEAL (holds), IDEAL with its planted measurement (violated), and that with the
    hypothesis-breaking change (vacuous)."""
    (theorem,) = [t for t in THEOREMS if t.id == theorem_id]
    plant, unhypothesise = PLANTED[theorem_id]
    violated = IDEAL | plant(IDEAL, theorem.evaluate(IDEAL).bound)
    return Example(IDEAL, violated, violated | unhypothesise)


EXAMPLES = {theorem.id: _example(theorem.id) for theorem in THEOREMS}
