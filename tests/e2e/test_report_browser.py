"""A compare report opened in a real headless Chromium: the Plotly charts draw, offline, with
no console error, and the hostile sample text shows as text. Saves a screenshot to
/tmp/compare-report.png for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_data import HOSTILE, run_with_samples
from rippleops.domain.eval_compare import compare_runs
from rippleops.services.eval_report import render_compare_html, write_report

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path("/tmp/compare-report.png")

pytestmark = pytest.mark.slow


def test_compare_report_renders_in_chromium(tmp_path: Path) -> None:
    pytest.importorskip("plotly", reason="reports need the eval extra: pip install 'rippleops[eval]'")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    run_a, samples_a = run_with_samples(1, "app/support-bot:1", 0.0)
    run_b, samples_b = run_with_samples(2, "app/support-bot:2", -0.1, hostile=True)
    path = write_report(
        tmp_path / "compare.html", render_compare_html(compare_runs(run_a, samples_a, run_b, samples_b))
    )
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            plots = page.locator(".js-plotly-plot")
            assert plots.count() == 2
            for i in range(2):
                assert plots.nth(i).locator("svg.main-svg").count() >= 1
            assert page.locator("#figure-deltas .point").count() >= 3  # a marker per metric
            assert page.locator("#figure-distributions .boxlayer .trace").count() >= 6  # A and B per metric
            assert HOSTILE in page.locator("#regressions").inner_text()  # shown as text, never run
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
