"""``ripple server start``: run the platform server (REST API, OTLP, UI)."""

from __future__ import annotations

import typer

from rippleops.cli.common import settings

app = typer.Typer(no_args_is_help=True, help="The Ripple server: REST API for the SDK, CLI and UI.")


@app.command()
def start(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback requires auth."),
    port: int = typer.Option(8750, "--port", help="Port to listen on."),
    auth: bool = typer.Option(False, "--auth", help="Require an API token on every request (RIPPLE_AUTH=required)."),
) -> None:
    """Start the server on this machine's home and database, until Ctrl-C.

    Example: ripple server start --port 8750

    Example: ripple server start --host 0.0.0.0 --auth
    """
    # Imported here, not at the top: the web stack (FastAPI, uvicorn) is only needed by
    # this command, and every other command should start without loading it.
    from rippleops.server.run import serve

    serve(settings(), host=host, port=port, auth=auth)
