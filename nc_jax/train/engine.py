"""Former home of the training engine, now split into the modules of nc_jax.train (see its
docstring). Import from ``nc_jax.train``; these names remain here for importers not yet moved."""

from nc_jax.train import (
    OPTIMIZERS,
    RunState,
    TrainConfig,
    TrainData,
    cast_runs,
    make_step,
    regulariser,
)

__all__ = [
    "OPTIMIZERS",
    "RunState",
    "TrainConfig",
    "TrainData",
    "cast_runs",
    "make_step",
    "regulariser",
]
