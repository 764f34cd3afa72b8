"""``ripple db``: the database schema (Alembic migrations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from rippleops.cli.common import JSON_HELP, echo, print_json, settings

if TYPE_CHECKING:
    from rippleops.services import Services

app = typer.Typer(no_args_is_help=True, help="The metadata database: schema version and migrations.")


@app.command()
def upgrade() -> None:
    """Apply the migrations the code needs to the database (safe to run again).

    Example: ripple db upgrade

    Example: RIPPLE_DATABASE_URL=postgresql://ripple@db/ripple ripple db upgrade
    """
    services = _services()
    try:
        before = services.db.current_revision()
        services.db.upgrade()
        after = services.db.current_revision()
        if before == after:
            echo(f"{services.db.safe_url} is up to date at {after}")
        else:
            echo(f"upgraded {services.db.safe_url} from {before or 'empty'} to {after}", style="green")
    finally:
        services.close()


@app.command()
def current(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Show the database's schema version and whether it is the one the code expects.

    Example: ripple db current --json
    """
    services = _services()
    try:
        now, head = services.db.current_revision(), services.db.head_revision()
        if as_json:
            print_json({"database": services.db.safe_url, "current": now, "head": head, "up_to_date": now == head})
            return
        state = "up to date" if now == head else f"behind: the code expects {head}; run `ripple db upgrade`"
        echo(f"{services.db.safe_url}: {now or 'no schema'} ({state})")
    finally:
        services.close()


def _services() -> Services:
    # Imported here, not at the top: the services (Alembic, every model) are only needed
    # by the commands that work on the local database, and `ripple --help` or a remote
    # command should start without loading them.
    from rippleops.services import Services

    return Services(settings(), check_schema=False)
