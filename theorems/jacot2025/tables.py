"""The answers of jacot2025's shipped grids as text, one function per grid, each reading a
finished results directory (``nc_jax.results``); ``TABLES`` registers them on the paper
(``Paper.tables``), ``nc_jax.sweep.grid_table`` finds them and the scripts in experiments/
print them:

- ``width_table``: ``nc-jax sweep jacot2025/width`` (Section 4, the first layer's width);
- ``deep_mlp_table``: ``nc-jax sweep jacot2025/deep_mlp`` (Figure 1, every layer);
- ``head_depth_table``: ``nc-jax sweep jacot2025/head_depth`` (Figure 2, top) and
  ``nc-jax sweep jacot2025/resnet_head_depth`` (Figure 5), the head's depth;
- ``learning_rate_table``: ``nc-jax sweep jacot2025/learning_rate`` (Section 5.2);
- ``nonlinear_depth_table``: ``nc-jax sweep jacot2025/nonlinear_depth`` (Figure 3);
- ``atlas_tables``: ``nc-jax sweep jacot2025/regime_atlas`` (Theorem 3.1's regime atlas).

The grids edge_of_stability and training_time have no table of their own (the verdicts say it).
The atlas functions import theorems.jacot2025.atlas (and with it scipy) when they run, so that
loading the paper does not.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from nc_jax import plots, results
from theorems.jacot2025.regime import regime_table

# ------------------------------------------------------------------------------ width

THM31 = ("within_mass", "nc1", "nc2", "nc3", "head_to_last", "head_to_last_composite")


def width_hypotheses(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run, whether each hypothesis of the width sweep holds (bool columns)."""
    half_centred = np.sqrt((runs["K"] - 1) * runs["N"] / (4 * runs["K"]))
    return pd.DataFrame(
        {
            "eps1<s_K(Y)": runs["eps1"] < runs["s_K_Y"],
            "H4": runs["eps1"] <= half_centred,
            "n1>=N": runs["n1"] >= runs["N"],
            "pyramidal": runs["pyramidal"] == 1.0,
            "s_min(Z1)>0": runs["lambda_F_init"] > 0,
        }
    )


def width_table(directory: Path) -> str:
    """The answer of ``nc-jax sweep jacot2025/width`` as text: Section 4 of Jacot et al. (ICLR
    2025) as a width sweep, from which first-layer width on do the hypotheses hold, and how does
    each check's slack move with width?

    Per first-layer width n1: the measured eps1, eps2, r (medians over the runs that did not
    diverge), the share of runs on which each hypothesis holds (Theorem 3.1's eps1 < s_K(Y) and
    H4, Section 4's n1 >= N, the pyramidal widths, s_min(Z_1(theta_0)) > 0), and the median
    slack (measured / bound) of every Theorem 3.1 check with its count of non-vacuous runs.
    Assumption 4.2 (a smooth activation with sigma' in [gamma, 1]) never holds in this grid: the
    MLP uses ReLU, as the paper's experiments do (the table says so unless a run's activation is
    the smooth one).
    """
    runs = results.load_runs(directory)
    checks = results.load(directory)
    runs["n1"] = runs["widths"].map(lambda w: w[0])
    checks["n1"] = checks["widths"].map(lambda w: w[0])
    trained = runs[runs["diverged_step"].isna()]
    held = width_hypotheses(trained).groupby(trained["n1"]).mean()
    rows = []
    for n1, group in runs.groupby("n1"):
        ok = trained[trained["n1"] == n1]
        row = {
            "n1": n1,
            "runs": len(group),
            "diverged": int(group["diverged_step"].notna().sum()),
            "eps1": ok["eps1"].median(),
            "s_K(Y)": ok["s_K_Y"].median(),
            "eps2": ok["eps2"].median(),
            "r": ok["r"].median(),
        }
        row |= (
            {name: f"{share:.0%}" for name, share in held.loc[n1].items()}
            if n1 in held.index
            else {}
        )
        rows.append(row)
    table = pd.DataFrame(rows).set_index("n1")
    slacks = {}
    for name in THM31:
        picked = checks[checks["check"] == f"jacot2025.thm3_1.{name}"]
        informative = picked[picked["verdict"] != "vacuous"]
        median = informative.groupby("n1")["slack"].median()
        counted = informative.groupby("n1").size()
        slacks[name] = {
            n1: f"{median[n1]:.3g} ({counted[n1]})" if n1 in median.index else "vacuous"
            for n1 in sorted(checks["n1"].unique())
        }
    slack_table = pd.DataFrame(slacks).rename_axis("n1")
    verdicts = checks.groupby(["n1", "verdict"]).size().unstack(fill_value=0)
    answer = where_hypotheses_hold(held)
    lines = [
        "Per first-layer width: medians over the runs that did not diverge, and the share of "
        "those runs on which each hypothesis holds",
        table.to_string(float_format=lambda v: f"{v:.3g}"),
        "",
        "Theorem 3.1 checks: median slack measured / bound over non-vacuous runs (their count)",
        slack_table.to_string(),
        "",
        "verdicts of every check, all runs",
        verdicts.to_string(),
        "",
        answer,
    ]
    if not (runs.get("smooth_activation", pd.Series([0.0])) == 1.0).any():
        lines.append(
            "Assumption 4.2 (smooth activation, sigma' in [gamma, 1]) fails at every width: "
            "the network's activation is not the smooth one (ReLU in this grid)."
        )
    return "\n".join(lines)


