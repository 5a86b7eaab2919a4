"""The report in a real browser: headless Chromium (Debian's package, driven by Playwright)
loads the HTML file, and the page rendered: its title, every row of the verdict table, every
image decoded with a non-zero size; a screenshot is taken. Skipped, saying why, where Chromium
or Playwright is missing (.ci/run installs both)."""

from __future__ import annotations

import shutil

import pytest

from nc_jax.cli import main as cli_main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(toy_sweep, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    out = tmp_path / "report.html"
    assert cli_main(["report", str(toy_sweep), "--x", "size", "--y", "scale", "-o", str(out)]) == 0
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(out.as_uri())
            assert page.title() == "nc-jax report: toy"
            assert page.locator("#verdicts tr").count() == 2  # header + one check
            sizes = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
            )
            assert len(sizes) == 4 and all(done and width > 100 for done, width in sizes)
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 20_000
