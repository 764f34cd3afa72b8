"""HTML reports of runs, comparisons and sweeps: the numbers are in, sample text is escaped,
the page is self-contained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from report_data import HOSTILE, run_with_samples
from rippleops.domain.eval_compare import compare_runs
from rippleops.services.eval_report import (
    fmt,
    render_compare_html,
    render_run_html,
    render_sweep_html,
    write_report,
)

pytest.importorskip("plotly", reason="reports need the eval extra: pip install 'rippleops[eval]'")


def figures(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="figure-([a-z-]+)-data">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in found}


def test_compare_report_holds_the_numbers_and_escapes_sample_text() -> None:
    run_a, samples_a = run_with_samples(1, "app/support-bot:1", 0.0)
    run_b, samples_b = run_with_samples(2, "app/support-bot:2", -0.1, hostile=True)
    compare = compare_runs(run_a, samples_a, run_b, samples_b)
    html = render_compare_html(compare)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&amp; co" in html
    for d in compare.deltas:
        assert f'<td class="num">{fmt(d.delta)}</td>' in html
        assert f"[{fmt(d.ci_low)}, {fmt(d.ci_high)}]" in html
    assert "app/support-bot:1" in html and "app/support-bot:2" in html
    assert html.count("<tr><td>q") == len(compare.regressions)
    figs = figures(html)
    assert set(figs) == {"deltas", "distributions"}
    assert len(figs["deltas"]["data"]) == len(compare.deltas)
    assert len(figs["distributions"]["data"]) == 2 * len(compare.scores)
    # plotly.js is inline, once, and nothing is loaded from the network
    assert html.count("<script>") == 2 and not re.search(r"<script[^>]+src=|<link[^>]+href=", html)


def test_hostile_text_inside_a_figure_cannot_close_its_script_element() -> None:
    run_a, samples_a = run_with_samples(1, "app/support-bot:1", 0.0)
    run_b, samples_b = run_with_samples(2, "app/support-bot:2", 0.1)
    compare = compare_runs(run_a, samples_a, run_b, samples_b)
    # a metric named with markup (impossible through a suite, but the page must hold anyway)
    compare.scores[HOSTILE] = compare.scores["rouge_l"]
    html = render_compare_html(compare)
    assert HOSTILE not in html and "\\u003cscript\\u003e" in html
    assert HOSTILE in json.dumps(figures(html)["distributions"])


def test_runs_on_different_datasets_say_so_and_draw_nothing() -> None:
    run_a, samples_a = run_with_samples(1, "app/support-bot:1", 0.0)
    run_b, samples_b = run_with_samples(2, "app/support-bot:2", 0.1)
    run_b = run_b.model_copy(update={"dataset": "dataset/support-qa:2", "dataset_hash": "e" * 64})
    html = render_compare_html(compare_runs(run_a, samples_a, run_b, samples_b))
    assert "Not compared." in html and "one dataset version" in html
    assert figures(html) == {} and 'id="deltas"' not in html


def test_run_report_lists_aggregates_and_samples() -> None:
    run, samples = run_with_samples(7, "app/support-bot:3", 0.0, hostile=True)
    html = render_run_html(run, samples)
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f'<td class="num">{fmt(run.aggregates["rouge_l"].mean)}</td>' in html
    assert html.count("<tr><td>q") == len(samples)
    assert set(figures(html)) == {"means", "distributions"}


def test_sweep_report_highlights_the_front_and_escapes_knobs() -> None:
    result = {
        "app": "app/support-bot", "suite": "suite/support-qa:1", "method": "grid", "objective": "rouge_l",
        "points": [
            {"knobs": {"k": 1, "mode": "vector"}, "app": "app/support-bot:4", "run": 11, "quality": 0.31, "cost": 0.001, "latency_ms": 900.0},
            {"knobs": {"k": 4, "mode": HOSTILE}, "app": "app/support-bot:5", "run": 12, "quality": 0.52, "cost": 0.004, "latency_ms": 1500.0},
            {"knobs": {"k": 2, "mode": "hybrid"}, "app": "app/support-bot:6", "run": 13, "quality": 0.30, "cost": 0.005, "latency_ms": 1700.0},
        ],
        "front": [0, 1], "recommendation": {"index": 1, "reason": "the best rouge_l (0.52) at cost 0.004"},
    }  # fmt: skip
    html = render_sweep_html(result)
    assert HOSTILE not in html
    assert html.count('class="front"') == 2 and "the best rouge_l (0.52)" in html
    fig = figures(html)["sweep"]
    front = next(t for t in fig["data"] if t["name"] == "Pareto front")
    assert front["y"] == [0.31, 0.52] and "k=4" in front["text"][1]


def test_write_report_replaces_the_file_whole(tmp_path: Path) -> None:
    path = write_report(tmp_path / "reports" / "r.html", "<p>one</p>")
    write_report(path, "<p>two</p>")
    assert path.read_text() == "<p>two</p>"
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]


def test_numbers_are_formatted_for_people() -> None:
    assert (fmt(None), fmt(0.123456), fmt(-0.145), fmt(12345.6), fmt(3), fmt(True)) == (
        "-", "0.1235", "-0.145", "12,346", "3", "yes",
    )  # fmt: skip
