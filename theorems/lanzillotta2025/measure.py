"""Float64 measurements of Lanzillotta, Meier, Hofmann (ICLR 2026) on NumPy arrays: the rank
of the class means under global and per-task centring, the S-perp error of a linear feature map
under a frozen head, the exact moments of the two-component mixture, a replay run against its
reference runs, the code's NC logs and the buffer's collapse (docs/theory/lanzillotta2025.md
states each; the code's pairwise SNR is nc_jax.metrics.pairwise_snr).
"""

from __future__ import annotations

import numpy as np

from nc_jax.metrics.collapse import nc3_cosines, row_cosines
from nc_jax.metrics.complexity import pair_average
from nc_jax.metrics.fits import log_linear_fit
from nc_jax.metrics.forgetting import forgetting_se
from nc_jax.metrics.stats import class_stats, within_class_variances

MIXTURE_DIM = 6  # the mixture instance: features in R^6, S = span(e_0, e_1), S-perp the rest
MIXTURE_BATCHES = 20  # batch means for the Monte-Carlo standard error
NAN_VALUE = float("nan")


def centred_means(means: np.ndarray, classes_per_task: int | None) -> np.ndarray:
    """Class means (C, p) centred by their global mean (``classes_per_task`` None) or task by
    task (rows t K .. t K + K - 1 by their own mean, K = ``classes_per_task``)."""
    if classes_per_task is None:
        return means - means.mean(0)
    tasks = means.reshape(-1, classes_per_task, means.shape[1])
    return (tasks - tasks.mean(1, keepdims=True)).reshape(means.shape)


def mean_ranks(means: np.ndarray, classes_per_task: int) -> dict[str, float]:
    """Numerical ranks (NumPy's default tolerance) of the class means (T K, p): as they are,
    centred by their global mean, and centred task by task (``centred_means``)."""
    return {
        "rank_means": float(np.linalg.matrix_rank(means)),
        "rank_global": float(np.linalg.matrix_rank(centred_means(means, None))),
        "rank_per_task": float(np.linalg.matrix_rank(centred_means(means, classes_per_task))),
    }


def perp_error(a0: np.ndarray, a_t: np.ndarray, head: np.ndarray, upsilon_t: float) -> dict:
    """max |(I - P_S)(A_t - upsilon^t A_0)| / max |(I - P_S) A_0| for a linear feature map
    A (p, D) under a frozen head (K, p) whose row space is S; with the S-perp dimension."""
    projector = head.T @ np.linalg.pinv(head.T)
    perp = np.eye(head.shape[1]) - projector
    scale = np.abs(perp @ a0).max()
    return {
        "perp_error": float(np.abs(perp @ (a_t - upsilon_t * a0)).max() / scale),
        "perp_scale": float(scale),
        "perp_dim": float(head.shape[1] - np.linalg.matrix_rank(head)),
    }


def perp_norm(old_means: np.ndarray, current_means: np.ndarray) -> float:
    """Mean over the old classes of ||P_{S-perp} mu_c||, mu_c their class means (K_old, p),
    S = span of the current task's class means (K, p) centred by their own mean (S_t of the
    paper: the span of the centred means of the data being trained on)."""
    centred = current_means - current_means.mean(0)
    u, s, _ = np.linalg.svd(centred.T, full_matrices=False)
    basis = u[:, s > s.max() * max(centred.shape) * np.finfo(float).eps]  # (p, rank)
    perp = old_means - (old_means @ basis) @ basis.T
    return float(np.mean(np.linalg.norm(perp, axis=1)))


def decay_rate(steps: np.ndarray, norms: np.ndarray, upsilon: float) -> dict[str, float]:
    """The least-squares slope of log ``norms`` against ``steps`` (both (L,), L >= 4) relative
    to log upsilon, the per-step decay of the S-perp part under weight decay alone
    (``decay_ratio`` = 1: exactly upsilon^(t - t0)), the slope's standard error relative to
    |log upsilon| and the decay upsilon^(window) the window predicts."""
    fit = log_linear_fit(steps, norms)
    rate = np.log(upsilon)
    return {
        "decay_ratio": float(fit.slope / rate),
        "decay_se": float(fit.stderr / abs(rate)),
        "decay_predicted": float(upsilon ** (steps[-1] - steps[0])),
    }


