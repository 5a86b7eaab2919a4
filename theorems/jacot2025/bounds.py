"""The checks of Jacot, Sukenik, Wang, Mondelli (ICLR 2025) as Theorem records (nc_jax.checks).

Every formula is stated in docs/theory/jacot2025.md (cited by section below); ``measure``
computes the quantities on trained networks. Notation: eps1 = ||Z_L - Y||_F, eps2 = max over
head pairs of ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op (eps2_last: the pair (L-1, L) only),
r >= ||Z_{L-2}||_op, ||Z_{L-1}||_op and every head ||W_l||_op, s_K(Y) the K-th singular value of
the one-hot labels, n_{L-1} the penultimate width, L1 non-linear layers and L2 >= 2 linear ones,
c3 = kappa(W_{L:L1+1}) (the head product), kappa_W = kappa(W_L). Condition numbers are s_1 / s_K.

Kinds (nc_jax.checks.contract): the Theorem 3.1 and Section 5 inequalities are consequences of
other quantities of the same network (their worth is their slack and whether they beat their
trivial reference); the Section 4 recursion is an identity; ``sec4.interpolation``,
``sec4.balancing`` and ``sec5.balanced_head`` are claims about what training produces.

The formulas are written with NumPy-style functions of an array namespace (NumPy for float64
quantities, jax.numpy for traced ones), so ``nc-jax falsify`` can differentiate the very
``evaluate`` the checks run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nc_jax.checks.contract import Evaluation, Hypothesis, Theorem

Q = Mapping[str, Any]
RECURSION_TOLERANCE = 1e-10
NTK_CONVERGENCE = 1e-6  # relative change of the Lanczos estimate over its last step
BALANCING_FLOOR_FACTOR = 2.0  # sec4.balancing: tolerance on the final-gradient floor
BALANCED_HEAD_TOLERANCE = 0.05  # sec5.balanced_head: relative gap in kappa(W_L)
# sec5.balanced_head speaks of converged training: it applies once the weight-decay envelope
# (1 - eta lambda)^(2t) of the head's imbalance (Section 4) has fallen to this fraction, a
# horizon set by eta, lambda and t alone, before anything is measured (eta lambda t >= 1.5)
BALANCING_HORIZON = 0.05


def namespace(*values: Any):
    """jax.numpy when a value is a JAX array or tracer, else NumPy (float64 throughout)."""
    return jnp if any(isinstance(v, jax.Array) for v in values) else np


def _where(condition: Any, value: Any, otherwise: Any) -> Any:
    return namespace(condition, value, otherwise).where(condition, value, otherwise)


def _arrays(*values: Any) -> tuple[Any, ...]:
    """Python numbers as NumPy float64 (division by zero and overflow give inf), JAX values
    unchanged."""
    return values if namespace(*values) is jnp else tuple(np.float64(v) for v in values)


def psi(eps1: Any, eps2: Any, r: Any, s_k: Any, n_penultimate: int) -> Any:
    """Psi(eps1, eps2, r) = r (eps1 / (s_K(Y) - eps1) + sqrt(n_{L-1} eps2)), verbatim from the
    design card (docs/theory/jacot2025.md); inf when eps1 >= s_K(Y)."""
    eps1, eps2, r, s_k = _arrays(eps1, eps2, r, s_k)
    xp = namespace(eps1, eps2, r, s_k)
    with np.errstate(all="ignore"):
        value = r * (eps1 / (s_k - eps1) + xp.sqrt(n_penultimate * eps2))
    return _where(eps1 < s_k, value, xp.inf)


def telescoping_error(eps2: Any, r: Any, depth: int) -> Any:
    """e = eps2 (r^2 + eps2)^(L2 - 1) L2 (L2 - 1) / 2 (docs/theory/jacot2025.md, (a)); inf on
    overflow."""
    eps2, r = _arrays(eps2, r)
    with np.errstate(over="ignore"):
        return eps2 * (r**2 + eps2) ** (depth - 1) * depth * (depth - 1) / 2


def ntk_floor(q: Q) -> Any:
    """(s_K(Y) - eps1)^2 kappa(head)^2 / ||W_{L1+1}||_op^2 (docs/theory/jacot2025.md)."""
    return (q["s_K_Y"] - q["eps1"]) ** 2 * q["kappa_head"] ** 2 / q["norm_first_linear"] ** 2


def _bias_free(q: Q) -> Hypothesis:
    """The theory's head has no biases (the balancedness identities need none)."""
    return Hypothesis("bias-free linear head", q["head_bias_free"], 1, ">=")


def _head_hypotheses(q: Q) -> tuple[Hypothesis, ...]:
    """The structure Theorem 3.1 assumes: a bias-free linear head of depth L2 >= 2."""
    return Hypothesis("linear head depth L2 >= 2", q["L2"], 2, ">="), _bias_free(q)


def _below_labels(q: Q) -> Hypothesis:
    return Hypothesis("eps1 < s_K(Y)", q["eps1"], q["s_K_Y"], "<")


def _interpolation_hypotheses(q: Q) -> tuple[Hypothesis, ...]:
    """(H4) of Theorem 3.1 plus the head structure. (H1)-(H3) hold by construction: eps1,
    eps2 and r are the measured values."""
    half_centred = ((q["K"] - 1) * q["N"] / (4 * q["K"])) ** 0.5
    return (
        _below_labels(q),
        Hypothesis("H4: eps1 <= sqrt((K-1)N/(4K))", q["eps1"], half_centred),
        *_head_hypotheses(q),
    )


def _balanced(q: Q) -> Hypothesis:
    return Hypothesis("balanced classes: max_c n_c - min_c n_c", q["class_imbalance"], 0)


