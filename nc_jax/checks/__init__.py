"""The check contract and the generic runner (see nc_jax.checks.contract for what a paper
provides, with a complete example)."""

from nc_jax.checks.bucket import (
    PlannedRun,
    RunOutcome,
    RunSpec,
    diverged_steps,
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
    check_dataset,
    check_steps,
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
    "check_steps",
    "Theorem",
    "TrainContext",
    "check",
    "diverged_steps",
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
    "stacked_runs",
    "verdict_of",
]

# The training context (nc_jax.checks.context) imports the engine: loaded on first use, so that
# reading results (nc_jax.results, plots, report) never imports training code.
_CONTEXT_NAMES = ("TrainContext", "stacked_runs")


def __getattr__(name: str):
    if name in _CONTEXT_NAMES:
        from nc_jax.checks import context

        return getattr(context, name)
    raise AttributeError(f"module 'nc_jax.checks' has no attribute {name!r}")
