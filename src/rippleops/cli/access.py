"""``ripple user``, ``ripple token``, ``ripple role`` and ``ripple whoami``: who may do what."""

from __future__ import annotations

import typer

from rippleops.cli.common import JSON_HELP, client, echo, note, parse_time, print_json, table, when

users = typer.Typer(no_args_is_help=True, help="Users of this Ripple instance (instance admins manage them).")
tokens = typer.Typer(no_args_is_help=True, help="API tokens: for the server, the SDK and scripts.")
roles = typer.Typer(no_args_is_help=True, help="Roles per project: viewer, annotator, engineer, admin.")

Json = typer.Option(False, "--json", help=JSON_HELP)


@users.command("create")
def user_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User name, such as bob."),
    admin: bool = typer.Option(False, "--admin", help="Make the user an instance admin."),
) -> None:
    """Create a user (then give them a role and a token).

    Example: ripple user create bob && ripple role grant bob engineer && ripple token create --user bob
    """
    with client(ctx) as rp:
        u = rp.users.create(name, is_admin=admin)
    echo(f"created user {u.name}{' (instance admin)' if u.is_admin else ''}")


@users.command("list")
def user_list(ctx: typer.Context, as_json: bool = Json) -> None:
    """List users with their roles.

    Example: ripple user list --json
    """
    with client(ctx) as rp:
        items = rp.users.list()
    if as_json:
        print_json(items)
        return
    rows = [[u.name, u.is_admin, u.is_active, u.roles, u.created_at] for u in items]
    table("users", ["name", "admin", "active", "roles", "created"], rows)


def whoami(ctx: typer.Context, as_json: bool = Json) -> None:
    """Show who the current token belongs to, and their roles.

    Example: ripple whoami
    """
    with client(ctx) as rp:
        me = rp.users.me()
        where = rp.transport.url
    if as_json:
        print_json(me)
        return
    echo(f"{me.name}{' (instance admin)' if me.is_admin else ''} on {where}")
    for project, role in me.roles.items():
        echo(f"  {project}: {role}")


@tokens.command("create")
def token_create(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", help="Whose token (default: yours; others need an admin)."),
    name: str = typer.Option("api", "--name", help="What the token is for."),
    expires: str | None = typer.Option(None, "--expires", help="Expiry: a duration such as 30d, or an ISO time."),
    as_json: bool = Json,
) -> None:
    """Create an API token. The token is shown once: store it now.

    Only the token goes to stdout, so TOKEN=$(ripple token create --name ci) works.

    Example: ripple token create --user bob --name laptop --expires 30d
    """
    expires_at = parse_time(expires, future=True, option="--expires") if expires else None
    with client(ctx) as rp:
        t = rp.tokens.create(user=user, name=name, expires_at=expires_at)
    if as_json:
        print_json(t)
    else:
        typer.echo(t.token)
    note(
        f"token {t.id} ({t.name}) for {t.user}, expires {when(t.expires_at) if t.expires_at else 'never'}: "
        "store it now, it will not be shown again"
    )


@tokens.command("list")
def token_list(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", help="Only this user's tokens (admins)."),
    as_json: bool = Json,
) -> None:
    """List API tokens (their prefixes only; tokens themselves are never stored).

    Example: ripple token list
    """
    with client(ctx) as rp:
        items = rp.tokens.list(user=user)
    if as_json:
        print_json(items)
        return
    rows = [[t.id, t.user, t.name, t.prefix + "...", t.created_at, t.expires_at, t.revoked_at] for t in items]
    table("tokens", ["id", "user", "name", "prefix", "created", "expires", "revoked"], rows)


@tokens.command("revoke")
def token_revoke(
    ctx: typer.Context, token_id: int = typer.Argument(..., metavar="ID", help="Token id (see token list).")
) -> None:
    """Revoke an API token; it stops working at once.

    Example: ripple token revoke 3
    """
    with client(ctx) as rp:
        t = rp.tokens.revoke(token_id)
    echo(f"revoked token {t.id} ({t.name}) of {t.user}")


@roles.command("grant")
def role_grant(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="User name."),
    role: str = typer.Argument(..., help="viewer, annotator, engineer or admin."),
    project: str | None = typer.Option(None, "--project", help="Project (default: the global --project)."),
) -> None:
    """Give a user a role in a project (replacing the one they had).

    Example: ripple role grant bob engineer --project support
    """
    with client(ctx) as rp:
        m = rp.roles.grant(user, role, project=project)
    echo(f"{m.user} is {m.role} in project {m.project}")


@roles.command("revoke")
def role_revoke(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="User name."),
    project: str | None = typer.Option(None, "--project", help="Project (default: the global --project)."),
) -> None:
    """Take a user's role in a project away.

    Example: ripple role revoke bob --project support
    """
    with client(ctx) as rp:
        m = rp.roles.revoke(user, project=project)
    echo(f"{m.user} no longer has a role in project {m.project} (was {m.role})")


@roles.command("list")
def role_list(
    ctx: typer.Context,
    project: str | None = typer.Option(None, "--project", help="Project (default: the global --project)."),
    as_json: bool = Json,
) -> None:
    """List the members of a project and their roles.

    Example: ripple role list --json
    """
    with client(ctx) as rp:
        items = rp.roles.list(project=project)
    if as_json:
        print_json(items)
        return
    table("roles", ["project", "user", "role"], [[m.project, m.user, m.role] for m in items])