def _psi_of(q: Q) -> Any:
    return psi(q["eps1"], q["eps2"], q["r"], q["s_K_Y"], q["n_penultimate"])


def _within_mass(q: Q) -> Evaluation:
    bound = _psi_of(q)
    return Evaluation(
        _interpolation_hypotheses(q),
        bound,
        q["within_mass"],
        {"psi": bound},
        trivial=q["total_mass"],
    )


def _nc1(q: Q) -> Evaluation:
    psi_value = _psi_of(q)
    bound = 4 * q["K"] * q["r"] ** 2 * psi_value**2 / ((q["K"] - 1) * q["N"])
    hypotheses = (*_interpolation_hypotheses(q), _balanced(q))
    return Evaluation(hypotheses, bound, q["nc1"], {"psi": psi_value}, trivial=q["nc1_init"])


def _delta_hypothesis(q: Q) -> Hypothesis:
    return Hypothesis("delta = eps1 / s_K(Y) < 1", q["eps1"] / q["s_K_Y"], 1, "<")


def _nc2_bound(q: Q, kappa_w: Any, radius_sq: Any) -> Any:
    """kappa_w (1+delta)/(1-delta) + radius_sq sqrt(eps2_last)/(s_K(Y)-eps1), inf when delta >=
    1: the NC2 bound at a conditioning kappa_w of W_L (increasing in kappa_w); radius_sq is r^2
    as printed, ||W_L||_op ||Z_{L-2}||_op in the tight form."""
    delta = q["eps1"] / q["s_K_Y"]
    value = kappa_w * (1 + delta) / (1 - delta) + radius_sq * q["eps2_last"] ** 0.5 / (
        q["s_K_Y"] - q["eps1"]
    )
    return _where(delta < 1, value, np.inf)


def _nc3_bound(q: Q, kappa_w: Any, radius_sq: Any) -> Any:
    """(1-delta) / ((1+kW^2)/(2 kW) + kW delta + radius_sq sqrt(eps2_last)/s_K(Y)): the NC3
    bound at a conditioning kW >= 1 of W_L (decreasing in kW); radius_sq as in _nc2_bound."""
    delta = q["eps1"] / q["s_K_Y"]
    denominator = (
        (1 + kappa_w**2) / (2 * kappa_w)
        + kappa_w * delta
        + radius_sq * q["eps2_last"] ** 0.5 / q["s_K_Y"]
    )
    return (1 - delta) / denominator


def _tight_radius_sq(q: Q) -> Any:
    """||W_L||_op ||Z_{L-2}||_op: the two norms the printed r^2 of NC2/NC3 stands for."""
    return q["norm_WL"] * q["before_op"]


def _nc_evaluation(q: Q, nc2: bool, radius_sq: Any) -> Evaluation:
    """NC2 (kappa(M_{L-1}) <= bound) or NC3 (min cos >= bound) at the measured kappa(W_L)."""
    hypotheses = (_delta_hypothesis(q), *_head_hypotheses(q), _balanced(q))
    extras = {"delta": q["eps1"] / q["s_K_Y"], "kappa_WL": q["kappa_WL"]}
    if nc2:
        bound = _nc2_bound(q, q["kappa_WL"], radius_sq)
        return Evaluation(hypotheses, bound, q["kappa_M"], extras, trivial=q["kappa_M_init"])
    bound = _nc3_bound(q, q["kappa_WL"], radius_sq)
    return Evaluation(hypotheses, bound, q["cos_min"], extras, trivial=q["cos_min_init"])


def _nc2(q: Q) -> Evaluation:
    return _nc_evaluation(q, True, q["r"] ** 2)


def _nc3(q: Q) -> Evaluation:
    return _nc_evaluation(q, False, q["r"] ** 2)


def _nc2_tight(q: Q) -> Evaluation:
    return _nc_evaluation(q, True, _tight_radius_sq(q))


def _nc3_tight(q: Q) -> Evaluation:
    return _nc_evaluation(q, False, _tight_radius_sq(q))


def within_mass_tight_bound(q: Q) -> Any:
    """||Z_{L-1}||_op eps1/(s_K(Y)-eps1) + ||Z_{L-2}||_op sqrt((n_{L-1}-K) eps2_last): proof
    steps 2-3 with each r replaced by the norm it stands for, the kernel projector's rank
    n_{L-1} - K and the one pair the proof uses (docs/theory/jacot2025.md, "Tighter
    constants"); inf when eps1 >= s_K(Y)."""
    eps1, s_k = _arrays(q["eps1"], q["s_K_Y"])
    xp = namespace(eps1, s_k)
    kernel_rank = q["n_penultimate"] - q["K"]
    with np.errstate(all="ignore"):
        value = xp.sqrt(q["penultimate_op_sq"]) * eps1 / (s_k - eps1) + q["before_op"] * xp.sqrt(
            kernel_rank * q["eps2_last"]
        )
    return _where(eps1 < s_k, value, xp.inf)


def _within_mass_tight(q: Q) -> Evaluation:
    bound = within_mass_tight_bound(q)
    hypotheses = (_below_labels(q), *_head_hypotheses(q))
    return Evaluation(
        hypotheses, bound, q["within_mass"], {"psi": _psi_of(q)}, trivial=q["total_mass"]
    )