def where_hypotheses_hold(held: pd.DataFrame) -> str:
    """One line per hypothesis: the widths at which it holds on every trained run, and the
    share at the others (``held``: widths x hypotheses, shares of runs)."""
    lines = ["Where each hypothesis holds on every trained run:"]
    for name in held.columns:
        everywhere = [n1 for n1 in held.index if held.loc[n1, name] == 1]
        others = [f"{n1} ({held.loc[n1, name]:.0%})" for n1 in held.index if n1 not in everywhere]
        text = ", ".join(map(str, everywhere)) if everywhere else "no width"
        lines.append(f"  {name}: n1 = {text}" + (f"; not at {', '.join(others)}" if others else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------------------ deep MLP

BALANCED_FACTOR = 0.1  # "balanced": 10 times below the ReLU pairs and the initialisation
LAYER_COLUMNS = {
    "layer/nc1_trace_ratio": "NC1",
    "layer/nc2_kappa": "NC2",
    "layer/balancedness": "balancedness",
    "layer/relative_balancedness": "rel. balancedness",
    "layer/negativity": "negativity",
}


def layer_table(directory: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per layer (rows 1..L) "mean ± std" of every metric of LAYER_COLUMNS at the last log over
    the trained runs of the first cell, the head's mean |off-diagonal class-mean cosine|; and
    the numbers the claims read (medians of the relative balancedness of the head pairs at the
    first and last log and of the ReLU pairs at the last log; L1)."""
    record = results.read_cells(directory)[0]
    arrays = results.read_arrays(directory, record["cell"])
    trained = arrays["diverged"][:, -1] == 0
    depth = len(record["config"]["widths"])
    first = depth - record["config"]["num_linear"]  # L1
    table = pd.DataFrame(index=pd.RangeIndex(1, depth + 1, name="layer"))
    table["kind"] = ["ReLU" if layer <= first else "linear" for layer in table.index]
    for key, name in LAYER_COLUMNS.items():
        mean, std = plots.mean_and_std_over_runs(
            np.asarray(arrays[key], dtype=float)[trained, -1, :]
        )
        table[name] = [f"{m:.3g} ± {s:.2g}" if np.isfinite(m) else "-" for m, s in zip(mean, std)]
    off_diagonal = {}
    for layer in range(first, depth + 1):
        gram = np.asarray(arrays[f"gram/layer {layer}"], dtype=float)[trained]
        mask = ~np.eye(gram.shape[-1], dtype=bool)
        off_diagonal[layer] = f"{np.abs(gram[:, mask]).mean():.3g}"
    table["class-mean |cos| off-diag."] = pd.Series(off_diagonal)
    relative = np.asarray(arrays["layer/relative_balancedness"], dtype=float)[trained]
    nc1, nc2 = (
        plots.mean_and_std_over_runs(np.asarray(arrays[k], dtype=float)[trained, -1])[0]
        for k in ("layer/nc1_trace_ratio", "layer/nc2_kappa")
    )
    numbers = {
        "L1": first,
        "head_balance_init": float(np.nanmedian(relative[:, 0, first : depth - 1])),
        "head_balance_end": float(np.nanmedian(relative[:, -1, first : depth - 1])),
        "relu_balance_end": float(np.nanmedian(relative[:, -1, : first - 1])),
        "nc1_falls": bool((np.diff(nc1[first - 1 : depth - 1]) < 0).all()),
        "nc2_falls": bool((np.diff(nc2[first - 1 : depth - 1]) < 0).all()),
        "trained": int(trained.sum()),
        "runs": len(trained),
    }
    return table.fillna("-"), numbers


def deep_mlp_table(directory: Path) -> str:
    """The answer of ``nc-jax sweep jacot2025/deep_mlp`` as text: Figure 1 of Jacot et al.
    (ICLR 2025) on real MNIST, NC1, NC2, balancedness and negativity of every layer of a
    9-layer MLP (5 ReLU layers, a linear head of 4), and the class-mean matrices of the head.

    One cell, 5 seeds (the grid file says how the paper's weight decay and learning rate map to
    our summed loss). From the layer metrics the engine logged, per layer l = 1..L at the end of
    training: the mean and standard deviation over the trained seeds of NC1 (tr S_W / tr S_B),
    NC2 (kappa of the class means), the balancedness ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op and
    its scale-free form (divided by max(||W_l||, ||W_{l+1}||)^2) and the negativity of the ReLU
    layers; and per layer of the head the mean |off-diagonal cosine| of its class means (0 for
    an orthogonal frame). The paper's statements read as claims on these numbers: "the final
    linear layers are balanced at convergence" (the median relative balancedness of the head
    pairs at least 10 times below that of the ReLU pairs and below its own value at
    initialisation; the factor is ours), and NC1 and NC2 fall through the linear head (the means
    decrease from Z_{L1} to Z_{L-1}); then Theorem 3.1's regime. `nc-jax plot DIR` draws the
    per-layer profile and the class-mean matrices.

    The paper reports (Figure 1 of arXiv v1, Figure 4 of the camera-ready: a 9-layer MLP on
    MNIST, weight decay 0.0018, learning rate 0.001, 5 runs): NC1 and NC2 falling through the
    last layers, balanced linear layers, and the class-mean matrices of the head turning
    diagonal. We measured (the embedded MNIST sample, N = 200, full-batch GD, lambda = 0.36 =
    0.0018 N, eta = 1.5e-4, 48000 steps, 5 seeds, 5 min 17 s on 2 CPU cores): all three. NC1
    falls at every layer (0.52 at layer 1 to 7e-4 at the output), NC2 falls through the head
    (4.9 at Z_5 to 1.5 at Z_8, 1.01 at the output) after rising inside the ReLU part (31 at
    layer 3), the relative balancedness of the head pairs is 0.02 (0.86 at initialisation, 0.29
    for the ReLU pairs), and the mean |off-diagonal cosine| of the class means falls from 0.40
    (Z_5) to 0.07 (Z_8). Theorem 3.1 on these networks: eps1 / s_K(Y) = 0.086, eps2 = 0.021;
    the within-class mass, NC2 and NC3 bounds are informative on 5 of 5 runs, the NC1 bound on
    none (it is above the untrained NC1); the two head bounds are vacuous (s_K of the head
    product, squared, does not exceed the telescoping error e).
    """
    table, n = layer_table(directory)
    balanced = n["head_balance_end"] <= BALANCED_FACTOR * min(
        n["relu_balance_end"], n["head_balance_init"]
    )
    claims = [
        f"claim 'the final linear layers are balanced at convergence': "
        f"{'seen' if balanced else 'not seen'} (median relative balancedness of the head pairs "
        f"{n['head_balance_init']:.3g} at initialisation, {n['head_balance_end']:.3g} at the end; "
        f"of the ReLU pairs {n['relu_balance_end']:.3g} at the end)",
        "claim 'NC1 falls through the linear head' (mean NC1 decreasing from Z_{L1} to Z_{L-1}): "
        + ("seen" if n["nc1_falls"] else "not seen"),
        "claim 'NC2 falls through the linear head' (mean NC2 decreasing from Z_{L1} to Z_{L-1}): "
        + ("seen" if n["nc2_falls"] else "not seen"),
    ]
    return "\n".join(
        [
            f"Per layer at the end of training, mean ± std over {n['trained']} trained of "
            f"{n['runs']} runs (layers 1..{n['L1']} ReLU, then the linear head; "
            "balancedness of layer l is that of the pair W_l, W_{l+1})",
            table.to_string(),
            "",
            *claims,
            "",
            regime_table(directory),
        ]
    )


# ------------------------------------------------------------------------------ head depth

HEAD_KEYS = ["weight_decay", "num_linear"]  # a row of the head-depth table: (lambda, L2)
FIRST_LINEAR = {"layer/nc1_trace_ratio first": "NC1 first linear"}
FIRST_LINEAR |= {"layer/nc2_kappa first": "NC2 first linear"}


def first_linear_layer(directory: Path) -> pd.DataFrame:
    """One row per trained run that logged its layer metrics: weight_decay, num_linear (L2) and
    NC1 / NC2 of the first linear layer Z_{L1+1} at the engine's last log
    (``plots.head_layer_values``, the values the Figure 2 plot draws)."""
    values = plots.head_layer_values(directory, "num_linear", by="weight_decay")
    if values.empty:
        return pd.DataFrame(columns=[*HEAD_KEYS, *FIRST_LINEAR.values()])
    values = values.rename(columns={"_x": "num_linear", "_by": "weight_decay", **FIRST_LINEAR})
    return values[[*HEAD_KEYS, *FIRST_LINEAR.values()]]


def _head_depth_medians(runs: pd.DataFrame, checks: pd.DataFrame, directory: Path) -> pd.DataFrame:
    """Per (weight decay, L2): runs, diverged runs, and the medians over the trained runs of the
    table's columns (see ``head_depth_table``)."""
    trained = runs[runs["diverged_step"].isna()].copy()
    trained["c3^(1/L2)"] = trained["kappa_head"] ** (1 / trained["num_linear"])
    trained = trained.rename(columns={"nc1": "NC1 last", "kappa_M": "NC2 last"})
    first = first_linear_layer(directory)
    medians = trained.groupby(HEAD_KEYS)[["NC1 last", "NC2 last"]].median()
    medians = medians.join(first.groupby(HEAD_KEYS)[list(FIRST_LINEAR.values())].median())
    medians = medians.join(
        trained.groupby(HEAD_KEYS)[["kappa_WL", "c3^(1/L2)", "eps1", "eps2"]].median()
    )
    everything = runs.groupby(HEAD_KEYS)
    medians = medians.reindex(everything.size().index)  # depths where every run diverged
    medians.insert(0, "diverged", everything["diverged_step"].count())
    medians.insert(0, "runs", everything.size())
    nc2 = checks[checks["check"] == "jacot2025.thm3_1.nc2"]
    medians["NC2 bound slack"] = (
        nc2[nc2["verdict"] != "vacuous"].groupby(HEAD_KEYS)["slack"].median()
    )
    medians["NC2 bound informative"] = nc2.groupby(HEAD_KEYS)["informative"].apply(
        lambda f: f"{int(f.fillna(False).sum())}/{len(f)}"
    )
    medians["balanced_head h/v/vac"] = results.verdict_counts(
        checks, "jacot2025.sec5.balanced_head", HEAD_KEYS
    )
    return medians


def _nc2_trend(trained: pd.DataFrame, medians: pd.DataFrame, decay: float) -> list[str]:
    """At one weight decay: per pair of consecutive depths, on how many seeds NC2 of Z_{L-1}
    decreased, and the paper's claim read on the medians."""
    mine = trained[trained["weight_decay"] == decay]
    depths = sorted(mine["num_linear"].unique())
    by_seed = mine.pivot_table(index="seed", columns="num_linear", values="kappa_M")
    pairs = [
        f"  L2 {a} -> {b}: NC2 decreased on {int((by_seed[b] < by_seed[a]).sum())}"
        f"/{int((by_seed[b].notna() & by_seed[a].notna()).sum())} seeds"
        for a, b in zip(depths[:-1], depths[1:])
    ]
    median_nc2 = medians.loc[decay, "NC2 last"].loc[depths].to_numpy()
    monotone = len(median_nc2) > 1 and bool((median_nc2[1:] < median_nc2[:-1]).all())
    return [
        f"weight decay lambda = {decay:g}: claim 'NC2 improves with a deeper head' (median NC2 "
        "of Z_{L-1} decreasing in L2): "
        + ("seen" if monotone else "not seen")
        + f" (median NC2 by L2: {', '.join(f'{v:.3g}' for v in median_nc2)})",
        *pairs,
    ]


def head_depth_table(directory: Path) -> str:
    """The answer of ``nc-jax sweep jacot2025/head_depth`` and of ``nc-jax sweep
    jacot2025/resnet_head_depth`` as text: Figure 2 (top) of Jacot et al. (ICLR 2025) on real
    MNIST, and Section 5 as a sweep, does NC2 improve as the linear head deepens, and does the
    last layer carry the head's conditioning (kappa(W_L) = c3^(1/L2))?

    head_depth: L1 = 5 ReLU layers, a bias-free linear head of depth L2 = 1..5, the paper's two
    weight decays, 5 seeds. Per weight decay and L2: the medians over the runs that did not
    diverge of NC1 (tr S_W / tr S_B) and NC2 (kappa of the class means) of the last layer the
    classifier reads (Z_{L-1}, measured in float64) and of the first linear layer (Z_{L1+1},
    from the engine's last layer log; at L2 = 1 it is the output), kappa(W_L) against
    c3^(1/L2), the verdicts of the ``sec5.balanced_head`` claim and the NC2 bound's slack and
    informativeness; then Theorem 3.1's regime per cell. L2 = 1 is the paper's baseline but
    outside Theorem 3.1 and Section 5 (their checks are vacuous there). The paper's claim "NC2
    is more prominent as the depth of the linear head increases" is read, per weight decay, as:
    the median NC2 of Z_{L-1} decreases with L2; the table also gives, per pair of depths, the
    share of seeds on which it decreased (the same seed initialises networks of different
    depths, so pairs are matched by seed only).

    The paper reports (Figure 2, top, of the camera-ready: an MLP with 5 non-linear layers on
    MNIST, linear depth 1..5, weight decay 0.001 and 0.004): NC2 more prominent as the head
    deepens, with overlapping bands. We measured (the embedded MNIST sample, N = 200, lambda =
    0.2 and 0.8, eta = 1.5e-4, 28000 steps, 5 seeds, 23 min 17 s on 2 CPU cores): seen at both
    weight decays and on every seed at every step of depth: the median NC2 of Z_{L-1} is 4.41,
    2.17, 1.75, 1.64, 1.54 (lambda = 0.2) and 2.89, 1.94, 1.66, 1.55, 1.44 (lambda = 0.8) for
    L2 = 1..5; the first linear layer's NC2 rises instead (2.2 to 4.2 for L2 = 2..5); NC1 of
    Z_{L-1} falls with depth at lambda = 0.2 (0.064 to 6e-4) and stays near 0.002 at 0.8.

    resnet_head_depth: Figure 5 of the paper, the same questions with a ResNet20 backbone
    instead of ReLU layers (the head's input is the pooled backbone output). Its full mode is
    sized for the 2-core CPU (half-width ResNet20, 50 images, 2 seeds, 1800 steps: 29 min 59 s);
    we measured NC2 of the classifier's input 19.8, 11.4, 6.1, 3.8, 11.1 at L2 = 1..5 (medians
    over 2 seeds; the deepest head is the least fitted after 1800 steps), and with
    --set steps=2400 15.3, 8.5, 4.0, 3.2, 3.5. The paper reports (Figure 5, appendix: ResNet20
    on MNIST, linear depth varied; Figure 2, bottom, of the camera-ready: the same on CIFAR-10,
    1..6 linear layers, weight decay 0.001, learning rate 0.001): NC2 more prominent with a
    deeper head. With ``--set 'dataset="cifar10"' --set 'data_dir="DIR"'`` and local CIFAR-10
    pickles the same sweep runs Figure 2, bottom.
    """
    decay = {r["cell"]: r["config"]["weight_decay"] for r in results.read_cells(directory)}
    runs, checks = results.load_runs(directory), results.load(directory)
    runs["weight_decay"] = runs["cell"].map(decay)  # also where it is fixed, not a grid axis
    checks["weight_decay"] = checks["cell"].map(decay)
    medians = _head_depth_medians(runs, checks, directory)
    trained = runs[runs["diverged_step"].isna()]
    trends = [
        line
        for decay in sorted(trained["weight_decay"].unique())
        for line in _nc2_trend(trained, medians, decay)
    ]
    return "\n".join(
        [
            "Per weight decay lambda and head depth L2: medians over the runs that did not "
            "diverge (last = Z_{L-1}, the classifier's input; first linear = Z_{L1+1}; NC1 = "
            "tr S_W / tr S_B, NC2 = kappa of the class means; kappa(W_L) against c3^(1/L2))",
            medians.rename_axis(["lambda", "L2"]).to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            *trends,
            "",
            regime_table(directory),
        ]
    )


# ------------------------------------------------------------------------------ learning rate

EDGE = "jacot2025.sec5_2.edge_of_stability"


def learning_rate_table(directory: Path) -> str:
    """The answer of ``nc-jax sweep jacot2025/learning_rate`` as text: Section 5.2 of Jacot et
    al. (ICLR 2025) as a sweep, how close does GD get to the edge of stability
    (eta lambda_max(NTK) -> 2) before it diverges, and what do the Section 5.2 bound and the
    Section 4 balancing claim say there?

    The default network, 32 seeds per learning rate. Per learning rate: the divergence rate,
    the median and largest eta lambda_max(NTK) of the trained networks (lambda_max by a
    converged Lanczos iteration), the median head conditioning c3, the
    ``sec5_2.edge_of_stability`` verdicts (holds / violated / vacuous), how many of its bounds
    beat the untrained network's c3 (informative), and the ``sec4.balancing`` claim's verdicts.
    """
    runs = results.load_runs(directory)
    checks = results.load(directory)
    trained = runs[runs["diverged_step"].isna()]
    table = pd.DataFrame(
        {
            "runs": runs.groupby("learning_rate").size(),
            "diverged": runs.groupby("learning_rate")["diverged_step"].count(),
        }
    )
    table["divergence rate"] = (table["diverged"] / table["runs"]).map(lambda v: f"{v:.0%}")
    grouped = trained.groupby("learning_rate")
    table["eta lambda_max median"] = grouped["stability_product"].median()
    table["eta lambda_max max"] = grouped["stability_product"].max()
    table["c3 median"] = grouped["kappa_head"].median()
    table["eps1 median"] = grouped["eps1"].median()
    table["eps2 median"] = grouped["eps2"].median()
    edge = checks[checks["check"] == EDGE]
    table["EoS bound h/v/vac"] = results.verdict_counts(checks, EDGE, "learning_rate")
    table["EoS slack median"] = (
        edge[edge["verdict"] != "vacuous"].groupby("learning_rate")["slack"].median()
    )
    table["EoS informative"] = edge.groupby("learning_rate")["informative"].apply(
        lambda f: int(f.fillna(False).sum())
    )
    table["balancing claim h/v/vac"] = results.verdict_counts(
        checks, "jacot2025.sec4.balancing", "learning_rate"
    )
    return "\n".join(
        [
            "Per learning rate (eta lambda_max: the trained networks' stability product; "
            "GD is stable below 2)",
            table.to_string(float_format=lambda v: f"{v:.4g}"),
        ]
    )


# ------------------------------------------------------------------------------ non-linear depth


def _nonlinear_depth(config: dict) -> int:
    """L1 of a cell's setting: its layers minus its linear head."""
    return len(config["widths"]) - config["num_linear"]


def nonlinear_layer_summaries(directory: Path) -> pd.DataFrame:
    """One row per trained run: its learning rate, L1 and the mean / min negativity and
    relative balancedness of its non-linear part at the last log."""
    rows = []
    for record in results.read_cells(directory):
        arrays = results.read_arrays(directory, record["cell"])
        depth = _nonlinear_depth(record["config"])
        negativity = np.asarray(arrays["layer/negativity"])[:, -1, :depth]
        balance = np.asarray(arrays["layer/relative_balancedness"])[:, -1, : depth - 1]
        rates = {run["index"]: run["params"]["learning_rate"] for run in record["runs"]}
        for run, trained in enumerate(arrays["diverged"][:, -1] == 0):
            if not trained:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                rows.append(
                    {
                        "learning_rate": rates[run],
                        "L1": depth,
                        "negativity mean": np.nanmean(negativity[run]),
                        "negativity min": np.nanmin(negativity[run]),
                        "balancedness mean": np.nanmean(balance[run]),
                        "balancedness min": np.nanmin(balance[run]),
                    }
                )
    return pd.DataFrame(rows)


def nonlinear_depth_table(directory: Path) -> str:
    """The answer of ``nc-jax sweep jacot2025/nonlinear_depth`` as text: Figure 3 of Jacot et
    al. (ICLR 2025) on real MNIST, do the ReLU layers become more linear (less negative) and
    more balanced as the non-linear part deepens?

    L1 = 4, 6, .., 12 ReLU layers, an L2 = 3 linear head, weight decay 0.016 / L per sample, the
    paper's two learning rates, 4 seeds. From the layer metrics the engine logged at the end of
    training, per learning rate and L1 and over the runs that did not diverge: the mean and the
    smallest negativity ||min(H_l, 0)||_op / ||H_l||_op of the ReLU layers, and the mean and
    smallest relative balancedness ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op /
    max(||W_l||, ||W_{l+1}||)^2 of the pairs inside the non-linear part (l = 1..L1-1; the
    scale-free form, since the paper's normalisation is not known to us); then Theorem 3.1's
    regime per cell. The paper's claim is read as: both means decrease as L1 grows.

    The paper reports (Figure 3 of the camera-ready: MLPs on MNIST of non-linear depth 4..12,
    learning rate 0.001 and 0.002, weight decay 0.016 / L): the ReLU layers less negative and
    more balanced as the non-linear part deepens. We measured (the embedded MNIST sample,
    N = 200, lambda = 0.016 N / L, eta = 7.5e-5 and 1.5e-4, 24000 steps, 4 seeds, 17 min 4 s on
    2 CPU cores): not seen; both means rise with depth instead. Mean negativity 0.61, 0.60,
    0.62, 0.64, 0.65 (eta = 7.5e-5) and 0.40, 0.41, 0.45, 0.52, 0.49 (1.5e-4) for L1 = 4..12;
    mean relative balancedness 0.78 to 0.81 and 0.51 to 0.71. These networks stop at
    eta lambda t = 0.38 to 1.6 (eps2 0.43 to 1.23; the deeper ones get the smaller weight
    decay), while the paper speaks of converged networks: the trend of a training budget, not a
    refutation.
    """
    runs = results.load_runs(directory)
    depths = {r["cell"]: _nonlinear_depth(r["config"]) for r in results.read_cells(directory)}
    runs["L1"] = runs["cell"].map(depths)
    keys = ["learning_rate", "L1"]
    summaries = nonlinear_layer_summaries(directory)
    table = summaries.groupby(keys).median()
    table.insert(0, "trained", summaries.groupby(keys).size())
    table.insert(0, "runs", runs.groupby(keys).size())
    claims = []
    for rate, rows in table.groupby(level="learning_rate"):
        means = rows[["negativity mean", "balancedness mean"]]
        trends = {
            name: "decreasing"
            if bool((np.diff(means[name].to_numpy()) < 0).all())
            else "not monotone"
            for name in means.columns
        }
        claims.append(
            f"learning rate {rate:g}: claim 'deeper non-linear part: ReLU layers less negative "
            "and more balanced': " + ", ".join(f"{name} {trend}" for name, trend in trends.items())
        )
    return "\n".join(
        [
            "Per learning rate and non-linear depth L1: medians over the trained runs of the "
            "non-linear part's negativity and relative balancedness at the end of training",
            table.to_string(float_format=lambda v: f"{v:.4g}"),
            "",
            *claims,
            "",
            regime_table(directory),
        ]
    )


# ------------------------------------------------------------------------------ regime atlas

ATLAS_CHECKS = (
    "within_mass",
    "nc1",
    "nc2",
    "nc3",
    "nc2_c3",
    "nc3_c3",
    "head_to_last",
    "head_to_last_composite",
)
ATLAS_GROUP = ["dataset", "n_per_class", "n1", "steps"]


def atlas_cells(directory: Path) -> pd.DataFrame:
    """``atlas.atlas_frame`` with the first-layer width n1 in place of the widths."""
    from theorems.jacot2025 import atlas

    frame = atlas.atlas_frame(directory)
    frame.insert(2, "n1", frame.pop("widths").map(lambda w: w[0]))
    return frame


def where_informative(frame: pd.DataFrame) -> pd.DataFrame:
    """Per Theorem 3.1 check: cells where it is informative on at least half of the runs,
    cells where it applies but is not, and the fit eps1 / s_K(Y) that separates them."""
    rows = []
    for check in ATLAS_CHECKS:
        if check not in frame:
            continue
        shares = frame[check].map(_share)
        informative = frame[shares >= 0.5]
        applies = frame[(shares < 0.5) & (frame[check] != "vacuous")]
        rows.append(
            {
                "check": check,
                "informative cells": len(informative),
                "applies, not informative": len(applies),
                "vacuous cells": int((frame[check] == "vacuous").sum()),
                "largest eps1/s_K(Y) informative": informative["eps1/s_K(Y)"].max(),
                "smallest eps1/s_K(Y) not informative": applies["eps1/s_K(Y)"].min(),
            }
        )
    return pd.DataFrame(rows)


def _share(text: str) -> float:
    """'3/4' -> 0.75; 'vacuous' -> NaN."""
    if not isinstance(text, str) or "/" not in text:
        return np.nan
    informative, applies = (int(part) for part in text.split("/"))
    return informative / applies


def atlas_tables(directory: Path) -> str:
    """The answer of ``nc-jax sweep jacot2025/regime_atlas`` as text: the regime atlas of
    Jacot et al. (ICLR 2025), Theorem 3.1, where does each bound become informative, which
    hypothesis fails first where it does not, by what factor is Section 4's condition (11)
    conservative, and at what rate does each bound follow its measurement?

    The grid sweeps data, N, first width n1, weight decay and training time
    (theorems.jacot2025.atlas computes what is printed); four tables:

    1. per cell: eps1 / s_K(Y), eps2, r, the two terms of Psi (fit r eps1 / (s_K(Y) - eps1)
       and balance r sqrt(n_{L-1} eps2)) and the larger, the share of runs holding each
       hypothesis in the atlas' order (eps1 < s_K(Y), H4, (11), n1 >= N, stable GD,
       s_K(A)^2 > e, converged), the first failing one, and per Theorem 3.1 check
       'informative/applicable runs';
    2. per check, where it speaks: the cells where it is informative on most runs, and the
       largest eps1 / s_K(Y) among them against the smallest among the cells where it applies
       but is not;
    3. per (data, N, n1, steps), the largest weight decay that still reaches H1-H4 against the
       one condition (11) allows, and their ratio;
    4. the log-log fits of measured against bound over the runs where each bound applies
       (converged runs and all), with a 95% interval on the slope, and eps1 against lambda.

    The atlas figures (heatmaps): ``nc-jax plot DIR --x weight_decay --y steps``.
    """
    from theorems.jacot2025 import atlas

    frame = atlas_cells(directory)
    runs = atlas.trained_runs(directory)
    runs["n1"] = runs["n1"].astype(int)
    factor = atlas.condition_11_factor(runs, ATLAS_GROUP)
    with pd.option_context("display.width", 250, "display.max_columns", 60):
        return "\n\n".join(
            [
                "Per cell (medians over the trained runs; hypothesis columns: share of runs "
                "where it holds; a check's column: informative / applicable runs):\n"
                + frame.to_string(index=False, float_format=lambda v: f"{v:.3g}"),
                "Where each Theorem 3.1 bound speaks (a cell counts as informative when at "
                "least half of its runs are):\n"
                + where_informative(frame).to_string(index=False, float_format="{:.3g}".format),
                "Condition (11) against the weight decays that reach H1-H4 (eps1 < s_K(Y) and "
                "H4 on most runs):\n" + factor.to_string(index=False, float_format="{:.3g}".format),
                "Rates: log(measured) = a + b log(bound) over the runs where the bound applies "
                f"({atlas.RATE_CONFIDENCE:.0%} interval on b; constant = exp(a)):\n"
                + atlas.rate_table(directory).to_string(index=False, float_format="{:.3g}".format),
            ]
        )


TABLES: dict[str, Callable[[Path], str]] = {
    "width": width_table,
    "deep_mlp": deep_mlp_table,
    "head_depth": head_depth_table,
    "resnet_head_depth": head_depth_table,
    "learning_rate": learning_rate_table,
    "nonlinear_depth": nonlinear_depth_table,
    "regime_atlas": atlas_tables,
}
