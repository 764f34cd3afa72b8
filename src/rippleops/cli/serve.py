"""``ripple serve``: a lean process serving app versions over the OpenAI-compatible routes
(what a deployment target runs)."""

from __future__ import annotations

import typer

from rippleops.cli.common import echo, options, settings

DEFAULT_PORT = 8760


def serve(
    ctx: typer.Context,
    apps: list[str] = typer.Argument(
        ..., metavar="APP_REF...", help="Apps to serve: support-bot@production, app/x:3 ..."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback requires auth."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
    auth: bool = typer.Option(False, "--auth", help="Require an API token on every request (RIPPLE_AUTH=required)."),
    project: str | None = typer.Option(None, "--project", help="Project of the apps (default: the global one)."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn's log level."),
) -> None:
    """Serve apps at /v1/chat/completions and /v1/models (OpenAI-compatible) until Ctrl-C.

    Labels are resolved once, at start, and pinned: a label moved later changes nothing until
    a restart. The models and embedders the apps use are loaded before the port opens.

    Example: ripple serve support-bot@production

    Example: ripple serve app/support-bot:3 app/faq@staging --port 8761

    Example: ripple serve support-bot@production --host 0.0.0.0 --auth
    """
    # imported here: only this command needs the web stack
    import uvicorn

    from rippleops.server.run import check_bind
    from rippleops.server.serving import create_serving_app

    s = settings()
    required = check_bind(s, host, auth)
    app = create_serving_app(s, apps, project=project or options(ctx).project, auth_required=required)
    shown = f"[{host}]" if ":" in host else host
    for served in app.state.served:
        echo(f"serving {served.describe()} at http://{shown}:{port}/v1 (model {served.model_id!r})")
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, server_header=False)
