"""Claims about a cell's runs together: a rank correlation across the runs of a cell (does a
lower X go with a lower Y over learning rates, batch sizes, penalties?), with what it takes for
its sign to mean something rather than seed noise.

A paper computes these in its ``finish_cell`` (nc_jax.checks.contract.Paper), which the runner
applies to whole cells, so every run of the cell is counted, also in a multi-host sweep:

- ``spearman(a, b)``: Spearman's rank correlation (NaN where it is undefined);
- ``spread_ratio(values, groups)``: how much the settings of a cell move a quantity against how
  much the seeds do (the variance over settings of the per-setting means over the mean
  seed-to-seed variance);
- ``rank_claim_hypotheses(rho, runs, spread)``: the hypotheses under which the sign of rho is a
  finding (enough runs, settings that move the quantity more than seeds do, |rho| beyond its
  spread between independent values), so that a claim checked on noise is vacuous, never
  violated.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
from scipy.stats import spearmanr

from nc_jax.checks.contract import Hypothesis

MIN_RUNS = 6  # runs of a cell for a rank correlation
MIN_SPREAD = 1.0  # variance over settings / seed-to-seed variance
NULL_SDS = 2.0  # |rho| beyond 2 null standard deviations 1 / sqrt(n - 1): a resolved sign


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of a (n,) and b (n,): NaN with fewer than 3 values or a
    constant one (where it is undefined)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def spread_ratio(values: Sequence[float], groups: Sequence[Hashable]) -> float:
    """Variance (n - 1 divisor) over the groups of the per-group means of ``values`` (n,),
    divided by the mean within-group variance; ``groups`` (n,) names each value's setting (a
    run's setting without its seed). NaN without two groups, without a group of two or more
    values, or with no variance within groups."""
    by_group: dict[Hashable, list[float]] = {}
    for group, value in zip(groups, values):
        by_group.setdefault(group, []).append(float(value))
    within = [np.var(v, ddof=1) for v in by_group.values() if len(v) > 1]
    means = [np.mean(v) for v in by_group.values()]
    if len(means) < 2 or not within or np.mean(within) <= 0:
        return math.nan
    return float(np.var(means, ddof=1) / np.mean(within))


def rank_claim_hypotheses(
    rho: float,
    runs: float,
    spread: float,
    min_runs: int = MIN_RUNS,
    min_spread: float = MIN_SPREAD,
    null_sds: float = NULL_SDS,
) -> tuple[Hypothesis, ...]:
    """When a cell's rank correlation ``rho`` over ``runs`` runs says something: |rho| beyond
    ``null_sds`` times its standard deviation between independent values (about
    1 / sqrt(runs - 1)), at least ``min_runs`` runs, and the settings moving the correlated
    quantity more than the seeds do (``spread``, ``spread_ratio``, >= ``min_spread``)."""
    null = null_sds / math.sqrt(max(runs - 1, 1))
    return (
        Hypothesis(
            f"|rho| >= {null_sds:g} / sqrt(runs - 1): its sign beyond noise", abs(rho), null, ">="
        ),
        Hypothesis(f"trained runs in the cell >= {min_runs}", runs, min_runs, ">="),
        Hypothesis(
            f"spread over settings / seed-to-seed spread >= {min_spread:g}",
            spread,
            min_spread,
            ">=",
        ),
    )
