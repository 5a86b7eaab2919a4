"""Súkeník, Mondelli, Lampert (NeurIPS 2024), the real-data run in kind: does a ResNet20 with a
deep ReLU head, trained with DUFM-like regularisation, end at deep neural collapse or below it
with low-rank head layers?

    python experiments/sukenik2024_resnet.py --set 'data_dir="DIR"' [--out DIR] [--set ...]
    python experiments/sukenik2024_resnet.py --quick      # digits as 8x8 images
    python experiments/sukenik2024_resnet.py --table DIR  # the tables of a finished run

A thin script over ``nc-jax sweep sukenik2024/resnet`` (ResNet20 + a
4-layer head of width 64, weight decay 0.005, lambda_H1 = 5e-6 on the backbone's output,
learning rate 0.05, 5 seeds, local CIFAR-10 pickles). Every check reads the network's DUFM view:
H_1 = the pooled backbone features of the training images, W_l = the head's weights; its B2
objective is compared with the closed-form DNC and SRG losses of the 4-DUFM with the same
lambdas and N. It prints, per run, found / DNC, the fractions below and at DNC, every head
layer's class-mean rank before and after the ReLU and its DNC1.

The paper reports (figure captions, docs/theory/sukenik2024.md): on CIFAR-10 the trained head is
not at
DNC; its class means have low rank in the intermediate layers, as in the DUFM. We have not
measured the full mode: it needs CIFAR-10 files and an accelerator (20000 full-batch steps of
ResNet20 on 5000 images per seed), neither of which the 2-core development machine has; the
quick mode on 20 digits images checks only that the pipeline runs (its numbers say nothing).
"""

from __future__ import annotations

import sys
from pathlib import Path

from nc_jax import experiment, sweep
from nc_jax.sweep import grid_path

GRID = grid_path("sukenik2024_resnet")


def resnet_table(directory: Path) -> str:
    """Per run: found / DNC (the largest DUFM-view objective on the final float64 orbit over
    L_DNC), whether it is below DNC or at DNC, the class-mean rank of every head layer H_l
    before (l >= 2) and after its ReLU, and DNC1 of every layer."""
    runs = sweep.load_runs(directory)
    trained = runs[runs["diverged_step"].isna()]
    depth = int(trained["L"].max()) if len(trained) else 0
    columns = ["seed", "L_DNC", "srg_ratio", "ratio_orbit_max", "below_dnc", "reached_dnc"]
    columns.append("drift")
    for layer in range(1, depth + 1):
        columns += [f"rank_pre_{layer}", f"rank_post_{layer}"]
    columns += [f"dnc1_{layer}" for layer in range(1, depth + 1)]
    present = [c for c in columns if c in trained]
    table = trained[present].rename(
        columns={"srg_ratio": "L_SRG/L_DNC", "ratio_orbit_max": "found/DNC"}
    )
    return "\n".join(
        [
            f"Per run ({len(runs) - len(trained)} of {len(runs)} diverged): the DUFM view's "
            "objective against the 4-DUFM closed forms, class-mean ranks (pre / post ReLU) and "
            "DNC1 of every head layer",
            table.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    summary = __doc__.split("\n\n")[0]
    return experiment.main(GRID, resnet_table, argv, summary, "results/sukenik2024_resnet")


if __name__ == "__main__":
    sys.exit(main())
