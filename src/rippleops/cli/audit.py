"""``ripple audit``: read the hash-chained audit log and verify it."""

from __future__ import annotations

import typer

from rippleops.cli.common import JSON_HELP, client, echo, error, parse_time, print_json, table

app = typer.Typer(no_args_is_help=True, help="The append-only, hash-chained audit log (instance admins).")

# `ripple audit verify` exits with this when the chain is broken: scripts and monitors can
# tell a tampered log apart from an error running the command (codes 1-8, see errors.py).
AUDIT_BROKEN_EXIT = 9


@app.command()
def log(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="Only events since: 30m, 1h, 2d or an ISO time."),
    project: str | None = typer.Option(None, "--project", help="Only events of this project."),
    action: str | None = typer.Option(None, "--action", help="Only actions starting with this, such as label."),
    actor: str | None = typer.Option(None, "--actor", help="Only events by this user."),
    limit: int = typer.Option(100, "--limit", help="At most this many of the newest events."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show audit events, oldest first.

    Example: ripple audit log --since 1h --action label
    """
    since_at = parse_time(since, future=False, option="--since") if since else None
    with client(ctx) as rp:
        events = rp.audit.log(since=since_at, project=project, action=action, actor=actor, limit=limit)
    if as_json:
        print_json(events)
        return
    rows = [[e.id, e.at, e.actor, e.project, e.action, e.target] for e in events]
    table("audit log", ["id", "at", "actor", "project", "action", "target"], rows, empty="no events match")


@app.command()
def verify(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check the audit chain: every event links to the one before and nothing was removed.

    Exits 0 when the log is intact and 9 when it is not, naming the first bad event.

    Example: ripple audit verify
    """
    with client(ctx) as rp:
        result = rp.audit.verify()
    if as_json:
        print_json(result)
    elif result.ok:
        echo(f"audit log OK: {result.events} events", style="green")
    else:
        error(f"audit log is broken at event {result.first_bad_id}: {result.problem}")
    if not result.ok:
        raise typer.Exit(AUDIT_BROKEN_EXIT)
