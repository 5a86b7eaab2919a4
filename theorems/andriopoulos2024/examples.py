"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): records of a
regression UFM and of MLPs with and without weight decay, a planted violation of each
statement and a failing hypothesis. The contract tests every registered paper gets read them
through ``PAPER.examples``."""

from __future__ import annotations

import math

from nc_jax.checks import Example


def ufm_q(**changes: float) -> dict[str, float]:
    """A settled regression UFM's record inside (0, lambda_min), every NRC at rounding."""
    q = dict(
        is_ufm=1.0,
        d=16.0,
        n=4.0,
        c=0.06,
        lambda_min=0.12,
        lambda_max=2.3,
        ufm_error=1e-6,
        nrc1=1e-12,
        nrc2=1e-12,
        nrc3=1e-13,
        gamma_opt=0.0600004,
        weight_decay=0.015,
        decay_efolds=60.0,
        nrc1_c=1e-12,
        nrc2_c=2e-12,
        nrc1_c_init=math.nan,
        nrc2_c_init=math.nan,
        nrc3_init=math.nan,
        nrc1_c_settling=math.nan,
        nrc2_c_settling=math.nan,
        nrc3_settling=math.nan,
    )
    return q | changes


def mlp_q(**changes: float) -> dict[str, float]:
    """A trained, settled MLP's record (weight decay 0.03, 18 e-folds) that collapsed."""
    q = dict(
        is_ufm=0.0,
        d=64.0,
        n=4.0,
        c=math.nan,
        lambda_min=0.12,
        lambda_max=2.3,
        ufm_error=math.nan,
        nrc1=0.02,
        nrc2=0.75,
        nrc3=0.015,
        gamma_opt=0.0,
        weight_decay=0.03,
        decay_efolds=18.0,
        nrc1_c=0.02,
        nrc2_c=0.04,
        nrc1_c_init=0.45,
        nrc2_c_init=0.93,
        nrc3_init=0.2,
    )
    q |= {f"{k}_settling": q[k] for k in ("nrc1_c", "nrc2_c", "nrc3")}  # settled
    return q | changes


def no_decay(**changes: float) -> dict[str, float]:
    """An MLP record without weight decay that did not collapse."""
    values = dict(nrc1_c=0.5, nrc2_c=0.95, nrc3=0.06)
    settled = {f"{k}_settling": v for k, v in values.items()}
    return mlp_q(weight_decay=0.0, decay_efolds=0.0, **values, **settled, **changes)


# theorem id -> (holding quantities, planted violation, a failing hypothesis)
CASES: dict[str, tuple[dict[str, float], ...]] = {
    "andriopoulos2024.ufm.closed_form": (ufm_q(), ufm_q(ufm_error=2e-3), ufm_q(c=2.5)),
    "andriopoulos2024.ufm.nrc1": (ufm_q(), ufm_q(nrc1=1e-5), ufm_q(c=0.2)),
    "andriopoulos2024.ufm.nrc2": (ufm_q(), ufm_q(nrc2=1e-5), ufm_q(d=3.0)),
    "andriopoulos2024.ufm.nrc3": (ufm_q(), ufm_q(nrc3=1e-5), mlp_q()),
    "andriopoulos2024.ufm.gamma": (ufm_q(), ufm_q(gamma_opt=0.07), ufm_q(c=0.0)),
    "andriopoulos2024.mlp.nrc1_c_collapse": (
        mlp_q(),
        mlp_q(nrc1_c=0.2, nrc1_c_settling=0.2),
        mlp_q(decay_efolds=1.0),
    ),
    "andriopoulos2024.mlp.nrc2_c_collapse": (
        mlp_q(),
        mlp_q(nrc2_c=0.3, nrc2_c_settling=0.3),
        no_decay(),
    ),
    "andriopoulos2024.mlp.nrc3_collapse": (
        mlp_q(),
        mlp_q(nrc3=0.06, nrc3_settling=0.06),
        ufm_q(),
    ),
    "andriopoulos2024.mlp.nrc1_c_no_collapse": (
        no_decay(),
        no_decay(nrc1_c_init=0.4) | {"nrc1_c": 0.03, "nrc1_c_settling": 0.03},  # < 0.1 x 0.4
        mlp_q(),
    ),
    "andriopoulos2024.mlp.nrc2_c_no_collapse": (
        no_decay(),
        no_decay() | {"nrc2_c": 0.05, "nrc2_c_settling": 0.05},
        ufm_q(),
    ),
    "andriopoulos2024.mlp.nrc3_no_collapse": (
        no_decay(),
        no_decay() | {"nrc3": 0.015, "nrc3_settling": 0.015},  # below 0.1 x 0.2
        no_decay(d=2.0),
    ),
    "andriopoulos2024.measure.nrc1_le_nrc2": (mlp_q(), mlp_q(nrc1_c=0.05), mlp_q(d=3.0)),
}


EXAMPLES = {theorem_id: Example(*cases) for theorem_id, cases in CASES.items()}
