"""``ripple job``: list, show, follow, cancel and rerun jobs; :func:`run_and_follow`, the
progress bar every command that starts a job uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from rippleops.cli.common import JSON_HELP, cell, client, echo, note, print_json, stdout, table, when
from rippleops.domain.jobs import JobState
from rippleops.domain.records import JobLogRecord, JobRecord
from rippleops.errors import ERRORS_BY_TYPE, RippleError
from rippleops.sdk.jobs import OnUpdate

app = typer.Typer(no_args_is_help=True, help="Jobs: long work (imports ...) with progress, logs, cancel and rerun.")

Json = typer.Option(False, "--json", help=JSON_HELP)
NoWait = typer.Option(False, "--no-wait", help="Return once the job is queued instead of following it.")
LEVEL_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "red"}


# -- following a job ------------------------------------------------------------------------------


def log_line(line: JobLogRecord) -> Text:
    return Text.assemble((f"{line.at:%H:%M:%S} ", "dim"), (f"{line.level:<7} ", LEVEL_STYLES.get(line.level, "")),
                         line.message)  # fmt: skip


def run_and_follow(start: Callable[[OnUpdate], JobRecord], title: str) -> JobRecord:
    """Start a job with ``start(on_update)`` and show a progress bar and its warnings and
    errors on stderr until it has finished (stdout stays for the result; every line is in
    ``ripple job logs ID``)."""
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[message]}"))  # fmt: skip
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(escape(title), total=None, message="")

        def on_update(job: JobRecord, logs: list[JobLogRecord]) -> None:
            for line in logs:
                if line.level in ("warning", "error"):
                    bar.console.print(log_line(line), soft_wrap=True, highlight=False)
            p = job.progress
            bar.update(task, completed=p.done, total=p.total, message=escape(p.message[:60]),
                       description=escape(f"{title} (job {job.id}, {job.state.value})"))  # fmt: skip

        try:
            return start(on_update)
        except KeyboardInterrupt:
            note("stopped following; a job on a server keeps running (`ripple job cancel ID` stops it)")
            raise typer.Exit(130) from None


def job_error(job: JobRecord) -> RippleError:
    """Why a job did not succeed, as the error the CLI exits with (its type's exit code)."""
    if job.state is JobState.CANCELLED:
        return RippleError(f"job {job.id} was cancelled; rerun it with `ripple job rerun {job.id}`")
    err = job.error
    cls = ERRORS_BY_TYPE.get(err.type, RippleError) if err else RippleError
    message = err.message if err else "no error was recorded"
    kind = f"{err.type}: " if err and err.type not in ERRORS_BY_TYPE else ""
    return cls(f"job {job.id} ({job.kind}) failed: {kind}{message}")


def report(job: JobRecord, as_json: bool) -> None:
    """Print a finished (or queued, with --no-wait) job; raise when it did not succeed."""
    if as_json:
        print_json(job)
    elif job.state.is_terminal:
        echo(f"job {job.id} {job.state.value}" + (f": {summary(job.result)}" if job.result else ""))
    else:
        echo(f"job {job.id} {job.state.value}; follow it with `ripple job logs {job.id} --follow`")
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        raise job_error(job)


def summary(result: Any) -> str:
    """A short line for a result: counts of lists, the values of the rest."""
    if isinstance(result, dict):
        return ", ".join(f"{len(v) if isinstance(v, list | dict) else v} {k}" for k, v in result.items())
    return cell(result)


# -- the commands ------------------------------------------------------------------------------------


@app.command("list")
def list_(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", help="queued, running, succeeded, failed or cancelled."),
    kind: str | None = typer.Option(None, "--kind", help="Only jobs of this kind, such as prompt.import."),
    limit: int = typer.Option(50, "--limit", help="At most this many of the newest jobs."),
    as_json: bool = Json,
) -> None:
    """List the project's jobs, newest first.

    Example: ripple job list --state failed
    """
    with client(ctx) as rp:
        jobs = rp.jobs.list(state=state, kind=kind, limit=limit)
    if as_json:
        print_json(jobs)
        return
    rows = [[j.id, j.kind, j.state.value, _progress(j), j.created_by, j.created_at, j.finished_at,
             j.error.message[:60] if j.error else None] for j in jobs]  # fmt: skip
    table("jobs", ["id", "kind", "state", "progress", "by", "created", "finished", "error"], rows, empty="no jobs")


@app.command()
def show(ctx: typer.Context, job_id: int = typer.Argument(..., metavar="ID"), as_json: bool = Json) -> None:
    """Show one job: parameters, state, progress, result or error.

    Example: ripple job show 3 --json
    """
    with client(ctx) as rp:
        job = rp.jobs.get(job_id)
    if as_json:
        print_json(job)
        return
    out = stdout()
    out.print(f"[bold]job {job.id}[/bold]  {escape(job.kind)}  ({job.state.value})", highlight=False)
    fields: list[tuple[str, Any]] = [
        ("params", job.params), ("progress", _progress(job)), ("message", job.progress.message or None),
        ("created", f"{when(job.created_at)} by {job.created_by}"), ("started", job.started_at),
        ("finished", job.finished_at), ("attempt", job.attempt if job.attempt > 1 else None),
        ("rerun of", job.rerun_of), ("owner", job.owner), ("cancel", "requested" if job.cancel_requested else None),
        ("result", summary(job.result) if job.result else None),
        ("error", f"{job.error.type}: {job.error.message}" if job.error else None),
    ]  # fmt: skip
    for key, value in fields:
        if value is not None:
            out.print(Text.assemble((f"{key:>10}: ", "dim"), cell(value)), soft_wrap=True)


@app.command()
def logs(
    ctx: typer.Context,
    job_id: int = typer.Argument(..., metavar="ID"),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the job ends."),
    as_json: bool = Json,
) -> None:
    """Print a job's log lines (with --follow, until it has finished).

    Example: ripple job logs 3 --follow
    """
    with client(ctx) as rp:
        if as_json:
            print_json(rp.jobs.logs(job_id))
            return
        for line in rp.jobs.logs(job_id):
            stdout().print(log_line(line), soft_wrap=True, highlight=False)
        if follow:
            seen = rp.jobs.logs(job_id)[-1:]
            after = seen[0].seq if seen else 0

            def on_update(job: JobRecord, lines: list[JobLogRecord]) -> None:
                for line in lines:
                    if line.seq > after:
                        stdout().print(log_line(line), soft_wrap=True, highlight=False)

            job = rp.jobs.wait(job_id, on_update=on_update)
            note(f"job {job.id} {job.state.value}", style="green" if job.state is JobState.SUCCEEDED else "yellow")


@app.command()
def cancel(ctx: typer.Context, job_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Cancel a queued job, or ask a running one to stop at its next check.

    Example: ripple job cancel 3
    """
    with client(ctx) as rp:
        job = rp.jobs.cancel(job_id)
    if job.state is JobState.CANCELLED:
        echo(f"job {job.id} cancelled")
    else:
        echo(f"job {job.id} is {job.state.value}: asked it to stop; it does at its next check")


@app.command()
def rerun(
    ctx: typer.Context, job_id: int = typer.Argument(..., metavar="ID"), no_wait: bool = NoWait, as_json: bool = Json
) -> None:
    """Run a failed or cancelled job again, as a new job, and follow it.

    Example: ripple job rerun 3
    """
    with client(ctx) as rp:
        if no_wait:
            job = rp.jobs.rerun(job_id)
        else:
            job = run_and_follow(lambda on_update: rp.jobs.rerun(job_id, wait=True, on_update=on_update),
                                 f"rerun of job {job_id}")  # fmt: skip
    report(job, as_json)


def _progress(job: JobRecord) -> str | None:
    p = job.progress
    if p.total is None:
        return str(p.done) if p.done else None
    return f"{p.done}/{p.total}"
