"""HTML reports of eval runs, comparisons and sweeps: one self-contained file each (plotly.js
inline, figures as JSON, no network), rendered from the Jinja2 templates in
``report_templates/`` with autoescaping on, so sample text can never become markup.

Plotly comes with the ``eval`` extra and is imported only when a report is rendered.

>>> html = render_compare_html(compare)  # doctest: +SKIP
>>> write_report(home / "reports" / "compare-3-4.html", html)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
from markupsafe import Markup

from rippleops.domain.eval_compare import is_lower_better, output_text, score_of
from rippleops.domain.records import CompareRecord, EvalRunRecord, EvalSampleRecord
from rippleops.errors import InvalidError

TEMPLATES = Path(__file__).resolve().parent.parent / "report_templates"
#: samples listed in a run report (the JSON export holds them all)
RUN_SAMPLE_ROWS = 200
_COLORS = {"a": "#8c8c8c", "b": "#1f77b4", "front": "#d62728", "point": "#9ecae1"}


def plotly() -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(plotly.graph_objects, plotly.subplots, plotly.offline)``, or an error naming the extra."""
    try:
        import plotly.graph_objects as go
        import plotly.offline as offline
        import plotly.subplots as subplots
    except ImportError as exc:
        raise InvalidError(
            f"HTML reports need Plotly, which is not installed ({exc}); pip install 'rippleops[eval]'"
        ) from exc
    return go, subplots, offline


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # autoescape everything: sample inputs and outputs are untrusted text
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["num"] = fmt
    env.filters["pretty"] = pretty
    return env


@lru_cache(maxsize=1)
def _plotly_js() -> Markup:
    _, _, offline = plotly()
    return Markup(offline.get_plotlyjs())  # the library itself, trusted


def fmt(value: Any) -> str:
    """A score for a table: 4 significant digits, thousands without exponent, "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    return str(value)


def pretty(value: Any) -> str:
    """Sample text as shown: strings as they are, anything else as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def figure_json(fig: Any) -> Markup:
    """Figure JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``
    survive as characters, so no text in a figure can close the script element."""
    text = fig.to_json()
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def _page(template: str, **context: Any) -> str:
    return _env().get_template(template).render(plotly_js=_plotly_js(), **context)


def _grid(n: int, cols: int = 3) -> tuple[int, int]:
    cols = max(1, min(cols, n))
    return max(1, math.ceil(n / cols)), cols


def _delta_figure(compare: CompareRecord) -> Any:
    go, subplots, _ = plotly()
    deltas = [d for d in compare.deltas if d.delta is not None]
    fig = subplots.make_subplots(rows=max(1, len(deltas)), cols=1, subplot_titles=[d.metric for d in deltas] or [""])
    for row, d in enumerate(deltas, start=1):
        lower = is_lower_better(d.metric, {})
        better = (d.delta or 0) < 0 if lower else (d.delta or 0) > 0
        color = "#2ca02c" if d.significant and better else "#d62728" if d.significant else "#7f7f7f"
        fig.add_trace(
            go.Scatter(
                x=[d.delta], y=[d.metric], mode="markers", marker={"size": 12, "color": color}, showlegend=False,
                error_x={"type": "data", "symmetric": False, "array": [(d.ci_high or 0) - (d.delta or 0)],
                         "arrayminus": [(d.delta or 0) - (d.ci_low or 0)], "thickness": 2, "width": 8},
                hovertemplate=f"{d.metric}: Δ %{{x:.4g}} [{fmt(d.ci_low)}, {fmt(d.ci_high)}], n={d.n}<extra></extra>",
            ),
            row=row, col=1,
        )  # fmt: skip
        fig.add_vline(x=0, line_dash="dot", line_color="#444", row=row, col=1)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(
        height=110 * max(1, len(deltas)) + 60, margin={"l": 30, "r": 30, "t": 40, "b": 30}, template="plotly_white"
    )
    return fig


def _distribution_figure(scores: Mapping[str, Mapping[str, Sequence[float]]], names: Mapping[str, str]) -> Any:
    """One box plot per metric, a box per run (``names``: series key -> legend name)."""
    go, subplots, _ = plotly()
    metrics = list(scores)
    rows, cols = _grid(len(metrics))
    fig = subplots.make_subplots(rows=rows, cols=cols, subplot_titles=metrics or [""])
    for i, metric in enumerate(metrics):
        for series, name in names.items():
            values = list(scores[metric].get(series, ()))
            fig.add_trace(
                go.Box(y=values, name=name, boxmean=True, marker_color=_COLORS.get(series, "#1f77b4"),
                       legendgroup=series, showlegend=i == 0, boxpoints="outliers"),
                row=i // cols + 1, col=i % cols + 1,
            )  # fmt: skip
    fig.update_layout(height=280 * rows + 60, margin={"l": 40, "r": 20, "t": 50, "b": 30}, template="plotly_white")
    return fig


