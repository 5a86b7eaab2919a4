"""nc-jax plot: every file is written, and the plotted values (read back from the figure's
artists) equal the stored ones (recomputed here from the raw cell records with NumPy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nc_jax import plots, results
from nc_jax.cli import main as cli_main


def _raw(directory, key):
    """size -> the stored values of ``key`` of every non-vacuous run (from the JSON lines)."""
    by_size = {}
    for record in results.read_cells(directory):
        for check in record["checks"]:
            if check["verdict"] != "vacuous":
                by_size.setdefault(record["config"]["size"], []).append(check[key])
    return by_size


def test_bound_vs_axis_draws_the_stored_medians_violations_and_vacuous_regions(toy_sweep):
    table = results.load(toy_sweep)
    fig = plots.bound_vs_axis_figure(table, "size")
    (ax,) = [a for a in fig.axes if a.get_visible()]
    bound, measured, trivial = ax.get_lines()[:3]
    bounds, values, references = (_raw(toy_sweep, k) for k in ("bound", "measured", "trivial"))
    assert list(bound.get_xdata()) == [10.0, 20.0]  # size 40: every run diverged
    np.testing.assert_allclose(bound.get_ydata(), [np.median(bounds[s]) for s in (10, 20)])
    np.testing.assert_allclose(measured.get_ydata(), [np.median(values[s]) for s in (10, 20)])
    np.testing.assert_allclose(trivial.get_ydata(), [np.median(references[s]) for s in (10, 20)])
    (violated,) = ax.collections[1:2]  # after the band: the violated runs, all at size 20
    assert set(violated.get_offsets()[:, 0]) == {20.0} and len(violated.get_offsets()) == 6
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["vacuous: the run trained without diverging"]


def test_tightness_atlas_holds_the_median_slack_per_grid_point(toy_sweep):
    table = results.load(toy_sweep)
    fig = plots.tightness_atlas_figure(table, "size", "scale")
    image = fig.axes[0].get_images()[0].get_array()
    slack = {}
    for record in results.read_cells(toy_sweep):
        point = (record["config"]["scale"], record["config"]["size"])
        slack[point] = [c["slack"] for c in record["checks"] if c["verdict"] != "vacuous"]
    for row, scale in enumerate([1.0, 2.0]):
        for column, size in enumerate([10, 20]):
            assert image[row, column] == pytest.approx(np.log10(np.median(slack[scale, size])))
        assert np.ma.is_masked(image[row, 2]) or np.isnan(image[row, 2])  # all vacuous
    assert [t.get_text() for t in fig.axes[0].texts].count("vac") == 2


def test_command_writes_png_and_pdf_and_names_bad_axes(toy_sweep, capsys):
    assert cli_main(["plot", str(toy_sweep), "--x", "size", "--y", "scale"]) == 0
    written = capsys.readouterr().out.split()
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == [
        "bound_vs_size.pdf",
        "bound_vs_size.png",
        "regime_size_scale.pdf",
        "regime_size_scale.png",
        "tightness_size_scale.pdf",
        "tightness_size_scale.png",
        "training_curves.pdf",  # the toy paper stores a curve per run
        "training_curves.png",
    ]
    for path in written:
        assert (toy_sweep / "plots" / path.rsplit("/", 1)[-1]).stat().st_size > 1000
    assert cli_main(["plot", str(toy_sweep), "--x", "colour"]) == 2
    assert "--x/--y colour: no such column" in capsys.readouterr().err
    assert cli_main(["plot", str(toy_sweep / "missing")]) == 2
    assert cli_main(["plot", str(toy_sweep), "--only", "toy", "--out", str(toy_sweep / "o")]) == 0
    assert cli_main(["plot", str(toy_sweep), "--only", "toy.mean"]) == 2  # a prefix ends at a dot
    assert "--only toy.mean matches no stored check; stored: ['toy.mean_abs']" in (
        capsys.readouterr().err
    )


def test_only_keeps_the_checks_named_by_id_or_by_a_prefix_ending_before_a_dot():
    table = pd.DataFrame({"check": ["p.a.x", "p.a.y", "p.ab", "p.b"], "slack": [1, 2, 3, 4]})
    assert list(plots.only_checks(table, ["p.a"])["check"]) == ["p.a.x", "p.a.y"]
    assert list(plots.only_checks(table, ["p.ab", "p.b"])["slack"]) == [3, 4]
    assert plots.only_checks(table, []) is table


def test_indexed_axes_read_an_element_of_a_list_column():
    import pandas as pd

    table = pd.DataFrame({"widths": [(32, 8, 10), (64, 8, 10)], "check": ["a", "a"]})
    assert list(plots.axis_values(table, "widths[0]")) == [32, 64]
    assert list(plots.axis_values(table, "widths[-1]")) == [10, 10]
    assert list(plots.axis_values(table, "len(widths)")) == [3, 3]
    assert plots.default_axis(table, ["widths"]) == "widths[0]"  # the element that varies
    deeper = pd.DataFrame({"widths": [(32, 10), (32, 8, 10)], "check": ["a", "a"]})
    assert plots.default_axis(deeper, ["widths"]) == "len(widths)"
    assert plots.default_axis(deeper, []) == "seed"


def _synthetic(directory, rng):
    """Two cells (size 10, 20) of 3 runs with logged layer metrics (4 logs, 5 layers; the last
    layer's balancedness NaN as the engine writes it) and one curve; every run reports L1 = 2."""
    results.write_grid(directory, {"paper": "toy", "fixed": {}, "axes": {"size": [10, 20]}})
    runs = [
        {"index": i, "label": f"r{i}", "params": {"seed": i}, "quantities": {"L1": 2.0},
         "diverged_step": None}
        for i in range(3)
    ]  # fmt: skip
    stored = {}
    for index, size in enumerate((10, 20)):
        balancedness = rng.uniform(0.01, 1.0, (3, 4, 5))
        balancedness[:, :, -1] = np.nan
        arrays = {
            "layer/nc1_trace_ratio": rng.uniform(0.1, 1.0, (3, 4, 5)),
            "layer/balancedness": balancedness,
            "step": np.tile(np.arange(4) * 10, (3, 1)),
            "curve/eps2": rng.uniform(1.0, 2.0, (3, 4)),
            "gram/layer 4": rng.uniform(-1.0, 1.0, (3, 2, 2)),
        }
        record = {"cell": f"c{index}", "index": index, "paper": "toy", "config": {"size": size},
                  "point": {"size": size}, "runs": runs, "checks": [], "theorems": {},
                  "wall_time_s": 1.0}  # fmt: skip
        results.write_cell(directory, record, arrays)
        stored[size] = arrays
    return stored


def test_layer_profile_draws_each_cells_mean_at_the_last_log_and_shades_the_head(tmp_path):
    stored = _synthetic(tmp_path, np.random.default_rng(0))
    fig = plots.layer_profile_figure(tmp_path)
    nc1_panel, balance_panel = fig.axes[:2]
    for line, size in zip(nc1_panel.get_lines(), (10, 20)):
        final = stored[size]["layer/nc1_trace_ratio"][:, -1, :]
        np.testing.assert_allclose(line.get_ydata(), final.sum(0) / 3)
        assert list(line.get_xdata()) == [1, 2, 3, 4, 5]
        assert line.get_label() == f"size={size}"
    last = balance_panel.get_lines()[0].get_ydata()
    assert np.isnan(last[-1]) and np.isfinite(last[:-1]).all()  # undefined, not invented
    (shade,) = [p for p in nc1_panel.patches if p.get_alpha() == 0.12]
    assert shade.get_x() == pytest.approx(2.5)  # the linear head starts at layer L1 + 1 = 3


def test_training_curves_draw_the_median_over_runs_against_the_step(tmp_path):
    stored = _synthetic(tmp_path, np.random.default_rng(1))
    fig = plots.training_curves_figure(tmp_path)
    for ax, size in zip(fig.axes, (10, 20)):
        (line,) = ax.get_lines()
        np.testing.assert_allclose(line.get_ydata(), np.sort(stored[size]["curve/eps2"], 0)[1])
        assert list(line.get_xdata()) == [0, 10, 20, 30] and ax.get_title() == f"size={size}"
    assert plots.plot_directory(tmp_path, None, None, None) == [
        tmp_path / "plots" / "head_layers_vs_size.png",
        tmp_path / "plots" / "head_layers_vs_size.pdf",
        tmp_path / "plots" / "layers.png",
        tmp_path / "plots" / "layers.pdf",
        tmp_path / "plots" / "class_means.png",
        tmp_path / "plots" / "class_means.pdf",
        tmp_path / "plots" / "training_curves.png",
        tmp_path / "plots" / "training_curves.pdf",
    ]


def test_class_means_show_the_first_cells_mean_cosine_matrix(tmp_path):
    stored = _synthetic(tmp_path, np.random.default_rng(2))
    fig = plots.class_means_figure(tmp_path)
    image = fig.axes[0].get_images()[0]
    np.testing.assert_allclose(image.get_array(), stored[10]["gram/layer 4"].sum(0) / 3)
    assert image.get_clim() == (-1, 1) and "layer 4" in fig.axes[0].get_title()


def test_head_layers_draw_the_median_of_the_first_linear_layer_and_the_classifier_input(tmp_path):
    """Figure 2 in kind: NC1 at Z_{L1+1} (layer index L1 = 2) and at Z_{L-1} (index -2) at the
    last log, median over the runs per axis value, the range as a band."""
    stored = _synthetic(tmp_path, np.random.default_rng(3))
    fig = plots.head_layers_figure(tmp_path, "size")
    first, last = fig.axes[0].get_lines()
    for line, layer in ((first, 2), (last, -2)):
        assert list(line.get_xdata()) == [10, 20]
        expected = [np.median(stored[s]["layer/nc1_trace_ratio"][:, -1, layer]) for s in (10, 20)]
        np.testing.assert_allclose(line.get_ydata(), expected)
    assert "Z_{L1+1}" in first.get_label() and "Z_{L-1}" in last.get_label()
    assert not fig.axes[1].get_lines()  # NC2 was not logged: an empty panel, nothing invented


def test_head_layers_by_a_second_axis_draw_one_line_per_value(tmp_path):
    """With ``by`` (the paper's two weight decays in Figure 2), one line per layer and value of
    that axis, each the median over that value's runs only."""
    stored = _synthetic(tmp_path, np.random.default_rng(3))
    fig = plots.head_layers_figure(tmp_path, "size", by="seed")
    lines = fig.axes[0].get_lines()
    values = plots.head_layer_values(tmp_path, "size", by="seed")
    seeds = sorted(values["_by"].unique())
    assert len(lines) == 2 * len(seeds) and len(seeds) > 1
    assert {line.get_linestyle() for line in lines} == set(plots.LINE_STYLES[: len(seeds)])
    for line, seed in zip(lines, seeds):  # the first linear layer (index L1 = 2), seed by seed
        assert line.get_label().endswith(f"seed = {seed:g}")
        assert list(line.get_xdata()) == [10, 20]
        expected = [stored[size]["layer/nc1_trace_ratio"][seed, -1, 2] for size in (10, 20)]
        np.testing.assert_allclose(line.get_ydata(), expected)


def test_an_axis_spanning_decades_is_logarithmic_with_every_position_inside_the_limits():
    """widths 32..2048: the x axis is log and its limits stay positive around every position
    (a linear margin of 5% of the range put the left limit below zero: an empty panel)."""
    import pandas as pd

    widths = [32, 64, 256, 2048]
    table = pd.DataFrame(
        {"n1": widths, "check": "p.c", "kind": "consequence", "relation": "<=",
         "verdict": "holds", "bound": 2.0, "measured": 1.0, "trivial": 3.0, "failing": ""}
    )  # fmt: skip
    (ax,) = plots.bound_vs_axis_figure(table, "n1").axes
    low, high = ax.get_xlim()
    assert ax.get_xscale() == "log" and 0 < low < 32 and high > 2048
    assert list(ax.get_lines()[1].get_xdata()) == widths


def test_an_axis_from_zero_spanning_decades_is_symlog_linear_below_its_smallest_positive_value():
    """weight decays 0, 1e-3, ..., 0.1: on a linear axis the small values crowd at 0."""
    import pandas as pd

    decays = [0.0, 0.001, 0.01, 0.1]
    table = pd.DataFrame(
        {"wd": decays, "check": "p.c", "kind": "claim", "relation": "<=", "verdict": "holds",
         "bound": 2.0, "measured": 1.0, "trivial": float("nan"), "failing": ""}
    )  # fmt: skip
    (ax,) = plots.bound_vs_axis_figure(table, "wd").axes
    low, high = ax.get_xlim()
    assert ax.get_xscale() == "symlog" and ax.xaxis.get_transform().linthresh == 0.001
    assert low < 0 < 0.001 and high > 0.1
    assert plots.x_scale([0.0, 1.0, 2.0]) == ("linear", pytest.approx(float("nan"), nan_ok=True))
    assert plots.x_scale([1.0, 100.0])[0] == "log" and plots.x_scale([0.0, 0.5])[0] == "linear"


def test_legend_labels_are_short_whatever_the_grid_values():
    """Long floats (0.016 N / L) and long width lists made the legend wider than the figure."""
    assert plots._axis_label(0.45714285714285713) == "0.4571"
    assert plots._axis_label([256, 64, 64, 64, 64, 10]) == "[256, 64 x 4, 10]"
    assert plots._axis_label(3) == "3" and plots._axis_label("mnist5k") == "mnist5k"


def _rows(verdicts, informative, failing):
    return pd.DataFrame({"verdict": verdicts, "informative": informative, "failing": failing})


def test_regime_category_reads_informative_holding_and_the_first_failing_hypothesis():
    holds = ["holds"] * 3
    assert plots.regime_category(_rows(holds, [True, True, False], [""] * 3)) == (
        plots.INFORMATIVE,
        "2/3",
    )
    assert plots.regime_category(_rows(holds, [True, False, False], [""] * 3)) == (
        plots.UNINFORMATIVE,
        "1/3",
    )
    assert plots.regime_category(_rows(holds, [None] * 3, [""] * 3)) == (plots.HOLDS, "3/3")
    vacuous = _rows(["vacuous"] * 3, [None] * 3, ["a; b", "b", "a"])
    assert plots.regime_category(vacuous) == ("a", "")  # listed first twice, b once


def test_regime_map_marks_each_grid_point_with_its_regime(toy_sweep):
    table = results.load(toy_sweep)
    fig = plots.regime_map_figure(table, "size", "scale")
    ax = fig.axes[0]
    image = ax.get_images()[0].get_array()
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 6 and labels.count("h1") == 2  # 2 scales x 3 sizes; size 40 coded
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    diverged = legend.index("h1: fails first: the run trained without diverging")
    assert all(image[row, 2] == diverged for row in range(2))  # size 40: every run diverged
    assert image[0, 0] != diverged and image[0, 1] != diverged


def test_atlas_rows_split_by_an_axis_that_varies_at_one_point_only():
    table = pd.DataFrame(
        {
            "x": [1, 1, 2, 2],
            "y": [0, 0, 0, 0],
            "data": ["a", "b", "a", "b"],  # two settings at each (x, y): split
            "tied": [5, 5, 6, 6],  # zipped with x: adds nothing
        }
    )
    _, xs, ys, label = plots.atlas_coordinates(table, "x", "y", ["x", "data", "tied"])
    assert xs == [1, 2] and ys == ["0 | a", "0 | b"] and label == "y | data"