def _nc1_tight(q: Q) -> Evaluation:
    """NC1 <= ||W_L||_op^2 m^2 / (sqrt(N(K-1)/K) - eps1)^2, m the tight within-class mass.
    Differs from the printed 4 K r^2 Psi^2 / ((K-1) N) (``_nc1``) on purpose: that form halves
    the centred labels' norm through H4 and bounds ||W_L||_op by r; proof step 4 needs neither
    (docs/theory/jacot2025.md, "Tighter constants")."""
    mass = within_mass_tight_bound(q)
    centred_labels = (q["N"] * (q["K"] - 1) / q["K"]) ** 0.5
    bound = q["norm_WL"] ** 2 * mass**2 / (centred_labels - q["eps1"]) ** 2
    hypotheses = (_below_labels(q), *_head_hypotheses(q), _balanced(q))
    extras = {"within_mass bound": mass, "||W_L||_op": q["norm_WL"]}
    return Evaluation(hypotheses, bound, q["nc1"], extras, trivial=q["nc1_init"])


def composite_head_bound(q: Q) -> tuple[Any, Any, Any]:
    """Bound (a) in the paper's terms: (c3^2 + (1 + c3^2) e / D, e, D), D = ((s_K(Y) - eps1) /
    r)^(2 L2) - 2e, c3 = kappa(W_{L:L1+1}), e the telescoping error of eps2 and r; the bound is
    inf where D <= 0. It bounds kappa(W_L)^(2 L2)."""
    depth = int(q["L2"])
    c3 = q["kappa_head"]
    e = telescoping_error(q["eps2"], q["r"], depth)
    floor = _where(q["eps1"] < q["s_K_Y"], ((q["s_K_Y"] - q["eps1"]) / q["r"]) ** (2 * depth), 0)
    denominator = floor - 2 * e
    bound = _where(denominator > 0, c3**2 + (1 + c3**2) * e / denominator, np.inf)
    return bound, e, denominator


def _composite_hypothesis(denominator: Any) -> Hypothesis:
    return Hypothesis("((s_K(Y) - eps1)/r)^(2 L2) - 2e > 0", denominator, 0, ">")


def _head_to_last_layer(q: Q) -> Evaluation:
    depth = int(q["L2"])
    bound, e, denominator = composite_head_bound(q)
    hypotheses = (_below_labels(q), _composite_hypothesis(denominator), *_head_hypotheses(q))
    measured = q["kappa_WL"] ** (2 * depth)
    trivial = q["kappa_WL_init"] ** (2 * depth)
    extras = {"e": e, "c3": q["kappa_head"]}
    return Evaluation(hypotheses, bound, measured, extras, trivial=trivial)


def _c3_form(q: Q) -> tuple[Any, tuple[Hypothesis, ...], dict[str, Any]]:
    """kappa(W_L) bounded through c3 (bound (a), ``composite_head_bound``) and the hypotheses
    the NC2/NC3 bounds then need: the paper's form, which never reads kappa(W_L) itself."""
    bound, _, denominator = composite_head_bound(q)
    kappa_w = bound ** (1 / (2 * int(q["L2"])))
    hypotheses = (
        _delta_hypothesis(q),
        _composite_hypothesis(denominator),
        *_head_hypotheses(q),
        _balanced(q),
    )
    extras = {"c3": q["kappa_head"], "kappa_WL bound from c3": kappa_w, "kappa_WL": q["kappa_WL"]}
    return kappa_w, hypotheses, extras


def _nc2_c3(q: Q) -> Evaluation:
    kappa_w, hypotheses, extras = _c3_form(q)
    bound = _nc2_bound(q, kappa_w, q["r"] ** 2)
    return Evaluation(hypotheses, bound, q["kappa_M"], extras, trivial=q["kappa_M_init"])


def _nc3_c3(q: Q) -> Evaluation:
    kappa_w, hypotheses, extras = _c3_form(q)
    bound = _nc3_bound(q, kappa_w, q["r"] ** 2)
    return Evaluation(hypotheses, bound, q["cos_min"], extras, trivial=q["cos_min_init"])


def _head_to_last_spectral(q: Q) -> Evaluation:
    depth = int(q["L2"])
    e = telescoping_error(q["eps2"], q["r_head"], depth)
    denominator = q["head_sK"] ** 2 - e
    bound = _where(denominator > 0, (q["head_s1"] ** 2 + e) / denominator, np.inf)
    hypotheses = (
        Hypothesis("s_K(W_{L:L1+1})^2 - e > 0", denominator, 0, ">"),
        *_head_hypotheses(q),
    )
    measured = q["kappa_WL"] ** (2 * depth)
    trivial = q["kappa_WL_init"] ** (2 * depth)
    extras = {"e": e, "c3": q["kappa_head"]}
    return Evaluation(hypotheses, bound, measured, extras, trivial=trivial)


def _gd_hypotheses(q: Q) -> tuple[Hypothesis, ...]:
    """Section 4's identity needs plain full-batch GD at a constant learning rate with the
    weight decay in the objective, and a bias-free linear head with at least one pair."""
    name = "plain full-batch GD, constant learning rate, coupled weight decay"
    plain = Hypothesis(name, q["gd_coupled"], 1, ">=")
    return plain, *_head_hypotheses(q)


def _recursion(q: Q) -> Evaluation:
    return Evaluation(_gd_hypotheses(q), RECURSION_TOLERANCE, q["recursion_residual"])


def _wide_network_hypotheses(q: Q) -> tuple[Hypothesis, ...]:
    """Section 4's named hypotheses that we can measure (Assumptions 4.1 and 4.2 and the
    weight-decay condition (11) with the error target eps1 = s_K(Y)); docs/theory/jacot2025.md.
    Assumption 4.2 asks for a smooth activation with sigma' in [gamma, 1], gamma > 0, so a ReLU
    network (the paper's own experiments), tanh or GELU is outside Theorem 4.4 and the claim is
    vacuous there."""
    condition_11 = q["s_K_Y"] ** 2 / (18 * (q["theta0_norm"] + q["lambda_F_init"] / 2) ** 2)
    return (
        Hypothesis("Assumption 4.1: n1 >= N", q["n1"], q["N"], ">="),
        Hypothesis("Assumption 4.1: n2 >= ... >= nL (pyramidal)", q["pyramidal"], 1, ">="),
        Hypothesis("Assumption 4.2: smooth, sigma' in [gamma, 1]", q["smooth_activation"], 1, ">="),
        Hypothesis("weight decay lambda > 0", q["weight_decay"], 0, ">"),
        Hypothesis(
            "(11) [review-typed]: lambda <= s_K(Y)^2 / (18 (||theta0|| + lambda_F/2)^2)",
            q["weight_decay"],
            condition_11,
        ),
        *_gd_hypotheses(q),
    )


