"""``ripple trace``: list traces with filters, and show one as a tree of spans."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import typer

from rippleops.cli.common import JSON_HELP, client, note, parse_time, print_json, stdout, table
from rippleops.cli.trace_tree import trace_tree
from rippleops.domain.traces import parse_attribute_filters
from rippleops.errors import InvalidError

app = typer.Typer(no_args_is_help=True, help="Traces of app calls and instrumented code: list, filter, show.")

_LATENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")
PREVIEW = 48


@app.command("list")
def list_(
    ctx: typer.Context,
    app_: str | None = typer.Option(None, "--app", help="An app: support-bot, support-bot:3 or support-bot@label."),
    version: int | None = typer.Option(None, "--version", min=1, help="The app's version."),
    status: str | None = typer.Option(None, "--status", help="ok, error or unset."),
    min_latency: str | None = typer.Option(None, "--min-latency", help="At least this long: 500, 500ms or 1.5s."),
    max_latency: str | None = typer.Option(None, "--max-latency", help="At most this long: 500, 500ms or 1.5s."),
    since: str | None = typer.Option(None, "--since", help="Started since: 30m, 1h, 2d or an ISO time."),
    until: str | None = typer.Option(None, "--until", help="Started before: 30m, 1h, 2d (ago) or an ISO time."),
    attr: list[str] = typer.Option([], "--attr", help="key=value on any span of the trace (repeatable)."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many, newest first."),
    cursor: str | None = typer.Option(None, "--cursor", help="Continue after the previous page."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List traces, newest first.

    Example: ripple trace list --app support-bot --status error --since 1h

    Example: ripple trace list --min-latency 2s --attr llm.model_name=smollm2
    """
    attributes = parse_attribute_filters(attr)
    with client(ctx) as rp:
        page = rp.traces.list(
            app=app_,
            version=version,
            status=status,
            min_latency_ms=_latency(min_latency, "--min-latency"),
            max_latency_ms=_latency(max_latency, "--max-latency"),
            since=parse_time(since, future=False, option="--since") if since else None,
            until=parse_time(until, future=False, option="--until") if until else None,
            attributes=attributes,
            limit=limit,
            cursor=cursor,
        )
    if as_json:
        print_json(page)
        return
    today = datetime.now(UTC).date()
    with_cost = any(t.cost for t in page.items)
    with_tokens = stdout().width >= 100  # a narrow terminal keeps room for the input (`show` has the tokens)
    rows = [
        [
            f"{t.start_time:%H:%M:%S}" if t.start_time.date() == today else f"{t.start_time:%m-%d %H:%M}",
            t.trace_id[:8],
            _cut((t.app or t.name or "-").removeprefix("app/"), 20),
            t.status,
            _duration(t.duration_ms),
            *([f"{t.prompt_tokens}+{t.completion_tokens}" if t.total_tokens else "-"] if with_tokens else []),
            *([f"{t.cost:.6g}" if t.cost else "-"] if with_cost else []),
            _preview(t.input_preview),
        ]
        for t in page.items
    ]
    columns = ["time", "trace", "app:version", "status", "latency"]
    columns += [*(["tokens"] if with_tokens else []), *(["cost"] if with_cost else []), "input"]
    table("traces", columns, rows, empty="no traces match", flex="input")
    if page.next_cursor:
        note(f"more: ripple trace list ... --cursor {page.next_cursor}", style="dim")


@app.command()
def show(
    ctx: typer.Context,
    trace_id: str = typer.Argument(
        ..., help="The trace id (32 hex characters), or its first 8 or more (`ripple trace list` shows 12)."
    ),
    full: bool = typer.Option(False, "--full", help="Show every attribute of every span."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a trace as a tree of spans: name, kind, duration, status and key attributes.

    Example: ripple trace show 4bf92f3577b34da6a3ce929d0e0e4736   (or: ripple trace show 4bf92f3577b3)
    """
    with client(ctx) as rp:
        trace = rp.traces.get(trace_id)
    if as_json:
        print_json(trace)
        return
    stdout().print(trace_tree(trace, full=full))


def _latency(text: str | None, option: str) -> float | None:
    """Milliseconds from ``500``, ``500ms`` or ``1.5s``."""
    if text is None:
        return None
    m = _LATENCY.match(text)
    if not m:
        raise InvalidError(f"{option} {text!r} is not a duration; write milliseconds (500, 500ms) or seconds (1.5s)")
    value = float(m.group(1))
    return value * 1000 if m.group(2) == "s" else value


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _duration(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1] + "…"
