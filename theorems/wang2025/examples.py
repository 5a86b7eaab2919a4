"""Hand-made quantities for every wang2025 check (nc_jax.checks.Example): a converged seed (the
standard UFM's values as measured, with a test set's tail accuracies added), a planted
violation and a failing hypothesis."""

from __future__ import annotations

from nc_jax.checks import Example

RUN: dict[str, float] = {
    "align_head_plain": 0.976,
    "align_tail_plain": 0.922,
    "align_head_samples_plain": 0.951,
    "align_tail_samples_plain": 0.995,
    "nc3_plain": 0.534,
    "change_plain": 1e-9,
    "align_tail_aligned": 0.9999,
    "nc3_aligned": 0.517,
    "change_aligned": 1e-9,
    "imbalance_ratio": 50.0,
    "tail_accuracy_plain": 0.39,
    "tail_accuracy_aligned": 0.40,
    "tail_test_samples": 500.0,
    "beta": 1.0,
    "chernoff_error": 1e-15,
    "sigma_min_eig": 0.1,
    "exponent_ratio_head_tail": 0.63,
    "slerp_norm_error": 2e-16,
    "slerp_angle_error": 3e-16,
    "slerp_sin_omega": 0.16,
}

# theorem id -> (planted violation, a failing hypothesis), both changes of RUN
CASES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "wang2025.e5a.chernoff_ratio": ({"chernoff_error": 1e-3}, {"sigma_min_eig": 0.0}),
    "wang2025.e5b.slerp": ({"slerp_angle_error": 1e-4}, {"slerp_sin_omega": 1e-6}),
    "wang2025.e5c.tail_misalignment": ({"align_tail_plain": 0.99}, {"change_plain": 1e-3}),
    "wang2025.e5d.alignment_restored": ({"align_tail_aligned": 0.925}, {"beta": 0.0}),
    "wang2025.e5d.tail_accuracy": ({"tail_accuracy_aligned": 0.25}, {"tail_test_samples": 0.0}),
}

EXAMPLES = {
    theorem_id: Example(RUN, RUN | violated, RUN | violated | failing)
    for theorem_id, (violated, failing) in CASES.items()
}
