"""``ripple eval``: run a suite on a target (a job with a progress bar), list and show runs and
their samples, compare two runs, write HTML reports, and check gates for CI
(``ripple eval gate`` exits 7 when a gate fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rippleops.cli.common import JSON_HELP, cell, client, echo, note, print_json, table, write_file
from rippleops.cli.job import report, run_and_follow
from rippleops.domain.records import CompareRecord, EvalRunRecord, EvalSampleRecord, GateReport, JobRecord
from rippleops.errors import GateFailedError

app = typer.Typer(
    no_args_is_help=True,
    help="Eval runs: score a target version with a suite, compare runs, check gates (CI: `ripple eval gate`).",
)

Json = typer.Option(False, "--json", help=JSON_HELP)


@app.command()
def run(
    ctx: typer.Context,
    suite: str = typer.Argument(..., help="The suite: support-qa, suite/support-qa@production."),
    target: str = typer.Option(..., "--target", "-t", help="The version to score: app/support-bot:3, app/bot@staging."),
    concurrency: int | None = typer.Option(
        None, "--concurrency", "-c", help="Concurrent target calls (default: the suite's)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Score only the first N samples."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once the job is queued."),
    as_json: bool = Json,
) -> None:
    """Score a target version with a suite, as a job with a progress bar.

    Prints each metric's mean with its 95% interval and the gates. A run that was killed is
    resumed: the samples it scored are kept.

    Example: ripple eval run suite/support-qa --target app/support-bot:3 --concurrency 2
    """
    with client(ctx) as rp:

        def start(on_update: Any, wait: bool = True) -> JobRecord:
            return rp.evals.run(suite, target, concurrency=concurrency, limit=limit, wait=wait, on_update=on_update)

        job = start(None, wait=False) if no_wait else run_and_follow(start, f"evaluating {target}")
        result = job.result if isinstance(job.result, dict) else {}
        if no_wait or job.state.value != "succeeded" or "run" not in result:
            report(job, as_json)
            return
        record = rp.evals.get(int(result["run"]))
    if as_json:
        print_json(record)
        return
    _run(record)


@app.command("list")
def list_(
    ctx: typer.Context,
    suite: str | None = typer.Option(None, "--suite", help="Only runs of this suite (any version, or suite/x:2)."),
    target: str | None = typer.Option(None, "--target", help="Only runs on this target (app/bot, or app/bot:3)."),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first."),
    as_json: bool = Json,
) -> None:
    """List eval runs, newest first.

    Example: ripple eval list --suite support-qa --target app/support-bot
    """
    with client(ctx) as rp:
        items = rp.evals.list(suite=suite, target=target, limit=limit)
    if as_json:
        print_json(items)
        return
    rows = [[r.id, r.suite, r.target, r.dataset, r.state, f"{r.done}/{r.samples}", r.errors, _gates(r),
             f"{r.duration_s:.1f}s", r.created_at] for r in items]  # fmt: skip
    cols = ["run", "suite", "target", "dataset", "state", "done", "errors", "gates", "took", "at"]
    table("eval runs", cols, rows, empty="no eval runs yet")


@app.command()
def show(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., metavar="RUN", help="The run id."),
    samples: int = typer.Option(0, "--samples", "-n", help="Also show the first N samples."),
    as_json: bool = Json,
) -> None:
    """Show a run: each metric's mean, 95% interval, p50 and p95, and the gates.

    Example: ripple eval show 12 --samples 5
    """
    with client(ctx) as rp:
        record = rp.evals.get(run_id)
        rows = rp.evals.samples(run_id, limit=samples) if samples else []
    if as_json:
        print_json({"run": record, "samples": rows} if samples else record)
        return
    _run(record)
    if rows:
        _samples(rows)


@app.command()
def samples(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., metavar="RUN", help="The run id."),
    offset: int = typer.Option(0, "--offset", help="Skip this many samples."),
    limit: int = typer.Option(50, "--limit", help="At most this many samples."),
    as_json: bool = Json,
) -> None:
    """A run's samples: input, output, scores and why a score is missing.

    Example: ripple eval samples 12 --limit 20 --json
    """
    with client(ctx) as rp:
        rows = rp.evals.samples(run_id, offset=offset, limit=limit)
    if as_json:
        print_json(rows)
        return
    _samples(rows)


@app.command()
def compare(
    ctx: typer.Context,
    run_a: int = typer.Argument(..., metavar="RUN_A", help="The reference run (the baseline)."),
    run_b: int = typer.Argument(..., metavar="RUN_B", help="The run compared with it."),
    top: int = typer.Option(5, "--top", help="Regressed samples to show per metric."),
    html: Path | None = typer.Option(None, "--html", help="Also write the HTML report (Plotly) to this file."),
    as_json: bool = Json,
) -> None:
    """Compare run B against run A: per-metric deltas and the samples that regressed most.

    Deltas come with paired bootstrap 95% intervals; the regressed samples are side by side.

    Example: ripple eval compare 11 12 --html compare.html
    """
    with client(ctx) as rp:
        cmp = rp.evals.compare(run_a, run_b, top=top)
        page = rp.evals.compare_html(run_a, run_b) if html is not None else None
    if page is not None and html is not None:
        note(f"wrote {write_file(html, page)}", style="dim")
    if as_json:
        print_json(cmp)
        return
    _compare(cmp)


@app.command()
def gate(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., metavar="RUN", help="The run id."),
    baseline: int | None = typer.Option(
        None, "--baseline", help="Compare with this run instead of the default baseline."
    ),
    as_json: bool = Json,
) -> None:
    """Check the suite's gates on a run: exit 0 when it passes, 7 when it does not (for CI).

    A run does not pass when a gate fails, or when a regression gate cannot be decided
    because the baseline ran on another dataset version.

    Example: ripple eval gate 12  (in CI: a failing gate fails the step)
    """
    with client(ctx) as rp:
        rep = rp.evals.gate(run_id, baseline=baseline)
    if as_json:
        print_json(rep)
    else:
        _gate(rep)
    if not rep.passed:
        failed = [f"{g.metric} {g.rule} {g.threshold:g}: {g.message}" for g in rep.gates if g.passed is False]
        why = "; ".join(failed) or rep.message
        raise GateFailedError(f"eval run {rep.run} ({rep.target}) failed its gates: {why}")


@app.command("report")
def report_(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., metavar="RUN", help="The run id."),
    html: Path = typer.Option(..., "--html", help="Write the HTML report (Plotly, works offline) to this file."),
) -> None:
    """Write a run's HTML report: metrics with intervals, score distributions, every sample.

    Example: ripple eval report 12 --html run-12.html
    """
    with client(ctx) as rp:
        page = rp.evals.report_html(run_id)
    echo(str(write_file(html, page)))


# -- rendering --------------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _gates(run: EvalRunRecord) -> str:
    if run.gates is None:
        return "-"
    ok = sum(g.passed is True for g in run.gates)
    bad = sum(g.passed is False for g in run.gates)
    return f"{ok} ok, {bad} failed" + (f", {len(run.gates) - ok - bad} undecided" if len(run.gates) - ok - bad else "")


def _run(run: EvalRunRecord) -> None:
    echo(f"eval run {run.id}: {run.suite} on {run.target} over {run.dataset} — {run.state}, "
         f"{run.done}/{run.samples} samples, {run.errors} with errors, {run.duration_s:.1f} s, "
         f"{run.tokens} tokens, cost {run.cost:.4g}")  # fmt: skip
    if run.error:
        note(run.error)
    rows = [[name, _num(a.mean), f"[{_num(a.ci_low)}, {_num(a.ci_high)}]", _num(a.p50), _num(a.p95), a.n, a.errors]
            for name, a in run.aggregates.items()]  # fmt: skip
    table("metrics", ["metric", "mean", "95% CI", "p50", "p95", "n", "errors"], rows, empty="no scores")
    if run.gates is not None:
        _gate_rows(run.gates)


def _gate_rows(gates: list[Any]) -> None:
    rows = [[g.metric, g.rule, f"{g.threshold:g}", _num(g.value), _num(g.baseline), _num(g.delta),
             {True: "pass", False: "FAIL", None: "undecided"}[g.passed], g.message] for g in gates]  # fmt: skip
    table(
        "gates", ["metric", "rule", "threshold", "value", "baseline", "delta", "result", "why"], rows, empty="no gates"
    )


def _gate(rep: GateReport) -> None:
    base = f"baseline run {rep.baseline_run} ({rep.baseline_target})" if rep.baseline_run else "no baseline"
    echo(f"eval run {rep.run}: {rep.suite} on {rep.target}, {base}: {'PASSED' if rep.passed else 'FAILED'}")
    if not rep.comparable:
        note("the baseline ran on another dataset version: regression gates were not compared")
    _gate_rows(rep.gates)
    echo(rep.message, style="dim")


def _samples(rows: list[EvalSampleRecord]) -> None:
    out = [[s.key, _short(s.input), _short((s.output or {}).get("text") if isinstance(s.output, dict) else s.output),
            ", ".join(f"{k}={v:.3g}" for k, v in s.scores.items() if k not in ("cost", "guard_block_rate")),
            s.error or "; ".join(f"{k}: {v}" for k, v in s.metric_errors.items()) or "-"] for s in rows]  # fmt: skip
    table("samples", ["key", "input", "output", "scores", "errors"], out, empty="no samples")


def _short(value: Any, n: int = 60) -> str:
    text = " ".join(cell(value).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _compare(cmp: CompareRecord) -> None:
    echo(f"run {cmp.run_b.id} ({cmp.run_b.target}) against run {cmp.run_a.id} ({cmp.run_a.target})")
    if not cmp.comparable:
        note(f"not comparable: {cmp.reason}")
    rows = [[d.metric, _num(d.a), _num(d.b), _num(d.delta), f"[{_num(d.ci_low)}, {_num(d.ci_high)}]", d.n,
             "yes" if d.significant else "no"] for d in cmp.deltas]  # fmt: skip
    table("deltas (B - A)", ["metric", "A", "B", "delta", "95% CI", "n", "significant"], rows, empty="no deltas")
    regs = [[r.get("key"), r.get("metric"), _num(r.get("a")), _num(r.get("b")), _short(r.get("output_a"), 40),
             _short(r.get("output_b"), 40)] for r in cmp.regressions]  # fmt: skip
    table("regressed most", ["key", "metric", "A", "B", "output A", "output B"], regs, empty="no regressions")
