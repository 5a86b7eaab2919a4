"""Hand-made quantities for every theorem of the paper (nc_jax.checks.Example): the records of
a frozen-head run, a decay run and a replay run, a planted violation of each statement and a
failing hypothesis. The contract tests every registered paper gets read them through
``PAPER.examples``."""

from __future__ import annotations

from nc_jax.checks import Example

# A float64 frozen-head run (p = 16, T K = 10) and its mixture draw.
FROZEN: dict[str, float] = dict(
    is_frozen=1.0,
    perp_error=3e-14,
    perp_dim=6.0,
    eta_lambda=2.5e-4,
    head_moved=0.0,
    snr_mc=0.1929,
    snr_mc_se=0.0008,
    snr_closed_form=0.1922,
)


# A decay run: eta lambda = 2.5e-4 over a window of 1500 steps (upsilon^1500 = 0.69), the
# fitted rate 1.3 times -log upsilon, resolved to 5%.
DECAY: dict[str, float] = dict(
    is_decay=1.0,
    eta_lambda=2.5e-4,
    decay_nc3=0.97,
    decay_predicted=0.69,
    decay_se=0.05,
    decay_ratio=1.3,
)


# A replay run at b = 5 of 500 (1%) compared with its seed's b = 0 and full-buffer runs: 2 tasks
# of 5 classes, 200 test samples per class (SE of a forgetting 0.022).
REPLAY: dict[str, float] = dict(
    is_replay=1.0,
    buffer_fraction=0.01,
    train_accuracy_min=1.0,
    train_accuracy_min_ref=1.0,
    train_accuracy_min_none=1.0,
    removable_deep=0.30,
    removable_shallow=0.90,
    forgetting_se=0.0224,
    deep_remaining=0.10,
    shallow_remaining=0.50,
    gap_allowance=0.15,
    snr_retained=0.6,
    snr_retained_ref=0.1,
    snr_allowance=0.038,
    rank_means=10.0,
    rank_global=9.0,
    rank_per_task=8.0,
    num_tasks=2.0,
    classes_per_task=5.0,
    n_train=500.0,
    n_test=200.0,
    lda_test=0.95,
    lda_test_identity=0.80,
    lda_buffer_identity=0.75,
    lda_buffer=0.70,
    own_final=0.78,
    multi_head=0.0,
    buffer_variance_ratio=0.4,
    buffer_norm_ratio=1.3,
)


EXAMPLES = {
    "lanzillotta2025.frozen_head.perp_decay": Example(
        holds=FROZEN,
        violated=FROZEN | dict(perp_error=1e-3),  # an S-perp gradient component
        vacuous=FROZEN | dict(perp_dim=0.0),  # S-perp empty: nothing to check
    ),
    "lanzillotta2025.subspace.perp_decay_trained": Example(
        holds=DECAY,
        violated=DECAY | dict(decay_ratio=4.0),  # the features moved 4 times faster than decay
        vacuous=DECAY | dict(decay_predicted=0.97),  # too short a window for weight decay to show
    ),
    "lanzillotta2025.mixture.snr_closed_form": Example(
        holds=FROZEN,
        violated=FROZEN | dict(snr_closed_form=0.16, snr_mc_se=0.0008),  # a wrong variance term
        vacuous=FROZEN | dict(snr_mc_se=0.05),  # too few draws
    ),
    "lanzillotta2025.ranks.global_vs_per_task": Example(
        holds=REPLAY,
        violated=REPLAY | dict(rank_per_task=9.0),  # per-task centring that lost no dimension
        vacuous=REPLAY | dict(rank_means=8.0),  # means not in general position
    ),
    "lanzillotta2025.replay.efficiency_gap": Example(
        holds=REPLAY,
        violated=REPLAY | dict(deep_remaining=0.90, shallow_remaining=0.30),
        vacuous=REPLAY | dict(train_accuracy_min=0.9),  # not in the terminal phase
    ),
    "lanzillotta2025.replay.snr_retained": Example(
        holds=REPLAY,
        violated=REPLAY | dict(snr_retained=0.02),  # replay lost more separability than none
        vacuous=REPLAY | dict(buffer_fraction=0.0),  # the b = 0 run itself
    ),
    "lanzillotta2025.lda.covariance_matters_most": Example(
        holds=REPLAY,
        violated=REPLAY | dict(lda_test=0.81, lda_buffer_identity=0.40),  # means matter most
        vacuous=REPLAY | dict(buffer_fraction=0.002),  # one sample per class: no covariance
    ),
    "lanzillotta2025.lda.buffer_below_own_head": Example(
        holds=REPLAY,
        violated=REPLAY | dict(lda_buffer=0.90),  # the buffer's statistics beat the own head
        vacuous=REPLAY | dict(multi_head=1.0),  # a task-aware head: not the same question
    ),
    "lanzillotta2025.buffer.collapse": Example(
        holds=REPLAY,
        violated=REPLAY | dict(buffer_variance_ratio=3.0),  # replayed samples less collapsed
        vacuous=REPLAY | dict(train_accuracy_min=0.9),  # not in the terminal phase
    ),
}
