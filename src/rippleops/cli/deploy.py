"""``ripple deploy``: deploy an app version to an environment on a target (local process,
Docker, Kubernetes, Ray Serve), promote between environments, and inspect or stop deployments.

``ripple deploy APP_REF ...`` is short for ``ripple deploy start APP_REF ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from rippleops.cli.common import JSON_HELP, client, echo, note, print_json, table
from rippleops.domain.deployments import TARGETS, DeploymentRecord
from rippleops.sdk.deployments import write_files


class DeployGroup(TyperGroup):
    """``ripple deploy APP_REF`` runs ``start``; the other words are subcommands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["start", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DeployGroup,
    no_args_is_help=True,
    help="Deploy apps: `ripple deploy support-bot@staging --env staging --target local|docker|k8s|ray-serve`; "
    "then promote, status, stop, list.",
)
Json = typer.Option(False, "--json", help=JSON_HELP)


@app.command()
def start(
    ctx: typer.Context,
    app_ref: str = typer.Argument(..., metavar="APP_REF", help="support-bot@staging, app/support-bot:3 ..."),
    env: str = typer.Option(..., "--env", help="dev, staging, production or another name: the app label it moves."),
    target: str = typer.Option("local", "--target", help="One of: " + ", ".join(TARGETS) + "."),
    port: int | None = typer.Option(None, "--port", help="Port the served process listens on (8760)."),
    replicas: int | None = typer.Option(None, "--replicas", help="k8s / ray-serve: replicas (1)."),
    image: str | None = typer.Option(None, "--image", help="docker / k8s: image name (ripple-app/APP:N)."),
    out: Path | None = typer.Option(None, "--out", help="Templates: folder to write (./deploy/NAME/)."),
    as_json: bool = Json,
) -> None:
    """Deploy an app version: run it (local) or render its files (docker, k8s, ray-serve).

    The app version is pinned and its ENV label moved to it (moving production needs an admin).

    Example: ripple deploy support-bot@staging --env staging --target local --port 8761

    Example: ripple deploy app/support-bot:3 --env production --target k8s --replicas 3 --out deploy/k8s
    """
    with client(ctx) as rp:
        record = rp.deployments.create(app_ref, env=env, target=target, port=port, replicas=replicas, image=image)
    _done(record, out, as_json, verb="deployed")


@app.command()
def promote(
    ctx: typer.Context,
    app_name: str = typer.Argument(..., metavar="APP", help="The app, such as support-bot."),
    source: str = typer.Option(..., "--from", help="Environment whose app version is promoted, such as staging."),
    to: str = typer.Option(..., "--to", help="Environment to promote to, such as production."),
    out: Path | None = typer.Option(None, "--out", help="Templates: folder to write (./deploy/NAME/)."),
    as_json: bool = Json,
) -> None:
    """Move the TO label to the app version FROM runs and redeploy TO (audited).

    Example: ripple deploy promote support-bot --from staging --to production
    """
    with client(ctx) as rp:
        record = rp.deployments.promote(app_name, source=source, to=to)
    _done(record, out, as_json, verb=f"promoted {source} ->")


@app.command()
def status(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="A deployment, such as support-bot-staging (default: all)."),
    as_json: bool = Json,
) -> None:
    """Target, app version, environment, endpoint, pid, health and restarts.

    Example: ripple deploy status support-bot-staging
    """
    with client(ctx) as rp:
        records = [rp.deployments.get(name)] if name else rp.deployments.list()
    if as_json:
        print_json(records[0] if name else records)
        return
    if name:
        _show(records[0])
        return
    _table(records)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = Json) -> None:
    """Every deployment of the project.

    Example: ripple deploy list
    """
    with client(ctx) as rp:
        records = rp.deployments.list()
    if as_json:
        print_json(records)
        return
    _table(records)


@app.command()
def stop(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A local deployment, such as support-bot-staging."),
    as_json: bool = Json,
) -> None:
    """Stop a local deployment: its supervisor stops the served process.

    Example: ripple deploy stop support-bot-staging
    """
    with client(ctx) as rp:
        record = rp.deployments.stop(name)
    if as_json:
        print_json(record)
        return
    echo(f"stopped {record.name} ({record.app})")


@app.command()
def files(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A template deployment, such as support-bot-production."),
    out: Path | None = typer.Option(None, "--out", help="Folder to write (./deploy/NAME/)."),
) -> None:
    """Render a template deployment's files again into a folder.

    Example: ripple deploy files support-bot-production --out deploy/prod
    """
    with client(ctx) as rp:
        record = rp.deployments.files(name)
    folder = write_files(record, out)
    echo(f"wrote {', '.join(sorted(record.files))} into {folder}")


def _done(record: DeploymentRecord, out: Path | None, as_json: bool, *, verb: str) -> None:
    folder = write_files(record, out) if record.files else None
    if as_json:
        print_json(record if folder is None else record.model_copy(update={"log": str(folder)}))
        return
    echo(f"{verb} {record.app} to {record.env} ({record.ref}, target {record.target})")
    if folder is not None:
        echo(f"wrote {', '.join(sorted(record.files))} into {folder}; see its README.md")
        return
    if record.status == "running":
        echo(f"running at {record.endpoint} (pid {record.pid}, health {record.health})", style="green")
    else:
        note(f"status {record.status}: {record.message} (log: {record.log})")
        raise typer.Exit(1)


def _show(r: DeploymentRecord) -> None:
    fields: list[tuple[str, Any]] = [
        ("deployment", r.ref),
        ("app", r.app),
        ("env", r.env),
        ("target", r.target),
        ("status", r.status),
        ("health", r.health),
        ("endpoint", r.endpoint),
        ("pid", r.pid),
        ("supervisor", r.supervisor_pid),
        ("restarts", r.restarts),
        ("last exit", r.last_exit),
        ("replicas", r.replicas if r.target != "local" else None),
        ("image", r.image),
        ("message", r.message or None),
        ("log", r.log),
    ]
    for key, value in fields:
        if value is not None:
            echo(f"{key:>11}: {value}")


def _table(records: list[DeploymentRecord]) -> None:
    rows = [[r.name, r.app, r.env, r.target, r.status, r.health, r.endpoint, r.pid, r.restarts] for r in records]
    table(
        "deployments",
        ["name", "app", "env", "target", "status", "health", "endpoint", "pid", "restarts"],
        rows,
        empty="no deployments yet",
    )
