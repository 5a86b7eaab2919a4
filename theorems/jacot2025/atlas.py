"""The regime atlas of Theorem 3.1 (docs/theory/jacot2025.md, "The regime atlas"): over a sweep
of weight decay, training time, first-layer width, N and data, where each bound becomes
informative, which hypothesis fails first where it does not, how conservative condition (11)
is, and at what rate each bound follows its measurement.

Everything here reads a results directory of jacot2025 cells (``nc_jax.results``): per-run
quantities and per-run check rows. The hypotheses are read in a fixed order, stated before any
run (ATLAS_HYPOTHESES); convergence is a stated criterion on two measured quantities
(CONVERGENCE_STATIONARITY, CONVERGENCE_BALANCE), never a level fitted to the runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from nc_jax import results
from nc_jax.metrics.fits import log_linear_fit
from theorems.jacot2025.bounds import telescoping_error
from theorems.jacot2025.regime import informative_share

THEOREM_3_1 = "jacot2025.thm3_1."
# Converged, a priori: ||grad of the regularised objective|| <= 1% of the weight-decay force
# ||lambda theta|| (0 at a critical point), and the head balanced to 0.1% of its scale, eps2 <=
# 1e-3 r_W^2 (D = 0 exactly at a critical point). A first form asked eps2 to have stopped moving
# over the float64 replay; but at a critical point exact arithmetic keeps contracting D by
# (1 - eta lambda)^2 per step forever, so eps2 never stops moving: the replays of the first atlas
# run moved it at exactly that rate even at eps2 = 5e-6, and the form was replaced.
CONVERGENCE_STATIONARITY = 0.01
CONVERGENCE_BALANCE = 1e-3
RATE_CONFIDENCE = 0.95


def _condition_11(runs: pd.DataFrame) -> pd.Series:
    """The largest weight decay condition (11) allows: s_K(Y)^2 / (18 (||theta0|| +
    lambda_F/2)^2) (as a review typed it; docs/theory/jacot2025.md, Section 4)."""
    return runs["s_K_Y"] ** 2 / (18 * (runs["theta0_norm"] + runs["lambda_F_init"] / 2) ** 2)


def _head_conditioned(runs: pd.DataFrame) -> pd.Series:
    """s_K(A)^2 - e > 0, A = W_{L:L1+1}: the hypothesis of the head-to-last-layer bound."""
    e = [
        telescoping_error(eps2, r, int(depth))
        for eps2, r, depth in zip(runs["eps2"], runs["r_head"], runs["L2"])
    ]
    return runs["head_sK"] ** 2 - np.asarray(e, dtype=float) > 0


def converged(runs: pd.DataFrame) -> pd.Series:
    """The atlas' convergence criterion per run (see CONVERGENCE_*)."""
    return (runs["relative_stationarity"] <= CONVERGENCE_STATIONARITY) & (
        runs["eps2"] <= CONVERGENCE_BALANCE * runs["r_head"] ** 2
    )


# (name, per-run test on the runs frame), in the order "first to fail" reads them
ATLAS_HYPOTHESES: tuple[tuple[str, Callable[[pd.DataFrame], pd.Series]], ...] = (
    ("eps1 < s_K(Y)", lambda q: q["eps1"] < q["s_K_Y"]),
    ("H4", lambda q: q["eps1"] <= np.sqrt((q["K"] - 1) * q["N"] / (4 * q["K"]))),
    ("(11)", lambda q: q["weight_decay"] <= _condition_11(q)),
    ("n1 >= N", lambda q: q["n1"] >= q["N"]),
    ("stable GD", lambda q: q["stability_product"] <= 2),
    ("s_K(A)^2 > e", _head_conditioned),
    ("converged", converged),
)


