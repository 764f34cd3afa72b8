"""``ripple project``: create and list projects."""

from __future__ import annotations

import typer

from rippleops.cli.common import JSON_HELP, client, echo, print_json, table

app = typer.Typer(no_args_is_help=True, help="Projects: every asset, secret and role lives in one.")


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Project name, such as support."),
    description: str = typer.Option("", "--description", "-d", help="What the project is for."),
) -> None:
    """Create a project (instance admins).

    Example: ripple project create support --description "support bot"
    """
    with client(ctx) as rp:
        p = rp.projects.create(name, description)
    echo(f"created project {p.name}")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the projects you can see.

    Example: ripple project list --json
    """
    with client(ctx) as rp:
        items = rp.projects.list()
    if as_json:
        print_json(items)
        return
    table(
        "projects",
        ["name", "description", "created", "by"],
        [[p.name, p.description, p.created_at, p.created_by] for p in items],
    )
