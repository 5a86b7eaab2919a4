"""The training engine: many networks of one shape trained as one compiled program.

Everything is written for ONE run (one network) and batched with ``vmap`` over a leading run
axis; per-run hyperparameters (learning rate, weight decay, seed) are arrays in the run state,
so changing them never recompiles. The modules, each building on the ones before it:

- ``config``: ``TrainConfig``, ``RunState``, ``TrainData`` and the data constructors;
- ``optim``: the optimiser directions, ``init_runs`` and ``cast_runs``;
- ``step``: one step and one measurement of one run (weight decay, divergence guard);
- ``devices``: CPU cores as devices, the run mesh, a process's share of the runs;
- ``programs``: the compiled chunk and measure programs and their caches;
- ``loop``: ``train``, the host loop over chunks and run groups, with checkpoints;
- ``losses`` and ``checkpoint``: the loss functions and the checkpoint files;
- ``cache``: JAX's persistent compilation cache for the commands that train.
- ``continual`` and ``continual_readout``: a sequence of tasks with experience replay as one
  program, and its accuracies, linear probes and features read task by task.
"""

from nc_jax.train.cache import (
    clear_compiled_programs,
    enable_compilation_cache,
    jit_run_once,
)
from nc_jax.train.config import (
    OPTIMIZERS,
    WEIGHT_DECAY_MODES,
    RunState,
    TrainConfig,
    TrainData,
    make_data,
    make_regression_data,
    run_params,
)
from nc_jax.train.devices import process_share, run_mesh, runs_per_device, use_cpu_cores
from nc_jax.train.loop import TrainResult, train
from nc_jax.train.losses import LOSSES, REDUCTIONS, cross_entropy, get_loss, mse
from nc_jax.train.optim import cast_runs, init_runs
from nc_jax.train.step import decay_scales, make_measure, make_step, regulariser, update_config

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "REDUCTIONS",
    "WEIGHT_DECAY_MODES",
    "RunState",
    "TrainConfig",
    "TrainData",
    "TrainResult",
    "cast_runs",
    "clear_compiled_programs",
    "cross_entropy",
    "decay_scales",
    "enable_compilation_cache",
    "jit_run_once",
    "get_loss",
    "init_runs",
    "make_data",
    "make_measure",
    "make_regression_data",
    "run_params",
    "make_step",
    "mse",
    "process_share",
    "regulariser",
    "run_mesh",
    "runs_per_device",
    "train",
    "update_config",
    "use_cpu_cores",
]