def hypotheses(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run (rows of ``runs``), whether each atlas hypothesis holds: bool columns in the
    order of ATLAS_HYPOTHESES (NaN quantities read as failing)."""
    return pd.DataFrame(
        {name: test(runs).fillna(False).astype(bool) for name, test in ATLAS_HYPOTHESES},
        index=runs.index,
    )


def first_failing(runs: pd.DataFrame) -> pd.Series:
    """Per run, the first atlas hypothesis that fails ('' when all hold)."""
    held = hypotheses(runs)
    return held.apply(
        lambda row: next((name for name in held.columns if not row[name]), ""), axis=1
    )


def _most_common(values: pd.Series) -> str:
    counts = values.value_counts()
    return "" if counts.empty else str(counts.index[0])


def atlas_frame(directory: Path) -> pd.DataFrame:
    """One row per cell (its grid axes first) over its trained runs: medians of eps1 / s_K(Y),
    eps2 and r; the two terms of Psi, r eps1 / (s_K(Y) - eps1) (fit) and r sqrt(n_{L-1} eps2)
    (balance), and which dominates; the share of runs that hold each atlas hypothesis; the most
    common first failing one; and per Theorem 3.1 check the median slack over its non-vacuous
    runs and 'informative/applies'."""
    axes = results.grid_names(results.read_grid(directory))
    runs = trained_runs(directory)
    checks = results.load(directory)
    held = hypotheses(runs)
    runs = runs.assign(first_failing=first_failing(runs))
    rows = []
    for cell, members in runs.groupby("cell", sort=False):
        row = {key: members[key].iloc[0] for key in axes}
        row["runs"] = len(members)
        row["eps1/s_K(Y)"] = (members["eps1"] / members["s_K_Y"]).median()
        row["eps2"] = members["eps2"].median()
        row["r"] = members["r"].median()
        fit = members["r"] * members["eps1"] / (members["s_K_Y"] - members["eps1"])
        fit = fit.where(members["eps1"] < members["s_K_Y"], np.inf)
        balance = members["r"] * np.sqrt(members["n_penultimate"] * members["eps2"])
        row["psi fit term"], row["psi balance term"] = fit.median(), balance.median()
        row["dominant"] = "fit" if row["psi fit term"] >= row["psi balance term"] else "balance"
        for name in held.columns:
            row[name] = held.loc[members.index, name].mean()
        row["first failing"] = _most_common(members["first_failing"]) or "none"
        mine = checks[(checks["cell"] == cell) & checks["check"].str.startswith(THEOREM_3_1)]
        for check, verdicts in mine.groupby("check", sort=False):
            short = check.removeprefix(THEOREM_3_1)
            live = verdicts[verdicts["verdict"] != "vacuous"]
            row[f"{short} slack"] = live["slack"].astype(float).median() if len(live) else np.nan
            row[short] = informative_share(verdicts)
        rows.append(row)
    return pd.DataFrame(rows)


def trained_runs(directory: Path) -> pd.DataFrame:
    """The runs frame of a results directory (one row per run, its quantities as columns)
    without the diverged runs."""
    runs = results.load_runs(directory)
    return runs[runs["diverged_step"].isna()].copy()


def condition_11_factor(runs: pd.DataFrame, group_by: Sequence[str]) -> pd.DataFrame:
    """How conservative condition (11) is, per group of trained runs (``group_by``: columns of
    ``runs``, the grid axes other than the weight decay): the largest weight decay at which
    most runs reach H1-H4 (eps1 < s_K(Y) and H4), against the median weight decay (11) allows
    there; their ratio is the factor by which (11) is conservative (NaN when no weight decay
    reaches H1-H4)."""
    held = hypotheses(runs)
    runs = runs.assign(reached=held["eps1 < s_K(Y)"] & held["H4"], allowed=_condition_11(runs))
    rows = []
    for key, group in runs.groupby(list(group_by), sort=True):
        share = group.groupby("weight_decay")["reached"].mean()
        reaching = share[share > 0.5].index
        largest = float(max(reaching)) if len(reaching) else np.nan
        allowed = float(group["allowed"].median())
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(group_by, key)),
                "largest lambda reaching H1-H4": largest,
                "lambda (11) allows": allowed,
                "(11) conservative by": largest / allowed,
            }
        )
    return pd.DataFrame(rows)


# per check: how the measured value and the bound become the two sides of a log-log fit
# (the excess over perfect collapse for the conditioning and cosine checks)
_RATE_FORMS: dict[str, tuple[str, Callable[[pd.Series], pd.Series]]] = {
    "within_mass": ("within-class mass vs Psi", lambda v: v),
    "nc1": ("NC1 vs 4 K r^2 Psi^2 / ((K-1) N)", lambda v: v),
    "nc2": ("kappa(M) - 1 vs bound - 1", lambda v: v - 1),
    "nc3": ("1 - cos_min vs 1 - bound, bound > 0", lambda v: (1 - v).where(v > 0)),
    "nc2_c3": ("kappa(M) - 1 vs bound - 1 (c3 form)", lambda v: v - 1),
    "nc3_c3": ("1 - cos_min vs 1 - bound, bound > 0 (c3)", lambda v: (1 - v).where(v > 0)),
    "head_to_last": ("kappa(W_L)^(2 L2) - 1 vs bound - 1", lambda v: v - 1),
}


def loglog_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least squares log y = a + b log x over the positive finite pairs, with the
    RATE_CONFIDENCE interval of the slope b (Student t, n - 2 degrees of freedom).

    Returns:
        n, slope, slope_low, slope_high, intercept and the constant exp(a) it implies (at slope
        1, y = exp(a) x: a bound with the right rate and a constant 1/exp(a) too loose); NaN
        entries when fewer than 3 pairs remain or x does not vary.
    """
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    fit = log_linear_fit(np.log(x[keep]), y[keep])
    empty = dict.fromkeys(("slope", "slope_low", "slope_high", "intercept", "constant"), np.nan)
    if np.isnan(fit.slope):
        return {"n": fit.n, **empty}
    half = stats.t.ppf(0.5 + RATE_CONFIDENCE / 2, fit.n - 2) * fit.stderr
    return {
        "n": fit.n,
        "slope": fit.slope,
        "slope_low": fit.slope - half,
        "slope_high": fit.slope + half,
        "intercept": fit.intercept,
        "constant": float(np.exp(fit.intercept)),
    }


def rate_table(directory: Path) -> pd.DataFrame:
    """Per Theorem 3.1 bound, the log-log fit of measured against bound (``loglog_fit``) over
    the runs where it applies (hypotheses hold), once over the converged runs and once over all
    of them; and eps1 against the weight decay (first order at a critical point, J^T (Z - Y) =
    -lambda theta: eps1 = O(lambda), slope 1)."""
    runs = trained_runs(directory)
    runs = runs.assign(converged=converged(runs))
    checks = results.load(directory)
    checks = checks[checks["diverged_step"].isna() & (checks["verdict"] != "vacuous")]
    checks = checks.merge(runs[["cell", "run", "converged"]], on=["cell", "run"], how="inner")
    rows = []
    for short, (form, excess) in _RATE_FORMS.items():
        picked = checks[checks["check"] == THEOREM_3_1 + short]
        for label, subset in (("converged", picked[picked["converged"]]), ("all", picked)):
            x = excess(subset["bound"].astype(float)).to_numpy()
            y = excess(subset["measured"].astype(float)).to_numpy()
            rows.append({"check": short, "form": form, "runs": label, **loglog_fit(x, y)})
    for label, subset in (("converged", runs[runs["converged"]]), ("all", runs)):
        x, y = subset["weight_decay"].to_numpy(float), subset["eps1"].to_numpy(float)
        rows.append(
            {
                "check": "eps1",
                "form": "eps1 vs lambda (theory: slope 1)",
                "runs": label,
                **loglog_fit(x, y),
            }
        )
    return pd.DataFrame(rows)
