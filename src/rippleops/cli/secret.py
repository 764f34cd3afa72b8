"""``ripple secret``: encrypted provider secrets. Values go in and are never printed."""

from __future__ import annotations

import sys

import typer

from rippleops.cli.common import JSON_HELP, client, echo, print_json, table
from rippleops.errors import InvalidError

app = typer.Typer(no_args_is_help=True, help="Encrypted secrets (API keys for providers); values are never shown.")


@app.command("set")
def set_(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Secret name, such as OPENAI_API_KEY."),
    value_stdin: bool = typer.Option(False, "--value-stdin", help="Read the value from stdin instead of a prompt."),
) -> None:
    """Set a secret of the project; the value is asked for without echo, or read from stdin.

    Example: ripple secret set OPENAI_API_KEY

    Example: printf %s "$KEY" | ripple secret set OPENAI_API_KEY --value-stdin
    """
    if value_stdin:
        value = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    else:
        value = typer.prompt(f"value of {name}", hide_input=True)
    if not value:
        raise InvalidError("the secret value is empty")
    with client(ctx) as rp:
        rec = rp.secrets.set(name, value)
    echo(f"secret {rec.name} set in project {rec.project}")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the project's secrets (names and dates only).

    Example: ripple secret list
    """
    with client(ctx) as rp:
        items = rp.secrets.list()
    if as_json:
        print_json(items)
        return
    table(
        "secrets",
        ["name", "project", "updated", "by"],
        [[s.name, s.project, s.updated_at, s.updated_by] for s in items],
    )


@app.command()
def delete(ctx: typer.Context, name: str = typer.Argument(..., help="Secret name.")) -> None:
    """Delete a secret of the project.

    Example: ripple secret delete OPENAI_API_KEY
    """
    with client(ctx) as rp:
        rec = rp.secrets.delete(name)
    echo(f"deleted secret {rec.name} from project {rec.project}")
