"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): a seed's
record whose NC metrics and gap fall as L^(-1/2) over 4 depths (``quantities``), a planted
violation of each statement (an objective below J*; a profile rising as L^0.3 measured through
the same fit) and a failing hypothesis. The contract tests every registered paper gets read
them through ``PAPER.examples``."""

from __future__ import annotations

from nc_jax.checks import Example
from theorems.sukenik2025.bounds import THEOREMS
from theorems.sukenik2025.measure import kendall_tau, power_law_fit


def quantities(**overrides: float) -> dict[str, float]:
    """A hand-made seed record: NC metrics and the gap falling as L^(-1/2) over 4 depths."""
    depths = [1, 2, 4, 8]
    base = {
        "J_star": 0.2,
        "objective_min": 0.25,
        "weight_decay": 0.05,
        "K": 10,
        "width": 32,
        "class_imbalance": 0,
        "ball_features": 0,
        "radius_deviation": 1e-15,
        "radius_excess": 1e-15,
        "mean_deviation": 1e-17,
        "num_depths": 4,
    }
    for name in ("nc1", "nc2", "nc3", "gap"):
        exponent, error = power_law_fit(depths, [L**-0.5 for L in depths])
        base |= {f"{name}_exponent": exponent, f"{name}_exponent_se": error}
        base |= {f"{name}_exponent_seeds": exponent, f"{name}_exponent_seeds_se": error}
        base[f"{name}_kendall"] = kendall_tau(depths, [L**-0.5 for L in depths])
    base["num_seeds"] = 2
    return base | overrides


def _rising(name: str) -> dict[str, float]:
    """The depth-trend fields of ``name`` for a profile 0.1 L^0.3 rising with depth."""
    depths = [1, 2, 4, 8]
    exponent, error = power_law_fit(depths, [0.1 * L**0.3 for L in depths])
    return {
        f"{name}_exponent_seeds": exponent,
        f"{name}_exponent_seeds_se": error,
        f"{name}_kendall": 1.0,
    }


def _example(theorem_id: str) -> Example:
    if theorem_id == "sukenik2025.limit.lower_bound":
        below = quantities(objective_min=0.19)
        return Example(quantities(), below, below | {"weight_decay": 0.0})
    rising = quantities(**_rising(theorem_id.rsplit(".", 1)[-1]))
    return Example(quantities(), rising, rising | {"num_seeds": 1})


EXAMPLES = {theorem.id: _example(theorem.id) for theorem in THEOREMS}