def mixture_instance(pi: float) -> dict[str, np.ndarray | float]:
    """Two old classes as mixtures: with probability pi the collapsed component (mean
    mu~_c in S, covariance trace delta = 0.05), else the OOD one (mean m_c in S-perp,
    trace s^2 = 0.8), isotropic within R^6."""
    mu_nc = np.zeros((2, MIXTURE_DIM))
    mu_nc[0, 0], mu_nc[1, 0] = 1.0, -1.0
    m_ood = np.zeros((2, MIXTURE_DIM))
    m_ood[0, 3], m_ood[1, 4] = 0.4, 0.4
    return {"pi": pi, "mu_nc": mu_nc, "m_ood": m_ood, "delta": 0.05, "s2": 0.8}


def mixture_snr_closed_form(instance: dict) -> float:
    """SNR = ||mu_1 - mu_2||^2 / (tr Sigma_1 + tr Sigma_2) with mu_c = pi mu~_c + (1 - pi) m_c and
    tr Sigma_c = pi delta + (1 - pi) s^2 + pi (1 - pi) ||mu~_c - m_c||^2."""
    pi, mu_nc, m_ood = instance["pi"], instance["mu_nc"], instance["m_ood"]
    mu = pi * mu_nc + (1 - pi) * m_ood
    traces = (
        pi * instance["delta"]
        + (1 - pi) * instance["s2"]
        + pi * (1 - pi) * ((mu_nc - m_ood) ** 2).sum(1)
    )
    return float(((mu[0] - mu[1]) ** 2).sum() / traces.sum())


def _sample_mixture(rng: np.random.Generator, instance: dict, c: int, n: int) -> np.ndarray:
    collapsed = rng.random(n) < instance["pi"]
    noise = rng.normal(size=(n, MIXTURE_DIM))
    nc = instance["mu_nc"][c] + noise * np.sqrt(instance["delta"] / MIXTURE_DIM)
    ood = instance["m_ood"][c] + noise * np.sqrt(instance["s2"] / MIXTURE_DIM)
    return np.where(collapsed[:, None], nc, ood)


def mixture_snr_monte_carlo(instance: dict, samples: int, seed: int) -> dict[str, float]:
    """The SNR of ``samples`` draws per class (population moments: divisor n), and its standard
    error from MIXTURE_BATCHES batch means."""
    rng = np.random.default_rng(seed)
    draws = [_sample_mixture(rng, instance, c, samples) for c in range(2)]

    def snr(parts):
        mu = [p.mean(0) for p in parts]
        traces = sum(((p - m) ** 2).sum(1).mean() for p, m in zip(parts, mu))
        return ((mu[0] - mu[1]) ** 2).sum() / traces

    batches = [
        snr([np.array_split(d, MIXTURE_BATCHES)[b] for d in draws]) for b in range(MIXTURE_BATCHES)
    ]
    return {
        "snr_mc": float(snr(draws)),
        "snr_mc_se": float(np.std(batches, ddof=1) / np.sqrt(MIXTURE_BATCHES)),
    }


