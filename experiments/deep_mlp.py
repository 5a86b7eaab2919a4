"""Figure 1 of Jacot et al. (ICLR 2025) on real MNIST: NC1, NC2, balancedness and negativity of
every layer of a 9-layer MLP (5 ReLU layers, a linear head of 4), and the class-mean matrices of
the head.

    python experiments/deep_mlp.py [--quick | --paper-scale] [--out DIR] [--set KEY=VALUE ...]
    python experiments/deep_mlp.py --table DIR      # the table of a finished run

A thin script over ``nc-jax sweep jacot2025/deep_mlp`` (one cell, 5 seeds;
the grid file says how the paper's weight decay and learning rate map to our summed loss). From
the layer metrics the engine logged, per layer l = 1..L at the end of training: the mean and
standard deviation over the trained seeds of NC1 (tr S_W / tr S_B), NC2 (kappa of the class
means), the balancedness ||W_{l+1}^T W_{l+1} - W_l W_l^T||_op and its scale-free form (divided by
max(||W_l||, ||W_{l+1}||)^2) and the negativity of the ReLU layers; and per layer of the head the
mean |off-diagonal cosine| of its class means (0 for an orthogonal frame). The paper's statements
read as claims on these numbers: "the final linear layers are balanced at convergence" (the
median relative balancedness of the head pairs at least 10 times below that of the ReLU pairs
and below its own value at initialisation; the factor is ours),
and NC1 and NC2 fall through the linear head (the means decrease from Z_{L1} to Z_{L-1}).
`nc-jax plot DIR` draws the per-layer profile and the class-mean matrices.

The paper reports (Figure 1 of arXiv v1, Figure 4 of the camera-ready: a 9-layer MLP on MNIST,
weight decay 0.0018, learning rate 0.001, 5 runs): NC1 and NC2 falling through the last layers,
balanced linear layers, and the class-mean matrices of the head turning diagonal. We measured
(the embedded MNIST sample, N = 200, full-batch GD, lambda = 0.36 = 0.0018 N, eta = 1.5e-4,
48000 steps, 5 seeds, 5 min 17 s on 2 CPU cores): all three. NC1 falls at every layer (0.52 at
layer 1 to 7e-4 at the output), NC2 falls through the head (4.9 at Z_5 to 1.5 at Z_8, 1.01 at
the output) after rising inside the ReLU part (31 at layer 3), the relative balancedness of the
head pairs is 0.02 (0.86 at initialisation, 0.29 for the ReLU pairs), and the mean |off-diagonal
cosine| of the class means falls from 0.40 (Z_5) to 0.07 (Z_8). Theorem 3.1 on these networks:
eps1 / s_K(Y) = 0.086, eps2 = 0.021; the within-class mass, NC2 and NC3 bounds are informative on
5 of 5 runs, the NC1 bound on none (it is above the untrained NC1); the two head bounds are
vacuous (s_K of the head product, squared, does not exceed the telescoping error e).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nc_jax import experiment, plots, results
from nc_jax.sweep import grid_path
from theorems.jacot2025.regime import regime_table

GRID = grid_path("jacot2025_deep_mlp")
BALANCED_FACTOR = 0.1  # "balanced": 10 times below the ReLU pairs and the initialisation
COLUMNS = {
    "layer/nc1_trace_ratio": "NC1",
    "layer/nc2_kappa": "NC2",
    "layer/balancedness": "balancedness",
    "layer/relative_balancedness": "rel. balancedness",
    "layer/negativity": "negativity",
}


def layer_table(directory: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per layer (rows 1..L) "mean ± std" of every metric of COLUMNS at the last log over the
    trained runs of the first cell, the head's mean |off-diagonal class-mean cosine|; and the
    numbers the claims read (medians of the relative balancedness of the head pairs at the
    first and last log and of the ReLU pairs at the last log; L1)."""
    record = results.read_cells(directory)[0]
    arrays = results.read_arrays(directory, record["cell"])
    trained = arrays["diverged"][:, -1] == 0
    depth = len(record["config"]["widths"])
    first = depth - record["config"]["num_linear"]  # L1
    table = pd.DataFrame(index=pd.RangeIndex(1, depth + 1, name="layer"))
    table["kind"] = ["ReLU" if layer <= first else "linear" for layer in table.index]
    for key, name in COLUMNS.items():
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
    """The answer of the deep-MLP run as text (see the module docstring)."""
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


def main(argv: list[str] | None = None) -> int:
    return experiment.main(GRID, deep_mlp_table, argv, __doc__.split("\n\n")[0], "results/deep_mlp")


if __name__ == "__main__":
    sys.exit(main())
