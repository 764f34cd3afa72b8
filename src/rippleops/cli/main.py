"""``ripple``: the command line. Each noun is a sub-app in its own module; this one builds
the root app, its global options and ``ripple init``."""

from __future__ import annotations

import getpass
import sys

import typer

from rippleops import __version__
from rippleops.cli import (
    access,
    asset,
    audit,
    dataset,
    db,
    deploy,
    embedder,
    index,
    job,
    model,
    policy,
    project,
    prompt,
    ripple,
    search,
    secret,
    serve,
    server,
    sweep,
    synth,
    trace,
)
from rippleops.cli import (
    app as app_cli,
)
from rippleops.cli import eval as eval_cli
from rippleops.cli import suite as suite_cli
from rippleops.cli.common import GlobalOptions, RippleGroup, echo, settings
from rippleops.domain.refs import validate_name
from rippleops.errors import InvalidError

app = typer.Typer(
    name="ripple",
    cls=RippleGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Ripple: every piece of a generative-AI system as a versioned asset with lineage.\n\n"
    "Works on the local home ($RIPPLE_HOME, ~/.ripple) unless --server / RIPPLE_SERVER_URL is set.\n\n"
    "Start with: ripple init",
)
app.add_typer(prompt.app, name="prompt")
app.add_typer(dataset.app, name="dataset")
app.add_typer(model.app, name="model")
app.add_typer(embedder.app, name="embedder")
app.add_typer(policy.app, name="policy")
app.add_typer(asset.app, name="asset")
app.add_typer(index.app, name="index")
app.add_typer(search.app, name="search")
app.add_typer(synth.app, name="synth")
app.add_typer(job.app, name="job")
app.add_typer(app_cli.app, name="app")
app.add_typer(audit.app, name="audit")
app.add_typer(trace.app, name="trace")
app.add_typer(access.users, name="user")
app.add_typer(access.tokens, name="token")
app.add_typer(access.roles, name="role")
app.add_typer(secret.app, name="secret")
app.add_typer(project.app, name="project")
app.add_typer(server.app, name="server")
app.add_typer(db.app, name="db")
app.add_typer(deploy.app, name="deploy")
app.add_typer(suite_cli.app, name="suite")
app.add_typer(eval_cli.app, name="eval")
# issue 6: the ripple engine
app.command("impact")(ripple.impact)
app.command("stale")(ripple.stale)
app.command("apply")(ripple.apply)
app.command("lineage")(asset.lineage)
app.command("whoami")(access.whoami)
app.command("serve")(serve.serve)
app.command("sweep")(sweep.sweep)  # issue 6: knob sweeps


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ripple {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    project: str | None = typer.Option(
        None, "--project", help="Project to work in (RIPPLE_PROJECT, default: default)."
    ),
    server_url: str | None = typer.Option(None, "--server", help="Ripple server URL (overrides RIPPLE_SERVER_URL)."),
    token: str | None = typer.Option(None, "--token", help="API token (overrides RIPPLE_TOKEN)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Ripple: every piece of a generative-AI system as a versioned asset with lineage."""
    ctx.obj = GlobalOptions(project=project, server=server_url, token=token)


@app.command()
def init(
    admin: str | None = typer.Option(None, "--admin", help="Name of the first admin (default: your OS user name)."),
) -> None:
    """Set up the home folder and database, and create the first admin and its token.

    Safe to run again: it only fills in what is missing.

    Example: ripple init --admin alice
    """
    # imported here for the same reason as in cli/db.py: only local commands need the services
    from rippleops.services import initialise

    s = settings()
    result = initialise(s, admin or _default_admin())
    if result["admin"] is None:
        echo(f"Ripple is already set up in {result['home']} (database {result['database']})")
        if s.token_file.is_file():
            echo(f"the admin token is in {s.token_file}")
        return
    echo(f"initialised Ripple in {result['home']}", style="green")
    echo(f"database: {result['database']} (schema {result['revision']})")
    echo(f"admin: {result['admin']}")
    echo(f"admin token written to {result['token_file']} (mode 0600)")


def _default_admin() -> str:
    try:
        return validate_name(getpass.getuser(), "admin user name")
    except (InvalidError, OSError, KeyError):  # getuser raises OSError/KeyError without a user name
        return "admin"


def main() -> None:
    """The ``ripple`` executable; with no arguments it shows the help (and exits 0)."""
    args = sys.argv[1:] or ["--help"]
    app(args=args, prog_name="ripple")
