"""``ripple sweep``: a grid or Optuna search over knobs of an app, each point scored by a
suite, as a job; prints every point, the Pareto front and the recommendation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from rippleops.cli.common import client, echo, print_json, table, write_file
from rippleops.cli.job import job_error, run_and_follow
from rippleops.domain.jobs import JobState
from rippleops.domain.records import JobRecord
from rippleops.domain.sweeps import KNOBS, parse_grid_flag
from rippleops.errors import InvalidError


def sweep(
    ctx: typer.Context,
    app: str | None = typer.Argument(None, help="The base app version: app/support-bot@production (or in --file)."),
    suite: str | None = typer.Option(None, "--suite", help="The suite that scores every point: suite/support-qa."),
    grid: list[str] = typer.Option(
        [], "--grid", help=f"KNOB=V1,V2 (repeat the option); knobs: {', '.join(KNOBS)}. Example: --grid k=1,2,4"
    ),
    file: Path | None = typer.Option(None, "--file", "-f", help="A sweep spec (YAML or JSON); options given win."),
    method: str | None = typer.Option(None, "--method", help="grid (every combination, the default) or optuna (TPE)."),
    trials: int | None = typer.Option(None, "--trials", help="optuna: how many distinct points to score."),
    objective: str | None = typer.Option(None, "--objective", help="The quality metric (default: the suite's first)."),
    max_points: int | None = typer.Option(None, "--max-points", help="Allow a grid of more than 50 points."),
    storage: str | None = typer.Option(None, "--storage", help="optuna: an RDB storage URL to share the study."),
    study: str | None = typer.Option(None, "--study", help="optuna: the study's name in --storage."),
    seed: int | None = typer.Option(None, "--seed", help="optuna: the sampler's seed (default 0)."),
    html: Path | None = typer.Option(None, "--html", help="Also write the HTML report (Plotly chart) to this file."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once the sweep job is queued."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Sweep knobs of an app (k, mode, chunk_size, prompt, model, temperature, max_tokens):
    each point becomes a candidate version of the app (no label moves) scored by the suite.
    Prints every point, the Pareto front of quality against cost and latency, the marginal
    gain per extra cost along the front, and the recommended point.

    Example: ripple sweep app/support-bot@production --suite suite/support-qa --grid k=1,2,4 --grid mode=vector,hybrid
    """
    spec = _spec(file)
    flags: dict[str, Any] = {
        "app": app, "suite": suite, "method": method, "trials": trials, "objective": objective,
        "max_points": max_points, "storage": storage, "study": study, "seed": seed,
    }  # fmt: skip
    spec.update({k: v for k, v in flags.items() if v is not None})
    if grid:
        spec["grid"] = {**dict(spec.get("grid") or {}), **dict(parse_grid_flag(g) for g in grid)}
    with client(ctx) as rp:
        if no_wait:
            job = rp.sweeps.run(spec=spec, wait=False, check=False)
        else:
            title = f"sweeping {spec.get('app', 'the app')}"
            job = run_and_follow(lambda on_update: rp.sweeps.run(spec=spec, on_update=on_update, check=False), title)
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            raise job_error(job)
        if not job.state.is_terminal:
            echo(f"sweep job {job.id} {job.state.value}; follow it with `ripple job logs {job.id} --follow`")
            return
        if html is not None:
            write_file(html, rp.sweeps.report_html(job.id))
    _print(job, as_json, html)


def _spec(file: Path | None) -> dict[str, Any]:
    if file is None:
        return {}
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidError(f"cannot read the sweep file {file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidError(f"the sweep file {file} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidError(f"the sweep file {file} must hold a mapping with app, suite and grid")
    return data


def _print(job: JobRecord, as_json: bool, html: Path | None) -> None:
    result = job.result or {}
    if as_json:
        print_json(result)
        return
    points = result.get("points", [])
    front = set(result.get("front", []))
    rows = [
        [i, ", ".join(f"{k}={v}" for k, v in p["knobs"].items()), p.get("app"), p.get("run"), p.get("quality"),
         p.get("cost"), p.get("latency_ms"), "*" if i in front else "", p.get("marginal_gain"), p.get("error")]
        for i, p in enumerate(points)
    ]  # fmt: skip
    title = f"sweep job {job.id}: {result.get('objective')} of {result.get('app')} by {result.get('suite')}"
    columns = ["#", "knobs", "app", "run", "quality", "cost", "latency p50 ms", "front", "gain/cost", "error"]
    table(title, columns, rows, empty="no points")
    rec = result.get("recommendation")
    if rec:
        echo(f"recommended: #{rec['index']} {rec['app']} ({_knobs(rec['knobs'])}): {rec['reason']}", style="green")
    reports = result.get("reports", {})
    for key in ("html", "json"):
        if key in reports:
            echo(f"{key} report: {reports[key]}")
    if html is not None:
        echo(f"html report written to {html}")


def _knobs(knobs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in knobs.items())