def _interpolation(q: Q) -> Evaluation:
    return Evaluation(_wide_network_hypotheses(q), q["s_K_Y"], q["eps1"])


def balancing_bound(q: Q) -> Any:
    """BALANCING_FLOOR_FACTOR (c^T eps2(0) + eta^2 g_T^2 / (1 - c)), c = (1 - eta lambda)^2,
    g_T^2 = max head ||G_l||_op^2 at the end of training (docs/theory/jacot2025.md, claim 2)."""
    c = (1 - q["eta"] * q["weight_decay"]) ** 2
    floor = q["eta"] ** 2 * q["head_grad_sq"] / (1 - c)
    return BALANCING_FLOOR_FACTOR * (c ** q["steps"] * q["eps2_init"] + floor)


def rounding_floor(q: Q) -> Any:
    """u r_W^2 / (1 - (1 - eta lambda)^2), u the unit roundoff of the training arithmetic
    (2^-24 for float32) and r_W = max head ||W_l||_op: the level at which rounding each step's
    update sustains the head's imbalance D through the Section 4 recursion (a perturbation of
    relative size u per step, contracted by (1 - eta lambda)^2), below which eps2 cannot fall."""
    c = (1 - q["eta"] * q["weight_decay"]) ** 2
    return q["unit_roundoff"] * q["r_head"] ** 2 / (1 - c)


def _balancing(q: Q) -> Evaluation:
    bound = balancing_bound(q)
    hypotheses = (
        Hypothesis("weight decay lambda > 0", q["weight_decay"], 0, ">"),
        Hypothesis("eta lambda < 1", q["eta"] * q["weight_decay"], 1, "<"),
        *_gd_hypotheses(q),
        Hypothesis(
            "the training precision resolves the bound: rounding floor <= bound",
            rounding_floor(q),
            bound,
        ),
    )
    return Evaluation(hypotheses, bound, q["eps2"], {"rounding floor": rounding_floor(q)})


def _balanced_head(q: Q) -> Evaluation:
    depth = q["L2"]
    predicted = q["kappa_head"] ** (1 / depth)
    gap = abs(q["kappa_WL"] / predicted - 1)
    e = telescoping_error(q["eps2"], q["r_head"], int(depth))
    extras = {"kappa_WL": q["kappa_WL"], "kappa_head^(1/L2)": predicted, "e": e}
    hypotheses = (
        Hypothesis("weight decay lambda > 0", q["weight_decay"], 0, ">"),
        _balancing_horizon(q),
    )
    return Evaluation((*hypotheses, *_head_hypotheses(q)), BALANCED_HEAD_TOLERANCE, gap, extras)


def _balancing_horizon(q: Q) -> Hypothesis:
    """Training ran long enough for the head to balance: (1 - eta lambda)^(2t) <=
    BALANCING_HORIZON (an unconverged run makes the claim vacuous, never violated); t counts
    the steps at full rate, ``decay_steps`` (a warm-up's ramp counts half)."""
    eta, decay, steps = _arrays(q["eta"], q["weight_decay"], q["decay_steps"])
    with np.errstate(all="ignore"):
        envelope = namespace(eta, decay, steps).abs(1 - eta * decay) ** (2 * steps)
    return Hypothesis(
        "trained to the balancing horizon: (1 - eta lambda)^(2t) <= 0.05",
        envelope,
        BALANCING_HORIZON,
        "<=",
    )


def _critical_balance(q: Q) -> Evaluation:
    hypotheses = (
        Hypothesis("weight decay lambda > 0", q["weight_decay"], 0, ">"),
        *_head_hypotheses(q),
    )
    return Evaluation(
        hypotheses, q["grad_balance_bound"], q["eps2_last"], trivial=q["last_pair_sq_norm"]
    )


def _converged(q: Q) -> Hypothesis:
    return Hypothesis(
        "NTK Lanczos estimate converged (relative change)",
        q["ntk_relative_change"],
        NTK_CONVERGENCE,
    )


def _ntk(q: Q) -> Evaluation:
    hypotheses = (_below_labels(q), *_head_hypotheses(q), _converged(q))
    return Evaluation(hypotheses, ntk_floor(q), q["ntk_lambda_max"], trivial=q["penultimate_op_sq"])


def stability_bound(q: Q) -> Any:
    """||W_{L1+1}||_op sqrt(2 / (eta c)) / (s_K(Y) - eps1), inf when eps1 >= s_K(Y): the head
    conditioning that a stable step eta c lambda_max(NTK) <= 2 allows (Section 5.2)."""
    gap = q["s_K_Y"] - q["eps1"]
    value = q["norm_first_linear"] * (2 / q["step_scale"]) ** 0.5 / gap
    return _where(gap > 0, value, np.inf)


def _edge_of_stability(q: Q) -> Evaluation:
    bound = stability_bound(q)
    hypotheses = (
        Hypothesis("stable GD: eta c lambda_max(NTK) <= 2", q["stability_product"], 2),
        _below_labels(q),
        *_head_hypotheses(q),
        _converged(q),
    )
    extras = {"eta_c": q["step_scale"]}
    return Evaluation(hypotheses, bound, q["kappa_head"], extras, trivial=q["kappa_head_init"])


