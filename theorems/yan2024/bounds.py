"""The checks of Yan et al. (NeurIPS 2024, "Neural Collapse To Multiple Centers For Imbalanced
Data", NCMC) as Theorem records (docs/theory/yan2024.md). Only the abstract and figure captions
could be read: the centre construction's reading, both MSE losses and the cosine loss are our
stand-ins (the paper's "Loss P" and Cosine Loss formulas were not readable); the collapse of
features to the mean of their class's centres is the paper's claim, checked on our stand-in.

Tolerances. The identities are float64 linear algebra on unit vectors in d = 32 (Gram entries
and solves of a well-conditioned system, ridge 0.1): measured residuals about 1e-15, so 1e-10
leaves five orders of magnitude for rounding and none for a wrong constant (a wrong factor moves
them by O(1)). The stand-in (ii) gap is bounded below by 1e-6, three orders below the smallest
gap measured (1.6e-3 at theta = 0.2) and ten above rounding. The collapse claim's level 0.05 of
NC_ave is the metric's value at 18 degrees (1 - cos 18 deg = 0.049), against about 1 at
initialisation. The trained stand-in (i) UFM must be within 1e-8 (relative) of its closed form
when GD's guaranteed contraction (max |1 - eta mu| over the Hessian's eigenvalues mu, to the
power of the steps) is below 1e-10: the distance at initialisation is O(1), so rounding (1e-15)
and the guarantee leave two orders of margin. The collapse claim is read only on trained runs,
whose training loss (the sample-weighted mean of 1 - cos) is at most 0.01: under imbalance that
does not imply NC_ave <= 0.05 (a tail class of 2 samples among 159 can stay at 1 - cos = 0.5 and
add only 0.006 to the loss), so the claim can fail on a trained run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nc_jax.checks.contract import Evaluation, Hypothesis, Theorem

Q = Mapping[str, Any]
IDENTITY_TOLERANCE = 1e-10
GAP_FLOOR = 1e-6
COLLAPSE_LEVEL = 0.05
REACH_TOLERANCE = 1e-8  # ||H_T - H*|| / ||H*|| of the trained stand-in (i) UFM
CONTRACTION = 1e-10  # GD's guaranteed shrinkage of the distance to the optimum, (rate)^steps
TRAINED = 0.01  # the sample-weighted training loss mean_i (1 - cos(h_i, cbar_y))

_PAPER = "Yan et al., NeurIPS 2024 (NCMC)"
_NOTES = "docs/theory/yan2024.md"
_READING = "our reading of the construction (w a unit simplex ETF, v orthonormal, v _|_ span w)"


def _coupling(q: Q) -> Hypothesis:
    return Hypothesis("cross-class coupling sin^2 theta / (K - 1)", q["coupling"], 0, ">")


def _gram(q: Q) -> Evaluation:
    return Evaluation((_coupling(q),), IDENTITY_TOLERANCE, q["gram_residual"])


def _own(q: Q) -> Evaluation:
    return Evaluation((_coupling(q),), IDENTITY_TOLERANCE, q["own_centre_deviation"])


def _reach(q: Q) -> Evaluation:
    hypotheses = (
        Hypothesis(
            "GD contraction (max |1 - eta mu|)^steps over the Hessian's spectrum",
            q["ufm_contraction"],
            CONTRACTION,
        ),
    )
    return Evaluation(hypotheses, REACH_TOLERANCE, q["ufm_distance"])


def _all(q: Q) -> Evaluation:
    extras = {"largest gap": q["all_centre_gap_max"]}
    return Evaluation((_coupling(q),), GAP_FLOOR, q["all_centre_gap_min"], extras)


def _collapse(q: Q) -> Evaluation:
    hypotheses = (
        Hypothesis(
            "trained: sample-weighted loss mean_i (1 - cos(h_i, cbar_y))", q["train_loss"], TRAINED
        ),
    )
    extras = {"NC_std": q["nc_std"], "NC_ave at init": q["nc_ave_init"], "tail class": q["nc_tail"]}
    return Evaluation(hypotheses, COLLAPSE_LEVEL, q["nc_ave"], extras)


THEOREMS = (
    Theorem(
        id="yan2024.e1a.centre_gram",
        reference=f"{_PAPER}, the centres W_ij = cos(theta) v_ij + sin(theta) w_i (caption of the "
        f"3-D figure); {_NOTES}, E1-a",
        statement="||W_ij|| = 1, <W_ij, W_ij'> = sin^2 theta, <W_ij, W_i'j'> = -sin^2 theta/(K-1) "
        "and ||cbar_i||^2 = cos^2 theta / f_i + sin^2 theta, each to 1e-10",
        provenance="stand-in",
        confidence=f"exact for {_READING}; the paper's construction of w and v is [U]",
        quantities=("gram_residual", "coupling"),
        relation="<=",
        evaluate=_gram,
        kind="identity",
    ),
    Theorem(
        id="yan2024.e1b.own_centre_optimum",
        reference=f"{_PAPER}, NCMC theorem for the UFM with Loss P [U]; {_NOTES}, E1-b",
        statement="our stand-in loss (i) sum_j (<W_ij, h> - 1)^2 + lambda ||h||^2 over class i's "
        "own centres has the optimum f_i cbar_i / (cos^2 theta + f_i sin^2 theta + lambda), "
        "exactly the scaled mean of the centres (relative distance <= 1e-10)",
        provenance="stand-in",
        confidence="our own MSE loss, not the paper's Loss P, whose formula was not readable",
        quantities=("own_centre_deviation", "coupling"),
        relation="<=",
        evaluate=_own,
        kind="identity",
    ),
    Theorem(
        id="yan2024.e1b.trained_ufm",
        reference=f"{_PAPER}, NCMC theorem for the UFM [U]; {_NOTES}, E1-b",
        statement="full-batch GD on our stand-in loss (i) in the UFM (free features of the "
        "long-tailed training set, weight decay lambda) reaches the closed-form optimum: "
        "||H_T - H*||_F / ||H*||_F <= 1e-8",
        provenance="stand-in",
        confidence="our own loss; GD on a strongly convex quadratic, so a violation is an "
        "engine or derivation error, not a finding about the paper",
        quantities=("ufm_distance", "ufm_contraction"),
        relation="<=",
        evaluate=_reach,
        kind="claim",
    ),
    Theorem(
        id="yan2024.e1c.all_centre_gap",
        reference=f"{_PAPER}, NCMC theorem [U]; {_NOTES}, E1-c (a contrast case)",
        statement="our stand-in loss (ii), MSE on all centres with one-hot-per-centre targets, "
        "does not collapse exactly: 1 - cos(h*_i, cbar_i) >= 1e-6 for every class",
        provenance="stand-in",
        confidence="our own loss: exact collapse depends on the loss, so the paper's NCMC is not "
        "asserted for a loss it did not use",
        quantities=("all_centre_gap_min", "all_centre_gap_max", "coupling"),
        relation=">=",
        evaluate=_all,
        kind="identity",
    ),
    Theorem(
        id="yan2024.e1d.collapse_to_centre_means",
        reference=f"{_PAPER}, abstract and the NC_ave / NC_std figures (captions); {_NOTES}, E1-d",
        statement="with a fixed multi-centre classifier and our stand-in cosine loss "
        "1 - cos(h, cbar_y), an MLP's features on long-tailed data collapse to their class's "
        "centre mean: NC_ave = mean over classes of mean_i (1 - cos(h_i, cbar_y)) <= 0.05",
        provenance="printed",
        confidence="the collapse to multiple centres under a fixed classifier is the paper's "
        "claim (captions: NC_ave and NC_std decrease); the loss, the network, the data and the "
        "level 0.05 are ours",
        quantities=("nc_ave", "nc_std", "nc_ave_init", "nc_tail", "train_loss"),
        relation="<=",
        evaluate=_collapse,
        kind="claim",
    ),
)
