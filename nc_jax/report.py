"""``nc-jax report RESULTS_DIR [-o report.html]``: one self-contained HTML page of a results
directory (a sweep's or a single ``nc-jax check`` run's) that a reviewer can open offline and
rerun.

The page holds: the paper, the resolved grid and the versions and device that produced it; the
verdict table of every check (kind, holds / violated / vacuous with the most common failing
hypothesis, informative or not, slack range); every plot of nc_jax.plots as an embedded PNG
(data URI, no file beside it); each check's statement, provenance, confidence and trivial
reference (from the stored theorem records); and the exact commands that regenerate the results
and the page. Formulas are plain text as the checks state them: no script, no network.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nc_jax import plots
from nc_jax import results as store
from nc_jax.io import write_atomic

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.violated { color: #D55E00; font-weight: bold; }
code, pre { background: #f6f6f6; padding: 0.1em 0.3em; }
pre { padding: 0.6em; overflow-x: auto; }
img { max-width: 100%; border: 1px solid #ddd; }
p.warning { border-left: 4px solid #D55E00; padding-left: 0.6em; }
"""


def _escape(value: Any) -> str:
    return html.escape(str(value))


def _png_data_uri(fig: Any) -> str:
    """The figure as a base64 PNG data URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def grid_toml(grid: Mapping[str, Any]) -> str:
    """The resolved grid of grid.json as a grid file (TOML) that ``nc-jax sweep`` reads back:
    the fixed values, the axes and the zipped axes (None values, i.e. defaults, are left out)."""
    lines = [f"paper = {json.dumps(grid['paper'])}"]
    for table, values in (
        ("fixed", grid.get("fixed", {})),
        ("grid", grid.get("axes", {})),
        ("zip", grid.get("zip", {})),
    ):
        entries = [f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None]
        if entries:
            lines += ["", f"[{table}]", *entries]
    return "\n".join(lines) + "\n"


def _verdict_table(rows: Sequence[Mapping[str, Any]]) -> str:
    header = [
        "check",
        "kind",
        "holds",
        "violated",
        "vacuous",
        "most common failing hypothesis",
        "informative",
        "slack (measured / bound)",
    ]
    cells = []
    for row in rows:
        violated = ' class="violated"' if row["violated"] else ""
        cells.append(
            "<tr>"
            + "".join(
                f"<td{violated if key == 'violated' else ''}>{_escape(row[key])}</td>"
                for key in (
                    "check",
                    "kind",
                    "holds",
                    "violated",
                    "vacuous",
                    "failing",
                    "informative",
                    "slack",
                )
            )
            + "</tr>"
        )
    head = "".join(f"<th>{_escape(h)}</th>" for h in header)
    return f'<table id="verdicts"><tr>{head}</tr>{"".join(cells)}</table>'


def _statements(theorems: Mapping[str, Mapping[str, str]]) -> str:
    items = []
    for check, record in theorems.items():
        trivial = record.get("trivial", "")
        items.append(
            f"<h3>{_escape(check)} <small>[{_escape(record['kind'])}]</small></h3>"
            f"<p><code>{_escape(record['statement'])}</code> ({_escape(record['relation'])})</p>"
            f"<p>Source: {_escape(record['reference'])}; provenance: "
            f"{_escape(record['provenance'])}; confidence: {_escape(record['confidence'])}</p>"
            + (f"<p>Trivial reference: {_escape(trivial)}</p>" if trivial else "")
        )
    return "\n".join(items)


def environments(records: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, list]]:
    """The environment of the cells (nc_jax.checks.runner.environment: matmul precision, x64,
    XLA flags, devices, compilation cache; versions too): (what every cell shares, {key: the
    distinct values} for what differs between cells). A record written before environments
    were recorded counts as "not recorded"."""
    values: dict[str, list] = {}
    for record in records:
        found = {**record.get("environment", {}), **record.get("versions", {})}
        for key in [*values, *(key for key in found if key not in values)]:  # first seen first
            seen = values.setdefault(key, [])
            value = found.get(key, "not recorded")
            if value not in seen:
                seen.append(value)
    shared = {key: seen[0] for key, seen in values.items() if len(seen) == 1}
    mixed = {key: seen for key, seen in values.items() if len(seen) > 1}
    return shared, mixed


def _environment_html(records: Sequence[Mapping[str, Any]]) -> str:
    """The environment paragraph: what the cells share, and a warning naming what they do not."""
    shared, mixed = environments(records)
    text = ", ".join(f"{key} {value if value != '' else '(none)'}" for key, value in shared.items())
    html = f"<p>Environment: {_escape(text)}.</p>"
    if mixed:
        listed = "; ".join(f"{key}: {', '.join(map(str, seen))}" for key, seen in mixed.items())
        html += (
            '<p class="warning"><b>Warning:</b> these cells were computed in different '
            f"environments ({_escape(listed)}); their results may not be comparable.</p>"
        )
    return html


def _citation_html(records: Sequence[Mapping[str, Any]]) -> str:
    """How to cite: the papers whose theorems the cells check (their citation as the paper
    registers it) and the tool at the version that computed them."""
    import nc_jax

    papers = sorted({r.get("paper_title") or r["paper"] for r in records})
    tool_versions = sorted(
        {r.get("versions", {}).get("nc-jax", nc_jax.__version__) for r in records}
    )
    version = ", ".join(tool_versions)
    bibtex = (
        "@software{nc_jax,\n"
        f"  title = {{{nc_jax.CITATION_TITLE}}},\n"
        f"  author = {{{{{nc_jax.CITATION_AUTHORS}}}}},\n"
        f"  version = {{{version}}},\n"
        "  license = {Apache-2.0},\n"
        "}"
    )
    listed = "".join(f"<li>{_escape(title)}</li>" for title in papers)
    return (
        "<p>The theorems checked here are from:</p>"
        f"<ul>{listed}</ul>"
        "<p>Cite those papers for the statements (where a check is our stand-in for a statement "
        "the paper does not make, its provenance above says so), and the tool that measured and "
        f"checked them, nc-jax {_escape(version)} (CITATION.cff):</p>"
        f"<pre>{_escape(bibtex)}</pre>"
    )


def build(directory: Path, x_axis: str | None = None, y_axis: str | None = None) -> str:
    """The report of ``directory`` as an HTML string."""
    grid = store.read_grid(directory)
    records = store.read_cells(directory)
    table = store.load(directory)
    if table.empty:
        raise ValueError(f"RESULTS_DIR {directory}: no finished cells to report")
    x_axis = x_axis or plots.default_axis(table, store.grid_names(grid))
    figures = [
        (
            f"Bound and measured against {x_axis}",
            _png_data_uri(plots.bound_vs_axis_figure(table, x_axis)),
        )
    ]
    if y_axis:
        names = store.grid_names(grid)
        atlas = plots.tightness_atlas_figure(table, x_axis, y_axis, names)
        figures.append((f"Tightness atlas over {x_axis} and {y_axis}", _png_data_uri(atlas)))
        regimes = plots.regime_map_figure(table, x_axis, y_axis, names)
        figures.append(
            (f"Where each check speaks, over {x_axis} and {y_axis}", _png_data_uri(regimes))
        )
    for _, title, fig in plots.stored_figures(directory, x_axis):
        figures.append((title, _png_data_uri(fig)))
    theorems: dict[str, Any] = {}
    for record in records:
        theorems |= record.get("theorems", {})
    first = records[0]
    wall = sum(r["wall_time_s"] for r in records)
    runs = sum(len(r["runs"]) for r in records)
    versions = ", ".join(f"{k} {v}" for k, v in first.get("versions", {}).items())
    paper = grid["paper"]
    toml_text = grid_toml(grid)
    axis_flags = f" --x {x_axis}" + (f" --y {y_axis}" if y_axis else "")
    images = "\n".join(
        f'<figure><img alt="{_escape(title)}" src="{uri}"><figcaption>{_escape(title)}'
        "</figcaption></figure>"
        for title, uri in figures
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>nc-jax report: {_escape(paper)}</title><style>{STYLE}</style></head>
<body>
<h1>nc-jax report: {_escape(paper)}</h1>
<p>{len(records)} cells, {runs} runs, {wall:.1f} s of training and measurement on
{_escape(first.get("device", "?"))}; {_escape(versions)}.</p>
{_environment_html(records)}
<p>Kinds: an <b>identity</b> is exact and checked to rounding; a <b>consequence</b> is implied by
other quantities of the same network (its "holds" is algebra; its worth is its slack and
whether it beats its trivial reference: <i>informative</i>); a <b>claim</b> says what training
produces and can be refuted by these runs.</p>
<h2>Verdicts</h2>
{_verdict_table(store.summary_rows(table))}
<h2>Plots</h2>
{images}
<h2>The checks</h2>
{_statements(theorems)}
<h2>The setting</h2>
<pre>{_escape(toml_text)}</pre>
<h2>How to cite</h2>
{_citation_html(records)}
<h2>Regenerate</h2>
<pre>cat &gt; grid.toml &lt;&lt;'EOF'
{_escape(toml_text)}EOF
nc-jax sweep grid.toml --out {_escape(directory)}
nc-jax report {_escape(directory)}{_escape(axis_flags)} -o report.html</pre>
</body></html>
"""


def main(args: Any) -> int:
    """``nc-jax report``: write the page, print its path."""
    directory = store.require_directory(Path(args.results_dir))
    out = Path(args.output) if args.output else directory / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, build(directory, args.x, args.y).encode())
    print(out)
    return 0
