"""Hand-made quantities for every yan2024 check (nc_jax.checks.Example): one run of the
standard setting (values as measured), a planted violation and a failing hypothesis."""

from __future__ import annotations

from nc_jax.checks import Example

RUN: dict[str, float] = {
    "gram_residual": 8e-16,
    "own_centre_deviation": 2e-15,
    "all_centre_gap_min": 1.6e-3,
    "all_centre_gap_max": 3.7e-3,
    "coupling": 0.0099,
    "nc_ave": 1.05e-3,
    "nc_std": 7.5e-4,
    "nc_ave_init": 1.09,
    "nc_tail": 4.6e-5,
    "train_loss": 1.4e-3,
    "ufm_distance": 3e-16,
    "ufm_contraction": 3e-92,
}

# theorem id -> (planted violation, a failing hypothesis), both changes of RUN
CASES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "yan2024.e1a.centre_gram": ({"gram_residual": 1e-3}, {"coupling": 0.0}),
    "yan2024.e1b.own_centre_optimum": ({"own_centre_deviation": 0.1}, {"coupling": 0.0}),
    "yan2024.e1b.trained_ufm": ({"ufm_distance": 1e-3}, {"ufm_contraction": 0.5}),
    "yan2024.e1c.all_centre_gap": ({"all_centre_gap_min": 1e-12}, {"coupling": 0.0}),
    "yan2024.e1d.collapse_to_centre_means": ({"nc_ave": 0.3}, {"train_loss": 0.1}),
}

EXAMPLES = {
    theorem_id: Example(RUN, RUN | violated, RUN | violated | failing)
    for theorem_id, (violated, failing) in CASES.items()
}
