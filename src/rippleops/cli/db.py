"""``ripple db``: the database schema (Alembic migrations)."""

from __future__ import annotations

import typer

from rippleops.cli.common import echo, settings
from rippleops.services import Services

app = typer.Typer(no_args_is_help=True, help="The metadata database: schema version and migrations.")


@app.command()
def upgrade() -> None:
    """Apply the migrations the code needs to the database (safe to run again).

    Example: RIPPLE_DATABASE_URL=postgresql://ripple@db/ripple ripple db upgrade
    """
    services = Services(settings(), check_schema=False)
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
def current() -> None:
    """Show the database's schema version and whether it is the one the code expects.

    Example: ripple db current
    """
    services = Services(settings(), check_schema=False)
    try:
        now, head = services.db.current_revision(), services.db.head_revision()
        state = "up to date" if now == head else f"behind: the code expects {head}; run `ripple db upgrade`"
        echo(f"{services.db.safe_url}: {now or 'no schema'} ({state})")
    finally:
        services.close()
