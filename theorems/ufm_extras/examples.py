"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): exact
identities at rounding, trained claims met (``GOOD``), a planted violation of each statement
and, where it has one, a failing hypothesis. The contract tests every registered paper gets
read them through ``PAPER.examples``."""

from __future__ import annotations

from nc_jax.checks import Example
from theorems.ufm_extras.bounds import THEOREMS

GOOD = {
    "etf_gap": 1e-16,
    "etf_gap_prox": 1e-16,
    "etf_value_residual": 1e-16,
    "hadamard_residue": 1e-15,
    "hadamard_initial_residue": 0.0,
    "hadamard_basis_error": 0.0,
    "reduction_residual": 1e-15,
    "hadamard_etf_distance": 1e-16,
    "hadamard_rho": 2.0,
    "hadamard_rho_star": 2.0,
    "hadamard_regime": 0.1,
    "objective": 0.5,
    "optimum": 0.5,
    "objective_gap": 0.0,
    "solver_stationarity": 1e-16,
    "gram_gap": 1e-12,
    "minority_spread": 0.0,
    "imbalance_ratio": 20.0,
    "collapse_threshold": 11.5,
    "feature_dim": 6,
    "num_classes": 4,
}
PLANTED = {
    "ufm_extras.e2.procrustes": {"etf_gap": 1e-3},
    "ufm_extras.e2.procrustes_prox": {"etf_gap_prox": 1e-3},
    "ufm_extras.e2.value_at_frame": {"etf_value_residual": 1e-6},
    "ufm_extras.e3.structure": {"hadamard_residue": 0.3},
    "ufm_extras.e3.reduction": {"reduction_residual": 1e-5},
    "ufm_extras.e3.etf_limit": {"hadamard_etf_distance": 1e-3},
    "ufm_extras.e3.zhu_scale": {"hadamard_rho": 2.1},
    "ufm_extras.imbalance.lower_bound": {"objective": 0.4},
    "ufm_extras.imbalance.optimum": {"objective_gap": 1e-3},
    "ufm_extras.imbalance.geometry": {"gram_gap": 0.05},
    "ufm_extras.imbalance.minority_collapse": {"minority_spread": 0.2},
}
FAILING_HYPOTHESIS = {
    "ufm_extras.e3.reduction": {"hadamard_basis_error": 1.3},
    "ufm_extras.e3.zhu_scale": {"hadamard_regime": 1.2},
    "ufm_extras.imbalance.optimum": {"solver_stationarity": 1e-4},
    "ufm_extras.imbalance.minority_collapse": {"imbalance_ratio": 5.0},
    "ufm_extras.e3.structure": {"hadamard_initial_residue": 1e-3},
    "ufm_extras.e3.etf_limit": {"hadamard_regime": 1.2},
    "ufm_extras.imbalance.lower_bound": {"solver_stationarity": 1e-4},
    "ufm_extras.imbalance.geometry": {"solver_stationarity": 1e-4},
}


def _example(theorem_id: str) -> Example:
    violated = GOOD | PLANTED[theorem_id]
    failing = FAILING_HYPOTHESIS.get(theorem_id)
    return Example(GOOD, violated, None if failing is None else violated | failing)


EXAMPLES = {theorem.id: _example(theorem.id) for theorem in THEOREMS}