def _edge_of_stability_hessian(q: Q) -> Evaluation:
    hypotheses = (
        Hypothesis(
            "stable GD: eta lambda_max(Hessian) <= 2", q["eta"] * q["hessian_lambda_max"], 2
        ),
        _below_labels(q),
        *_head_hypotheses(q),
        Hypothesis(
            "Hessian Lanczos estimate converged (relative change)",
            q["hessian_relative_change"],
            NTK_CONVERGENCE,
        ),
    )
    extras = {
        "eta lambda_max(Hessian)": q["eta"] * q["hessian_lambda_max"],
        "eta lambda_max(Hessian) at initialisation": q["eta"] * q["hessian_lambda_max_init"],
        "eta c lambda_max(NTK)": q["stability_product"],
    }
    return Evaluation(hypotheses, stability_bound(q), q["kappa_head"], extras)


COMPETITOR_FIT = 1e-8  # thm5_2: the competitor's non-linear part outputs Y (relative residual)


def theorem_5_2_bound(q: Q) -> Any:
    """sqrt((K + c / L2) a^(-2/L2) - (K - 1)), a = (s_K(Y) - eps1) / ||Z_{L1}||_op: the bound
    on kappa(W_L) at a balanced point no costlier than the competitor of cost lambda/2 (c +
    L2 K) (docs/theory/jacot2025.md, Theorem 5.2); inf when a <= 0."""
    depth, k, a = q["L2"], q["K"], q["fit_gain"]
    with np.errstate(all="ignore"):
        square = (k + q["competitor_c"] / depth) * a ** (-2 / depth) - (k - 1)
        value = namespace(square).sqrt(namespace(square).maximum(square, 0.0))
    return _where(a > 0, value, np.inf)


def _theorem_5_2(q: Q) -> Evaluation:
    hypotheses = (
        Hypothesis("weight decay lambda > 0", q["weight_decay"], 0, ">"),
        _balancing_horizon(q),
        *_head_hypotheses(q),
        Hypothesis(
            "a competitor outputs Y at Z_{L1} (relative residual)",
            q["competitor_residual"],
            COMPETITOR_FIT,
        ),
        Hypothesis("no costlier than the competitor: objective / its cost", q["cost_ratio"], 1),
        _below_labels(q),
    )
    extras = {
        "c": q["competitor_c"],
        "a": q["fit_gain"],
        "objective / competitor's": q["cost_ratio"],
    }
    return Evaluation(hypotheses, theorem_5_2_bound(q), q["kappa_WL"], extras)


_THM31 = "Jacot et al. ICLR 2025, Theorem 3.1; docs/theory/jacot2025.md"
_SEC4 = "Jacot et al. ICLR 2025, Section 4; docs/theory/jacot2025.md"
_H = ("eps1", "eps2", "r", "s_K_Y", "N", "K", "n_penultimate", "L2", "head_bias_free")
_H_SHORT = ("eps1", "s_K_Y", "L2", "head_bias_free", "class_imbalance")
_GD = ("gd_coupled", "head_bias_free", "L2")
_TIGHT = ("penultimate_op_sq", "before_op", "norm_WL")
_STRUCTURE = "the exact hypothesis list is [U]; (H1)-(H3) hold by construction (measured)"
_UNTRAINED = "the same network at initialisation (no collapse yet)"

