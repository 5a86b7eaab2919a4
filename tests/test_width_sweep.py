"""jacot2025/width --quick as experiments/width_sweep.py runs it (with 2 seeds and 2 of its 4
widths, to keep CI short): 4 networks over 2 first-layer widths, either side of N, trained,
checked, written and summarised as the table that answers the width sweep's question
(theorems.jacot2025.tables.width_table)."""

from __future__ import annotations

from fixtures import verdict_status

from nc_jax import experiment, sweep


def _sweep(*argv):
    return experiment.main("jacot2025/width", list(argv), "", "results/width_sweep")


def test_quick_width_sweep_trains_every_width_and_prints_the_answer(tmp_path, capsys):
    fewer = ["seeds=[[0, 1]]", "widths=[[16, 16, 16, 16, 10], [64, 16, 16, 16, 10]]"]
    overrides = [flag for text in fewer for flag in ("--set", text)]
    assert _sweep("--quick", *overrides, "--out", str(tmp_path)) == verdict_status(str(tmp_path))
    out = capsys.readouterr().out
    runs = sweep.load_runs(tmp_path)
    assert len(runs) == 4 and runs["widths"].map(lambda w: w[0]).nunique() == 2
    table = sweep.load(tmp_path)
    assert len(table) == len(runs) * len(sweep.get_paper("jacot2025").theorems)
    for text in ("eps1<s_K(Y)", "n1>=N", "within_mass", "Where each hypothesis holds"):
        assert text in out
    assert "n1>=N: n1 = 64; not at 16 (0%)" in out  # N = 50 in the quick grid
    assert _sweep("--table", str(tmp_path)) == verdict_status(tmp_path)
    assert _sweep("--table", str(tmp_path / "missing")) == 2
