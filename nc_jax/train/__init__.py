"""The training engine: many networks of one shape as one compiled program (see engine)."""

from nc_jax.train.engine import (
    OPTIMIZERS,
    WEIGHT_DECAY_MODES,
    RunState,
    TrainConfig,
    TrainData,
    TrainResult,
    decay_scales,
    init_runs,
    make_data,
    make_measure,
    make_step,
    regulariser,
    run_mesh,
    train,
    use_cpu_cores,
)
from nc_jax.train.losses import LOSSES, REDUCTIONS, cross_entropy, get_loss, mse

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "REDUCTIONS",
    "WEIGHT_DECAY_MODES",
    "RunState",
    "TrainConfig",
    "TrainData",
    "TrainResult",
    "cross_entropy",
    "decay_scales",
    "get_loss",
    "init_runs",
    "make_data",
    "make_measure",
    "make_step",
    "mse",
    "regulariser",
    "run_mesh",
    "train",
    "use_cpu_cores",
]