THEOREMS: tuple[Theorem, ...] = (
    Theorem(
        id="jacot2025.thm3_1.within_mass",
        reference=_THM31 + " (proof steps 1-3)",
        statement="||Z_{L-1} - Zbar_{L-1}||_F <= Psi(eps1, eps2, r)",
        provenance="derived",
        confidence="Psi verbatim from the design card [B]; inequality [D]; " + _STRUCTURE,
        quantities=(*_H, "within_mass", "total_mass"),
        relation="<=",
        evaluate=_within_mass,
        kind="consequence",
        trivial="||Z_{L-1} - global mean||_F: within-class mass never exceeds the total "
        "centred mass (no theorem needed)",
    ),
    Theorem(
        id="jacot2025.thm3_1.nc1",
        reference=_THM31 + " (NC1 conclusion, proof step 4)",
        statement="NC1(Z_{L-1}) = tr(S_W)/tr(S_B) <= 4 K r^2 Psi^2 / ((K-1) N)",
        provenance="derived",
        confidence="printed form [U]; valid inequality [D] for balanced classes",
        quantities=(*_H, "nc1", "class_imbalance", "nc1_init"),
        relation="<=",
        evaluate=_nc1,
        kind="consequence",
        trivial="NC1(Z_{L-1}) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.nc2",
        reference=_THM31 + " (NC2, bound (b), proof step 5)",
        statement=(
            "kappa(M_{L-1}) <= kappa(W_L)(1+delta)/(1-delta) + r^2 sqrt(eps2_last)/(s_K(Y)-eps1),"
            " delta = eps1/s_K(Y)"
        ),
        provenance="derived",
        confidence="the paper prints O(.) forms with constants in Thm B.2 [S]; this explicit "
        "version is [D]",
        quantities=(*_H_SHORT, "r", "eps2_last", "kappa_WL", "kappa_M", "kappa_M_init"),
        relation="<=",
        evaluate=_nc2,
        kind="consequence",
        trivial="kappa(M_{L-1}) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.nc3",
        reference=_THM31 + " (NC3, bound (c), proof step 6)",
        statement=(
            "min_c cos(w_c, mu_c) >= (1-delta) / ((1+kW^2)/(2 kW) + kW delta + "
            "r^2 sqrt(eps2_last)/s_K(Y)), kW = kappa(W_L)"
        ),
        provenance="derived",
        confidence="printed form [U]; explicit version [D]",
        quantities=(*_H_SHORT, "r", "eps2_last", "kappa_WL", "cos_min", "cos_min_init"),
        relation=">=",
        evaluate=_nc3,
        kind="consequence",
        trivial="min_c cos(w_c, mu_c) of " + _UNTRAINED + " (cos >= -1 needs no theorem; the "
        "untrained value is the stronger reference)",
    ),
    Theorem(
        id="jacot2025.thm3_1.nc2_c3",
        reference=_THM31 + " (NC2 in the paper's form: through c3 and bound (a))",
        statement=(
            "kappa(M_{L-1}) <= k (1+delta)/(1-delta) + r^2 sqrt(eps2_last)/(s_K(Y)-eps1), "
            "k = (c3^2 + (1+c3^2) e / D)^(1/(2 L2)) the bound (a) on kappa(W_L), c3 = "
            "kappa(W_{L:L1+1}), D = ((s_K(Y)-eps1)/r)^(2 L2) - 2e"
        ),
        provenance="derived",
        confidence="the paper states NC2 through c3 [S]; this explicit composition of our nc2 "
        "and head_to_last_composite is [D] (the nc2 bound is increasing in kappa(W_L))",
        quantities=(*_H, "eps2_last", "kappa_head", "class_imbalance", "kappa_M", "kappa_M_init"),
        relation="<=",
        evaluate=_nc2_c3,
        kind="consequence",
        trivial="kappa(M_{L-1}) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.nc3_c3",
        reference=_THM31 + " (NC3 in the paper's form: through c3 and bound (a))",
        statement=(
            "min_c cos(w_c, mu_c) >= (1-delta) / ((1+k^2)/(2k) + k delta + r^2 "
            "sqrt(eps2_last)/s_K(Y)), k the bound (a) on kappa(W_L) from c3 (as nc2_c3)"
        ),
        provenance="derived",
        confidence="the paper states NC3 through c3 [S]; explicit composition [D] (the nc3 "
        "bound is decreasing in kappa(W_L) >= 1)",
        quantities=(*_H, "eps2_last", "kappa_head", "class_imbalance", "cos_min", "cos_min_init"),
        relation=">=",
        evaluate=_nc3_c3,
        kind="consequence",
        trivial="min_c cos(w_c, mu_c) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.within_mass_tight",
        reference=_THM31 + " (proof steps 2-3, each constant as the proof uses it)",
        statement=(
            "||Z_{L-1} - Zbar_{L-1}||_F <= ||Z_{L-1}||_op eps1/(s_K(Y)-eps1) + ||Z_{L-2}||_op "
            "sqrt((n_{L-1}-K) eps2_last)"
        ),
        provenance="derived",
        confidence="[D]: Psi's proof with each r replaced by the norm it bounds, the kernel "
        "projector's rank n_{L-1} - K for n_{L-1}, the pair (L-1, L) for eps2; not the "
        "paper's form",
        quantities=(
            *_H_SHORT,
            "N",
            "K",
            "n_penultimate",
            "eps2",
            "eps2_last",
            "r",
            *_TIGHT,
            "within_mass",
            "total_mass",
        ),
        relation="<=",
        evaluate=_within_mass_tight,
        kind="consequence",
        trivial="||Z_{L-1} - global mean||_F (as within_mass)",
    ),
    Theorem(
        id="jacot2025.thm3_1.nc1_tight",
        reference=_THM31 + " (NC1, proof step 4 without H4's halving)",
        statement=(
            "NC1(Z_{L-1}) <= ||W_L||_op^2 m^2 / (sqrt(N(K-1)/K) - eps1)^2, m the "
            "within_mass_tight bound"
        ),
        provenance="derived",
        confidence="[D] for balanced classes; needs eps1 < s_K(Y) only (no H4)",
        quantities=(
            *_H_SHORT,
            "N",
            "K",
            "n_penultimate",
            "eps2_last",
            *_TIGHT,
            "nc1",
            "nc1_init",
        ),
        relation="<=",
        evaluate=_nc1_tight,
        kind="consequence",
        trivial="NC1(Z_{L-1}) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.nc2_tight",
        reference=_THM31 + " (NC2, bound (b) with the proof's own norms)",
        statement=(
            "kappa(M_{L-1}) <= kappa(W_L)(1+delta)/(1-delta) + ||W_L||_op ||Z_{L-2}||_op "
            "sqrt(eps2_last)/(s_K(Y)-eps1)"
        ),
        provenance="derived",
        confidence="[D]: bound (b) with r^2 replaced by the two norms it stands for",
        quantities=(*_H_SHORT, "eps2_last", *_TIGHT, "kappa_WL", "kappa_M", "kappa_M_init"),
        relation="<=",
        evaluate=_nc2_tight,
        kind="consequence",
        trivial="kappa(M_{L-1}) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.nc3_tight",
        reference=_THM31 + " (NC3, bound (c) with the proof's own norms)",
        statement=(
            "min_c cos(w_c, mu_c) >= (1-delta) / ((1+kW^2)/(2 kW) + kW delta + ||W_L||_op "
            "||Z_{L-2}||_op sqrt(eps2_last)/s_K(Y))"
        ),
        provenance="derived",
        confidence="[D]: bound (c) with r^2 replaced by the two norms it stands for",
        quantities=(*_H_SHORT, "eps2_last", *_TIGHT, "kappa_WL", "cos_min", "cos_min_init"),
        relation=">=",
        evaluate=_nc3_tight,
        kind="consequence",
        trivial="min_c cos(w_c, mu_c) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.head_to_last",
        reference=_THM31 + " (bound (a) before its last step, proof step 7)",
        statement=(
            "kappa(W_L)^(2 L2) <= (s_1(A)^2 + e) / (s_K(A)^2 - e), A = W_{L:L1+1}, "
            "e = eps2 (r_W^2+eps2)^(L2-1) L2(L2-1)/2, r_W = max head ||W_l||_op"
        ),
        provenance="derived",
        confidence="[D] (a randomised validation, 2026 instances, and nc-jax falsify); the paper "
        "states kappa(W_L) -> c3^(1/L2) [S]",
        quantities=(
            "eps2",
            "r_head",
            "L2",
            "head_bias_free",
            "kappa_WL",
            "head_s1",
            "head_sK",
            "kappa_head",
            "kappa_WL_init",
        ),
        relation="<=",
        evaluate=_head_to_last_spectral,
        kind="consequence",
        trivial="kappa(W_L)^(2 L2) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.thm3_1.head_to_last_composite",
        reference=_THM31 + " (composite bound (a), proof step 7)",
        statement=(
            "kappa(W_L)^(2 L2) <= c3^2 + (1 + c3^2) e / (((s_K(Y)-eps1)/r)^(2 L2) - 2e), "
            "e = eps2 (r^2+eps2)^(L2-1) L2(L2-1)/2, c3 = kappa(W_{L:L1+1})"
        ),
        provenance="derived",
        confidence="the paper states kappa(W_L) -> c3^(1/L2) [S]; explicit version [D]",
        quantities=(
            "eps1",
            "eps2",
            "r",
            "s_K_Y",
            "L2",
            "head_bias_free",
            "kappa_WL",
            "kappa_head",
            "kappa_WL_init",
        ),
        relation="<=",
        evaluate=_head_to_last_layer,
        kind="consequence",
        trivial="kappa(W_L)^(2 L2) of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.sec4.recursion",
        reference=_SEC4 + " (phase 2 mechanism)",
        statement=(
            "D(t+1) = (1-eta lambda)^2 D(t) + eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T) for every "
            "head pair: max_t ||residual||_op / max_t ||W||_op^2 <= 1e-10 (float64 rounding)"
        ),
        provenance="derived",
        confidence="exact identity [D] for plain GD with coupled weight decay and linear layers",
        quantities=("recursion_residual", *_GD),
        relation="<=",
        evaluate=_recursion,
        kind="identity",
    ),
    Theorem(
        id="jacot2025.sec4.interpolation",
        reference=_SEC4 + " (Theorem 4.4: GD reaches (H1)-(H4))",
        statement=(
            "GD with weight decay on a network with a wide first layer (n1 >= N, pyramidal) "
            "ends with eps1 <= s_K(Y), the least Theorem 3.1 needs"
        ),
        provenance="derived",
        confidence="claim [S]: Theorem 4.4's constants are unknown to us; condition (11) is "
        "as a review typed it; Assumption 4.2 (smooth, sigma' in [gamma, 1]) is a hypothesis, "
        "so ReLU networks (the paper's own experiments) are outside it; Assumption 4.3 "
        "(initialisation) is not checked",
        quantities=(
            "eps1",
            "s_K_Y",
            "N",
            "n1",
            "pyramidal",
            "smooth_activation",
            "weight_decay",
            "theta0_norm",
            "lambda_F_init",
            *_GD,
        ),
        relation="<=",
        evaluate=_interpolation,
        kind="claim",
    ),
    Theorem(
        id="jacot2025.sec4.balancing",
        reference=_SEC4 + " (phase 2: the linear layers balance)",
        statement=(
            "eps2 at the end of training <= 2 ((1-eta lambda)^(2T) eps2(0) + eta^2 g_T^2 / "
            "(1 - (1-eta lambda)^2)), g_T^2 = max head ||G_l||_op^2 at the end: the initial "
            "imbalance has decayed at the weight-decay rate and only the final gradients "
            "sustain what is left"
        ),
        provenance="derived",
        confidence="claim: the recursion alone bounds eps2 with the largest gradient of the "
        "whole run (algebra); replacing it by the final gradient (factor 2 of tolerance for its "
        "variation over the last 1/(eta lambda) steps) is what training must produce",
        quantities=(
            "eps2",
            "eps2_init",
            "eta",
            "weight_decay",
            "steps",
            "head_grad_sq",
            "unit_roundoff",
            "r_head",
            *_GD,
        ),
        relation="<=",
        evaluate=_balancing,
        kind="claim",
    ),
    Theorem(
        id="jacot2025.sec5.balanced_head",
        reference="Jacot et al. ICLR 2025, Sections 5.1 and 6 (linear layers balanced at "
        "convergence); docs/theory/jacot2025.md",
        statement=(
            "after training to the balancing horizon ((1 - eta lambda)^(2t) <= 0.05), "
            "kappa(W_L) = kappa(W_{L:L1+1})^(1/L2) within 5% "
            "(|kappa(W_L) / c3^(1/L2) - 1| <= 0.05), as for an exactly balanced head"
        ),
        provenance="derived",
        confidence="claim: exact at every critical point [D]; the 5% tolerance is ours (the "
        "NC2 and NC3 bounds read kappa(W_L): 5% in it moves them by about 5%)",
        quantities=(
            "kappa_WL",
            "kappa_head",
            "eps2",
            "r_head",
            "weight_decay",
            "eta",
            "decay_steps",
            *_GD[1:],
        ),
        relation="<=",
        evaluate=_balanced_head,
        kind="claim",
    ),
    Theorem(
        id="jacot2025.sec5.critical_balance",
        reference="Jacot et al. ICLR 2025, Section 5.1; docs/theory/jacot2025.md",
        statement=(
            "lambda D_{L-1} = W_L^T grad_L - grad_{L-1} W_{L-1}^T (grad of the regularised "
            "objective), so eps2_last <= (||W_L|| ||grad_L|| + ||grad_{L-1}|| ||W_{L-1}||) / "
            "lambda: 0 at a critical point"
        ),
        provenance="derived",
        confidence="[D]: exact at any point",
        quantities=(
            "eps2_last",
            "grad_balance_bound",
            "weight_decay",
            "head_bias_free",
            "L2",
            "last_pair_sq_norm",
        ),
        relation="<=",
        evaluate=_critical_balance,
        kind="consequence",
        trivial="max(||W_{L-1}||_op, ||W_L||_op)^2: ||A^T A - B B^T||_op never exceeds it "
        "(no theorem needed)",
    ),
    Theorem(
        id="jacot2025.sec5_2.ntk",
        reference="Jacot et al. ICLR 2025, Section 5.2 (an ingredient); docs/theory/jacot2025.md",
        statement=("lambda_max(NTK) >= (s_K(Y) - eps1)^2 kappa(W_{L:L1+1})^2 / ||W_{L1+1}||_op^2"),
        provenance="derived",
        confidence="[D]; lambda_max measured by Lanczos iteration from a random start, gated on "
        "its convergence",
        quantities=(
            "eps1",
            "s_K_Y",
            "kappa_head",
            "norm_first_linear",
            "ntk_lambda_max",
            "ntk_relative_change",
            "head_bias_free",
            "L2",
            "penultimate_op_sq",
        ),
        relation=">=",
        evaluate=_ntk,
        kind="consequence",
        trivial="||Z_{L-1}||_op^2, the top eigenvalue of the last layer's own NTK block, a "
        "lower bound that needs no theorem",
    ),
    Theorem(
        id="jacot2025.sec5_2.edge_of_stability",
        reference="Jacot et al. ICLR 2025, Section 5.2 (Prop. 5.3); docs/theory/jacot2025.md",
        statement=(
            "if eta c lambda_max(NTK) <= 2 (c = 1 for the summed MSE, 1/N for the mean): "
            "kappa(W_{L:L1+1}) <= ||W_{L1+1}||_op sqrt(2/(eta c)) / (s_K(Y) - eps1)"
        ),
        provenance="derived",
        confidence="Prop. 5.3's printed bound is unknown [U]; this is the implication of the "
        "NTK bound under the stability hypothesis (the notes' heuristic made exact)",
        quantities=(
            "eps1",
            "s_K_Y",
            "kappa_head",
            "norm_first_linear",
            "stability_product",
            "step_scale",
            "ntk_relative_change",
            "head_bias_free",
            "L2",
            "kappa_head_init",
        ),
        relation="<=",
        evaluate=_edge_of_stability,
        kind="consequence",
        trivial="c3 of " + _UNTRAINED,
    ),
    Theorem(
        id="jacot2025.sec5_2.edge_of_stability_hessian",
        reference="Jacot et al. ICLR 2025, Section 5.2 (Prop. 5.3, with the loss Hessian); "
        "docs/theory/jacot2025.md",
        statement=(
            "if GD is stable at the end of training, eta lambda_max(Hessian) <= 2 (the Hessian "
            "of the objective GD descends): kappa(W_{L1+1..L}) <= ||W_{L1+1}||_op "
            "sqrt(2/(eta c)) / (s_K(Y) - eps1)"
        ),
        provenance="derived",
        confidence="claim: Prop. 5.3's premise is a stable step on the loss Hessian, its "
        "printed bound unknown [U]; the bound follows exactly from the NTK's (sec5_2.ntk) only "
        "where lambda_max(Hessian) >= c lambda_max(NTK), which holds near interpolation "
        "(Gauss-Newton part dominant) but not in general: what trained networks must show",
        quantities=(
            "eps1",
            "s_K_Y",
            "kappa_head",
            "norm_first_linear",
            "step_scale",
            "eta",
            "hessian_lambda_max",
            "hessian_relative_change",
            "hessian_lambda_max_init",
            "stability_product",
            "head_bias_free",
            "L2",
        ),
        relation="<=",
        evaluate=_edge_of_stability_hessian,
        kind="claim",
    ),
    Theorem(
        id="jacot2025.thm5_2.head_conditioning",
        reference="Jacot et al. ICLR 2025, Theorem 5.2 (near-optimal networks: a well-"
        "conditioned head, exp(c/(2 L2))); docs/theory/jacot2025.md",
        statement=(
            "trained to the balancing horizon and no costlier than the competitor that fits Y at "
            "Z_{L1} with non-linear norm^2 c: kappa(W_L) <= sqrt((K + c/L2) a^(-2/L2) - (K-1)), "
            "a = (s_K(Y) - eps1)/||Z_{L1}||_op (<= exp(c/(2 L2)) a^(-K/L2), the paper's form)"
        ),
        provenance="derived",
        confidence="claim: exact at a balanced point whose objective is at most the "
        "competitor's (derived, docs); the paper's printed statement is [U] beyond its "
        "exp(c/(2 L2)) form [S]; trained heads are balanced only approximately, which is "
        "what makes it a claim; c is that of our competitor (trained layers 1..L1-1 and the "
        "least-norm last non-linear layer), any competitor giving a valid bound",
        quantities=(
            "kappa_WL",
            "K",
            "L2",
            "competitor_c",
            "competitor_residual",
            "cost_ratio",
            "fit_gain",
            "eps1",
            "s_K_Y",
            "weight_decay",
            "eta",
            "decay_steps",
            "head_bias_free",
        ),
        relation="<=",
        evaluate=_theorem_5_2,
        kind="claim",
    ),
)