def against_references(
    q: dict[str, float], none: dict[str, float], full: dict[str, float] | None
) -> dict[str, float]:
    """A replay run's quantities ``q`` against the runs of its seed without replay (``none``)
    and with the whole training set as buffer (``full``; None when the cell has none).

    Per kind of forgetting: the removable part D = F(0) - F(full) and the remaining fraction
    R(b) = (F(b) - F(full)) / D (0: the buffer reached the full buffer's floor; 1: it removed
    nothing). The allowance for test-set noise is 3 standard errors of R_deep - R_shallow, each
    R's error propagated to first order from sqrt(2) ``forgetting_se`` (nc_jax.metrics.forgetting)
    per difference of two forgetting values. Also the SNR retained by the b = 0 run and its
    allowance, 3 x 2 sqrt(2 / n_train) of it (the relative sampling error sqrt(2 / n) of a
    variance estimate, twice for the ratio of two SNRs)."""
    se = forgetting_se(q["num_tasks"], q["classes_per_task"] * q["n_test"])
    out = {"forgetting_se": se}
    errors = []
    for kind in ("deep", "shallow"):
        floor = NAN_VALUE if full is None else full[f"forgetting_{kind}"]
        removable = none[f"forgetting_{kind}"] - floor
        remaining = (q[f"forgetting_{kind}"] - floor) / removable if removable > 0 else NAN_VALUE
        out[f"removable_{kind}"] = float(removable)
        out[f"{kind}_remaining"] = float(remaining)
        errors.append(np.sqrt(2) * se * np.hypot(1.0, remaining) / removable)
    out["gap_allowance"] = float(3 * np.hypot(*errors))
    out["snr_retained_ref"] = none["snr_retained"]
    out["snr_allowance"] = float(6 * np.sqrt(2 / q["n_train"]) * none["snr_retained"])
    accuracies = [
        none["train_accuracy_min"],
        NAN_VALUE if full is None else full["train_accuracy_min"],
    ]
    out["train_accuracy_min_ref"] = float(min(accuracies))
    out["train_accuracy_min_none"] = none["train_accuracy_min"]
    return out


def code_nc_metrics(means: np.ndarray, head: np.ndarray, classes_per_task: int | None) -> dict:
    """The authors' NC2/NC3 logs on class means (C, p) and head rows w_c (C, p): U~ the means
    centred globally (``classes_per_task`` None, single head) or task by task (multi-head);
    beta = mean diagonal of U~^T U~ (mean squared norm of the centred means); NC2 = the mean
    off-diagonal entry of the cosine Gram of the centred means (-1/(C-1) at a simplex ETF);
    NC3 = mean over c of cos(w_c, mu~_c)."""
    centred = centred_means(means, classes_per_task)
    return {
        "nc_beta": float(np.mean(np.sum(centred**2, axis=1))),
        "nc2_offdiag": float(pair_average(row_cosines(centred))),
        "nc3_cos": float(np.mean(nc3_cosines(head, centred))),
    }


def buffer_collapse(
    train: np.ndarray, order: np.ndarray, size: int, old_classes: int
) -> dict[str, float]:
    """How much more the replayed samples collapsed than other samples of their classes: per
    old class, the buffer (the first ``size`` of the class's permutation ``order``) against a
    control of ``size`` samples never replayed (the next ``size``), on the final features.

    Returns ``buffer_variance_ratio``, the mean over the old classes of v_buffer / v_control (v:
    mean squared distance to the subset's mean; the divisor, size - 1 or size, cancels), and
    ``buffer_norm_ratio``, the mean of ||mu_buffer - g|| / ||mu_control - g||, g the mean of all
    training features.

    Args:
        train: training features by class (C, n, p), the old classes first.
        order: per class a permutation of its samples (C, n); needs 2 size <= n.
        size: b, the buffer size per class (>= 2).
        old_classes: the classes of the finished tasks (the first old_classes of C).
    """
    centre = train.reshape(-1, train.shape[2]).mean(0)
    rows = order[:old_classes, : 2 * size, None]  # per old class its buffer, then its control
    kept = np.take_along_axis(train[:old_classes], rows, axis=1).reshape(-1, train.shape[2])
    stats = class_stats(kept, np.repeat(np.arange(2 * old_classes), size), 2 * old_classes)
    spread = np.asarray(within_class_variances(stats)).reshape(old_classes, 2)
    distance = np.linalg.norm(np.asarray(stats.means) - centre, axis=1).reshape(old_classes, 2)
    return {
        "buffer_variance_ratio": float(np.mean(spread[:, 0] / spread[:, 1])),
        "buffer_norm_ratio": float(np.mean(distance[:, 0] / distance[:, 1])),
    }
