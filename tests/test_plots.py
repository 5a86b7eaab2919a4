"""nc-jax plot: every file is written, and the plotted values (read back from the figure's
artists) equal the stored ones (recomputed here from the raw cell records with NumPy)."""

from __future__ import annotations

import numpy as np
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
        "tightness_size_scale.pdf",
        "tightness_size_scale.png",
    ]
    for path in written:
        assert (toy_sweep / "plots" / path.rsplit("/", 1)[-1]).stat().st_size > 1000
    assert cli_main(["plot", str(toy_sweep), "--x", "colour"]) == 2
    assert "--x/--y colour: no such column" in capsys.readouterr().err
    assert cli_main(["plot", str(toy_sweep / "missing")]) == 2


def test_indexed_axes_read_an_element_of_a_list_column():
    import pandas as pd

    table = pd.DataFrame({"widths": [(32, 8, 10), (64, 8, 10)], "check": ["a", "a"]})
    assert list(plots.axis_values(table, "widths[0]")) == [32, 64]
    assert list(plots.axis_values(table, "widths[-1]")) == [10, 10]
