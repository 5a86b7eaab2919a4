"""One step and one measurement of ONE run; the engine batches them with ``vmap`` over a
leading run axis.

Weight decay is either coupled ("l2": lambda/2 ||theta||^2 added to the objective, the setting
the theory analyses, giving theta <- (1 - eta lambda) theta - eta grad for GD) or decoupled
("decoupled": theta <- theta - eta lambda theta after the optimiser direction).

A run whose parameters become non-finite is rolled back to its state at the start of the steps
that broke it, frozen there and flagged (``guard_divergence``); its neighbours in the batch are
unaffected (runs never interact).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from nc_jax.metrics.layerwise import network_metrics
from nc_jax.models.base import Model, Params
from nc_jax.train.config import RunState, TrainConfig, TrainData
from nc_jax.train.losses import get_loss
from nc_jax.train.optim import optimizer_direction


def _sq_norm(tree: Params) -> jax.Array:
    return sum(jnp.sum(leaf**2) for leaf in jax.tree_util.tree_leaves(tree))


def decay_scales(model: Model, params: Params) -> Params:
    """Per-leaf weight-decay multipliers: ``model.decay_scales(params)`` where the model defines
    it (the UFMs regularise features and weights with separate lambdas), else 1 for every leaf.
    The effective decay of a leaf is ``weight_decay * scale``."""
    if hasattr(model, "decay_scales"):
        return model.decay_scales(params)
    return jax.tree_util.tree_map(lambda _: 1.0, params)


def regulariser(model: Model, params: Params) -> jax.Array:
    """sum over leaves of scale * ||leaf||^2: the objective adds weight_decay / 2 times it."""
    scaled = jax.tree_util.tree_map(
        lambda s, p: s * jnp.sum(p**2), decay_scales(model, params), params
    )
    return sum(jax.tree_util.tree_leaves(scaled))


def penalty(
    model: Model, params: Params, x: jax.Array, layers: Any, weight_decay: jax.Array
) -> jax.Array:
    """``model.penalty(params, x, layers, weight_decay)`` where the model defines it, else 0: a
    term of the objective beyond the data loss and the weight decay, a sum over the samples of
    ``x`` (N, D) whose forward pass is ``layers`` (models.FeatureDecay: the DUFM's
    lambda_H/2 ||H_1||_F^2 on a real network's features). On a minibatch the engine scales it
    by N_train / B, so that its mean over an epoch is the full-set term. A paper adds its own
    term (a Jacobian penalty, an alignment regulariser) by wrapping a model with this method."""
    if hasattr(model, "penalty"):
        return model.penalty(params, x, layers, weight_decay)
    return jnp.zeros(())


def model_logs(model: Model, params: Params, data: TrainData) -> dict[str, jax.Array]:
    """``model.log_values(params, x, y)`` on the training set where the model defines it, else
    nothing: named values a paper logs with every measurement beyond the layer-wise metrics
    (models.GCLog: the geometric complexity of every layer). Names and shapes must not depend
    on the values; a name starting with ``layer/`` holds one value per layer (L,)."""
    if hasattr(model, "log_values"):
        return dict(model.log_values(params, data.x, data.y))
    return {}


def _all_finite(tree: Params) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def _select(condition: jax.Array, new: Any, old: Any) -> Any:
    """``new`` where ``condition`` holds, else ``old``, leaf by leaf."""
    return jax.tree_util.tree_map(lambda a, b: jnp.where(condition, a, b), new, old)


def _batch_indices(config: TrainConfig, key: jax.Array, step: jax.Array, num_samples: int):
    """Indices of the minibatch of ``step``: a fresh per-run permutation every epoch."""
    per_epoch = num_samples // config.batch_size
    epoch, position = step // per_epoch, step % per_epoch
    order = jax.random.permutation(jax.random.fold_in(key, epoch), num_samples)
    return jax.lax.dynamic_slice_in_dim(order, position * config.batch_size, config.batch_size)


def make_update(model: Model, config: TrainConfig) -> Callable[[RunState, TrainData], RunState]:
    """One optimisation step of one run, unguarded: a run that diverges goes on with
    non-finite values. ``make_step`` guards every step; ``programs.compiled_chunk`` guards once
    per log period (``guard_divergence``), which spares a select over every parameter and
    optimiser state at every step."""
    loss_fn = get_loss(config.loss)
    direction = optimizer_direction(config.optimizer, config.momentum)
    total_steps = config.steps

    def data_loss(params, x, targets, num_samples, weight_decay):
        """The loss on (x, targets) plus the model's penalty scaled from the batch to the
        ``num_samples`` of the training set (``penalty``; models.feature_decay)."""
        output, layers = model.apply(params, x)
        extra = penalty(model, params, x, layers, weight_decay) * (num_samples / x.shape[0])
        return loss_fn(output, targets, config.reduction) + extra

    def update(state: RunState, data: TrainData) -> RunState:
        x, targets = data.x, data.targets
        num_samples = x.shape[0]
        if config.batch_size is not None:
            index = _batch_indices(config, state.key, state.step, num_samples)
            x, targets = x[index], targets[index]
        wd = state.weight_decay
        grads = jax.grad(data_loss)(state.params, x, targets, num_samples, wd)
        scales = decay_scales(model, state.params)
        if config.weight_decay_mode == "l2":
            grads = jax.tree_util.tree_map(
                lambda g, s, p: g + wd * s * p, grads, scales, state.params
            )
        updates, opt_state = direction.update(grads, state.opt_state, state.params)
        lr = state.learning_rate
        if config.lr_warmup_steps:
            lr = lr * jnp.minimum(1.0, (state.step + 1) / config.lr_warmup_steps)
        if config.lr_drop_at is not None:
            dropped = state.step >= int(config.lr_drop_at * total_steps)
            lr = jnp.where(dropped, lr * config.lr_drop_factor, lr)
        decay = wd if config.weight_decay_mode == "decoupled" else 0.0
        params = jax.tree_util.tree_map(
            lambda p, u, s: p - lr * u - lr * decay * s * p, state.params, updates, scales
        )
        return state._replace(params=params, opt_state=opt_state, step=state.step + 1)

    return update


def guard_divergence(start: RunState, end: RunState) -> RunState:
    """``end`` where its parameters are finite and the run had not diverged by ``start``;
    otherwise ``start`` (with end's step counter), flagged as diverged: a diverged run stays
    frozen at its state before the steps that broke it, and its neighbours are unaffected."""
    healthy = _all_finite(end.params) & ~start.diverged
    return end._replace(
        params=_select(healthy, end.params, start.params),
        opt_state=_select(healthy, end.opt_state, start.opt_state),
        diverged=start.diverged | ~healthy,
    )


def update_config(config: TrainConfig) -> TrainConfig:
    """``config`` with every field that one step does not read set to its default (logging,
    chunking, the in-loop metrics, and the training length unless a learning-rate drop depends
    on it): the key under which programs built on ``make_step`` or ``make_update`` alone are
    compiled once for all the cells of a sweep that differ only there."""
    steps = config.steps if config.lr_drop_at is not None else 1
    return TrainConfig(
        steps=steps,
        log_every=1,
        loss=config.loss,
        reduction=config.reduction,
        optimizer=config.optimizer,
        momentum=config.momentum,
        weight_decay_mode=config.weight_decay_mode,
        batch_size=config.batch_size,
        lr_drop_at=config.lr_drop_at,
        lr_drop_factor=config.lr_drop_factor,
        lr_warmup_steps=config.lr_warmup_steps,
        metrics=False,
    )


def make_step(model: Model, config: TrainConfig) -> Callable[[RunState, TrainData], RunState]:
    """One optimisation step of one run, frozen at its last finite state once diverged."""
    update = make_update(model, config)

    def step(state: RunState, data: TrainData) -> RunState:
        return guard_divergence(state, update(state, data))

    return step


def make_measure(model: Model, config: TrainConfig, num_classes: int):
    """Measurements of one run on the full training set: the data loss, the objective (loss +
    the model's penalty + weight_decay/2 times the regulariser), accuracy, parameter norm, the
    model's own logs (``model_logs``) and (with ``config.metrics``) every layer-wise metric of
    nc_jax.metrics.network_metrics."""
    loss_fn = get_loss(config.loss)

    def measure(state: RunState, data: TrainData) -> dict[str, jax.Array]:
        output, layers = model.apply(state.params, data.x)
        loss = loss_fn(output, data.targets, config.reduction)
        out = {
            "step": state.step,
            "loss": loss,
            "objective": loss
            + penalty(model, state.params, data.x, layers, state.weight_decay)
            + 0.5 * state.weight_decay * regulariser(model, state.params),
            "accuracy": jnp.mean(jnp.argmax(output, axis=1) == data.y),
            "param_norm_sq": _sq_norm(state.params),
            "diverged": state.diverged,
        }
        out.update(model_logs(model, state.params, data))
        if config.metrics:
            # A diverged run's frozen parameters may still give non-finite features; measure
            # zeros instead (LAPACK must never see NaN) and report NaN for that run.
            finite = _all_finite((layers.features, layers.weights)) & ~state.diverged
            clean = _select(finite, layers, jax.tree_util.tree_map(jnp.zeros_like, layers))
            layer_values = network_metrics(
                clean.features,
                data.y,
                num_classes,
                clean.weights,
                clean.preactivations,
                clean.biases,
                names=config.metric_names,
                layers=config.metric_layers,
            )
            out.update(
                {f"layer/{key}": jnp.where(finite, v, jnp.nan) for key, v in layer_values.items()}
            )
        return out

    return measure


def log_snapshot(state: RunState) -> RunState:
    """What a log measures of a run state: all of it but the optimiser state (``opt_state`` is
    ``()``), so the chunk hands out a light copy per log and one measure program reads both
    these and the initial state."""
    return state._replace(opt_state=())
