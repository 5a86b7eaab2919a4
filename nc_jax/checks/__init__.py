"""The check contract and the generic runner (see nc_jax.checks.contract for what a paper
provides, with a complete example)."""

import importlib

from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    diverged_steps,
    first_diverged,
    measured_outcomes,
    run_bucket,
)
from nc_jax.checks.contract import (
    HYPOTHESIS_RELATIONS,
    KINDS,
    PROVENANCES,
    RELATIONS,
    ROUNDING,
    VERDICTS,
    CellOutcome,
    CheckResult,
    Evaluation,
    Example,
    Family,
    Hypothesis,
    Paper,
    RunRecord,
    SettingError,
    Theorem,
    check,
    complete_quantities,
    get_paper,
    informative_of,
    load_papers,
    load_registry,
    matches,
    paper_names,
    run_fields,
    satisfies,
    select,
    setting_cost,
    setting_runs,
    slack_of,
    verdict_of,
)

__all__ = [
    "HYPOTHESIS_RELATIONS",
    "KINDS",
    "PROVENANCES",
    "RELATIONS",
    "ROUNDING",
    "VERDICTS",
    "CellOutcome",
    "CheckResult",
    "Evaluation",
    "Example",
    "Family",
    "Hypothesis",
    "Paper",
    "PlannedRun",
    "RunOutcome",
    "RunRecord",
    "RunSpec",
    "SettingError",
    "check_dataset",
    "check_log_spacing",
    "check_steps",
    "Theorem",
    "TrainContext",
    "check",
    "complete_quantities",
    "diverged_steps",
    "first_diverged",
    "measured_outcomes",
    "get_paper",
    "informative_of",
    "load_papers",
    "load_registry",
    "matches",
    "paper_names",
    "run_fields",
    "run_bucket",
    "satisfies",
    "select",
    "setting_cost",
    "setting_runs",
    "slack_of",
    "verdict_of",
]

# Loaded on first use, so that reading results (nc_jax.results, plots, report) imports neither
# the training engine (nc_jax.checks.context) nor the data layer (nc_jax.checks.validate).
_LAZY = {"TrainContext": "context"} | {
    name: "validate"
    for name in (
        "check_dataset",
        "check_log_spacing",
        "check_steps",
    )
}


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"nc_jax.checks.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'nc_jax.checks' has no attribute {name!r}")
