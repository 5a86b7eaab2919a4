"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): a 4-DUFM
record whose best run is below DNC and settled and whose configurations attain their closed
forms (``ideal``), a planted violation of each statement and, where it has one, a failing
hypothesis. The contract tests every registered paper gets read them through
``PAPER.examples``."""

from __future__ import annotations

import math

from nc_jax.checks import Example
from theorems.sukenik2024.bounds import THEOREMS


def ideal(**changes: float) -> dict[str, float]:
    """Quantities of a 4-DUFM whose best run is below DNC and settled, whose configurations
    attain their closed forms (as measured), n = 2 so DNC1 applies."""
    q = {
        "K": 10.0,
        "n": 2.0,
        "L": 4.0,
        "width": 30.0,
        "L_DNC": 0.2,
        "L_SRG": 0.18,
        "dnc_config_objective": 0.2 * (1 + 1e-15),
        "dnc_config_gradient_norm": 1e-17,
        "srg_config_objective": 0.18,
        "srg_rank_mismatch": 0.0,
        "srg_rank_pre_L": 5.0,
        "srg_rank_post_L": 10.0,
        "r": 5.0,
        "objective": 0.17,
        "embedded_objective": 0.17,
        "ratio": 0.85,
        "learning_rate": 0.5,
        "lambda_H": 0.004,
        "steps": 20000.0,
        "ratio_orbit_max": 0.851,
        "best_ratio_orbit_max": 0.851,
        "drift": 1e-4,
        "srg_ratio": 0.9,
        "fraction_below_dnc": 1.0,
        "fraction_reached_dnc": 0.0,
        **{f"rank_post_{layer}": 5.0 for layer in (1, 2, 3)},
        "rank_post_4": 10.0,
        **{f"dnc1_{layer}": 1e-7 for layer in (1, 2, 3, 4)},
    }
    return q | changes


PLANTED = {
    "sukenik2024.b3.dnc_value": {"dnc_config_objective": 0.2 * (1 + 1e-6)},
    "sukenik2024.b3.dnc_critical": {"dnc_config_gradient_norm": 1e-6},
    "sukenik2024.b3.srg_value": {"srg_config_objective": 0.18 * (1 - 1e-9)},
    "sukenik2024.b3.srg_ranks": {"srg_rank_mismatch": 1.0},
    "sukenik2024.b3.embedding": {"embedded_objective": 0.17 * (1 + 1e-10)},
    "sukenik2024.b3.below_dnc": {"ratio_orbit_max": 0.9995, "best_ratio_orbit_max": 0.9995},
    "sukenik2024.b4.dnc1": {"dnc1_3": 2e-4},
}
FAILING = {
    "sukenik2024.b3.dnc_value": ({"width": 8.0}, "width >= K"),
    "sukenik2024.b3.dnc_critical": ({"width": 8.0}, "width >= K"),
    "sukenik2024.b3.srg_value": ({"r": math.nan}, "K = C(r, 2)"),
    "sukenik2024.b3.srg_ranks": ({"L": 1.0}, "L >= 2"),
    "sukenik2024.b3.below_dnc": ({"K": 2.0}, "K >= 3"),
    "sukenik2024.b4.dnc1": ({"n": 1.0}, "n >= 2"),
}


def _example(theorem_id: str) -> Example:
    vacuous = FAILING.get(theorem_id)
    return Example(
        ideal(), ideal(**PLANTED[theorem_id]), None if vacuous is None else ideal(**vacuous[0])
    )


EXAMPLES = {theorem.id: _example(theorem.id) for theorem in THEOREMS}