def render_compare_html(compare: CompareRecord) -> str:
    """A comparison of two runs as one offline HTML page: the delta of each metric with its
    paired bootstrap interval, the score distributions A vs B, the table of deltas and the
    samples that regressed most, side by side."""
    run_a, run_b = compare.run_a, compare.run_b
    figures: list[tuple[str, str, Markup]] = []
    if compare.comparable:
        figures.append(
            ("deltas", "B - A per metric, with 95% paired bootstrap intervals", figure_json(_delta_figure(compare)))
        )
        if compare.scores:
            names = {"a": f"A: {run_a.target}", "b": f"B: {run_b.target}"}
            figures.append(
                (
                    "distributions",
                    "Score distributions, A vs B",
                    figure_json(_distribution_figure(compare.scores, names)),
                )
            )
    return _page(
        "compare.html.j2", title=f"Eval run {run_a.id} vs {run_b.id}", compare=compare, run_a=run_a, run_b=run_b,
        figures=figures, lower={d.metric: is_lower_better(d.metric, {}) for d in compare.deltas},
    )  # fmt: skip


def render_run_html(run: EvalRunRecord, samples: Sequence[EvalSampleRecord]) -> str:
    """One eval run as an offline HTML page: each metric's mean with its bootstrap interval,
    score distributions, and the samples (first :data:`RUN_SAMPLE_ROWS`) with their scores."""
    go, subplots, _ = plotly()
    metrics = [m for m, agg in run.aggregates.items() if agg.mean is not None]
    fig = subplots.make_subplots(rows=max(1, len(metrics)), cols=1, subplot_titles=metrics or [""])
    for row, metric in enumerate(metrics, start=1):
        agg = run.aggregates[metric]
        mean = agg.mean or 0.0
        fig.add_trace(
            go.Scatter(
                x=[mean], y=[metric], mode="markers", marker={"size": 12, "color": _COLORS["b"]}, showlegend=False,
                error_x={"type": "data", "symmetric": False, "array": [(agg.ci_high or mean) - mean],
                         "arrayminus": [mean - (agg.ci_low or mean)], "thickness": 2, "width": 8},
                hovertemplate=f"{metric}: %{{x:.4g}} [{fmt(agg.ci_low)}, {fmt(agg.ci_high)}], n={agg.n}<extra></extra>",
            ),
            row=row, col=1,
        )  # fmt: skip
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(
        height=110 * max(1, len(metrics)) + 60, margin={"l": 30, "r": 30, "t": 40, "b": 30}, template="plotly_white"
    )
    scores = {m: {"b": [v for s in samples if (v := score_of(s, m)) is not None]} for m in metrics}
    figures = [
        ("means", "Mean of each metric, with 95% bootstrap intervals", figure_json(fig)),
        ("distributions", "Score distributions", figure_json(_distribution_figure(scores, {"b": run.target}))),
    ]
    columns = [m for m in metrics if m not in ("latency_ms", "tokens", "cost")]
    rows = [
        {"key": s.key, "input": s.input, "expected": s.expected, "output": output_text(s), "error": s.error,
         "scores": {m: s.scores.get(m) for m in columns}, "metric_errors": s.metric_errors, "latency_ms": s.latency_ms}
        for s in list(samples)[:RUN_SAMPLE_ROWS]
    ]  # fmt: skip
    return _page(
        "run.html.j2", title=f"Eval run {run.id}: {run.suite} on {run.target}", run=run, figures=figures,
        columns=columns, rows=rows, shown=len(rows), total=len(samples),
    )  # fmt: skip


def render_sweep_html(result: Mapping[str, Any]) -> str:
    """A sweep as an offline HTML page: quality against cost for every point, the Pareto front
    highlighted (hover shows each point's knobs), and the table of points."""
    go, _, _ = plotly()
    points: list[Mapping[str, Any]] = list(result.get("points", []))
    front = set(result.get("front", []))
    fig = go.Figure()
    for on_front in (False, True):
        chosen = [(i, p) for i, p in enumerate(points) if (i in front) == on_front and p.get("quality") is not None]
        if on_front:
            chosen.sort(key=lambda ip: (ip[1].get("cost") or 0.0, ip[1].get("quality") or 0.0))
        fig.add_trace(
            go.Scatter(
                x=[p.get("cost") or 0.0 for _, p in chosen], y=[p.get("quality") for _, p in chosen],
                mode="lines+markers" if on_front else "markers",
                name="Pareto front" if on_front else "other points",
                marker={"size": 12 if on_front else 9, "color": _COLORS["front" if on_front else "point"]},
                text=[_knob_text(i, p) for i, p in chosen],
                hovertemplate="%{text}<br>quality %{y:.4g}<br>cost %{x:.4g}<extra></extra>",
            )
        )  # fmt: skip
    objective = str(result.get("objective", "quality"))
    fig.update_layout(
        xaxis_title="cost (mean per sample)", yaxis_title=f"quality ({objective})", height=480,
        margin={"l": 60, "r": 30, "t": 30, "b": 50}, template="plotly_white",
    )  # fmt: skip
    figures = [("sweep", f"{objective} against cost", figure_json(fig))]
    return _page(
        "sweep.html.j2",
        title=f"Sweep of {result.get('app', '')}",
        result=result,
        points=points,
        front=front,
        figures=figures,
    )


def _knob_text(i: int, point: Mapping[str, Any]) -> str:
    knobs = ", ".join(f"{k}={v}" for k, v in dict(point.get("knobs", {})).items())
    # plotly renders a few tags in hover text; escape the rest so knob values stay text
    return (
        f"#{i} {point.get('app', '')}<br>{knobs}".replace("&", "&amp;")
        .replace("<br>", "\n")
        .replace("<", "&lt;")
        .replace("\n", "<br>")
    )


def write_report(path: str | Path, html: str) -> Path:
    """Write ``html`` to ``path`` through a temp file in the same folder, then a rename, so a
    reader never sees half a report."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
