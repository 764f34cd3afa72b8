"""``ripple app``: register app versions (their parts resolved and pinned), show, list and
label them, and run them (``ripple app run``)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from rippleops.cli.common import (
    JSON_HELP,
    asset_list,
    client,
    echo,
    note,
    parse_vars,
    print_json,
    short_hash,
    stdout,
    table,
)
from rippleops.cli.model import MaxTokens, Param, Seed, Stop, Temperature, TopP, call_params
from rippleops.domain.records import AppRunRecord, VersionRecord

app = typer.Typer(
    no_args_is_help=True,
    help="App versions: steps over other assets (guard, retrieve, render, generate, tools, agent), "
    "each part pinned to an exact version. Run them with `ripple app run`.",
)

Json = typer.Option(False, "--json", help=JSON_HELP)


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="App name, such as support-bot."),
    file: Path = typer.Option(..., "--file", "-f", help="The app spec (YAML or JSON): steps and tools."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
    as_json: bool = Json,
) -> None:
    """Register a new version of an app; every part it references is resolved now and pinned
    (the same spec over the same part versions is a no-op).

    Example: ripple app create support-bot --file examples/support-bot.yaml
    """
    with client(ctx) as rp:
        record = rp.apps.create(name, file=file, message=message).record
    if as_json:
        print_json(record)
        return
    echo(record.ref)
    for i in record.inputs:
        note(f"  {i.role}: {i.ref} -> {i.resolved}", style="dim")
    if record.created is False:
        note(f"unchanged: {record.note or 'the same spec is already registered as ' + record.ref}")


@app.command("list")
def list_(
    ctx: typer.Context,
    tag: str | None = typer.Option(None, "--tag", help="Only apps with this tag."),
    label_name: str | None = typer.Option(None, "--label", help="Only apps with this label."),
    as_json: bool = Json,
) -> None:
    """List apps with their latest version, labels and tags.

    Example: ripple app list --label production
    """
    with client(ctx) as rp:
        items = rp.apps.list(tag=tag, label=label_name)
    asset_list("apps", items, as_json=as_json)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="support-bot, support-bot@production or support-bot:2."),
    as_json: bool = Json,
) -> None:
    """Show one version of an app: its steps, tools and the exact part versions it pinned.

    Example: ripple app show support-bot@production
    """
    with client(ctx) as rp:
        record = rp.apps.get(ref).record
    if as_json:
        print_json(record)
        return
    _show(record)


@app.command()
def versions(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="App name, such as support-bot."),
    as_json: bool = Json,
) -> None:
    """List the versions of an app.

    Example: ripple app versions support-bot
    """
    with client(ctx) as rp:
        items = rp.apps.versions(name)
    if as_json:
        print_json(items)
        return
    rows = [[v.version, short_hash(v.hash), len(v.content.get("steps") or []), ", ".join(i.resolved for i in v.inputs),
             v.created_by, v.created_at, v.labels, v.message] for v in items]  # fmt: skip
    table(
        f"app/{name.removeprefix('app/')} versions",
        ["version", "hash", "steps", "pinned", "by", "at", "labels", "message"],
        rows,
    )


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="App name, such as support-bot."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., help="Version: 3, :3, or @staging (where another label points)."),
) -> None:
    """Point a label at a version of an app (moving production needs an admin).

    Example: ripple app label support-bot production 2
    """
    with client(ctx) as rp:
        rec = rp.apps.label(name, label_name, version)
    echo(f"app/{name.removeprefix('app/')}@{rec.label} -> {rec.version}")


@app.command()
def run(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="support-bot, support-bot@production or support-bot:2."),
    question: str = typer.Argument(..., help="The question; - reads stdin."),
    var: list[str] = typer.Option([], "--var", help="An extra prompt variable as name=value; repeat for more."),
    vars_json: str | None = typer.Option(None, "--vars-json", help="Extra variables as a JSON object."),
    max_tokens: int | None = MaxTokens,
    temperature: float | None = Temperature,
    top_p: float | None = TopP,
    seed: int | None = Seed,
    stop: list[str] = Stop,
    param: list[str] = Param,
    stream: bool = typer.Option(False, "--stream", help="Print the answer as it comes."),
    as_json: bool = Json,
) -> None:
    """Run an app version: the answer on stdout, then sources, guard decisions, tokens, cost,
    latency and the trace id on stderr.

    Example: ripple app run support-bot@production "How do I roll back a prompt?"

    Example: ripple app run support-bot "Why?" --var tone=brief --max-tokens 32 --stream
    """
    if question == "-":
        question = sys.stdin.read()
    variables = parse_vars(var, vars_json)
    params = call_params(max_tokens, temperature, top_p, seed, stop, param)
    with client(ctx) as rp:
        if stream and not as_json:
            with rp.apps.stream(ref, question, variables=variables, **params) as s:
                for delta in s:
                    sys.stdout.write(delta)
                    sys.stdout.flush()
                record = s.record
            if not record.output.endswith("\n"):
                sys.stdout.write("\n")
        else:
            record = rp.apps.invoke(ref, question, variables=variables, **params)
    if as_json:
        print_json(record)
        return
    if not stream:
        typer.echo(record.output, nl=not record.output.endswith("\n"))
    _report(record)


def _report(r: AppRunRecord) -> None:
    for i, s in enumerate(r.sources, 1):
        note(f"[{i}] {s['doc_id']} chars {s['start']}-{s['end']} (score {s['score']:.3f}, {s['index']})", style="dim")
    for g in r.guards:
        failed = [f["validator"] for f in g["findings"] if not f.get("passed", True)]
        extra = f" ({', '.join(failed)})" if failed else ""
        note(f"guard {g['stage']}: {g['decision']} by {g['policy']}{extra}", style="dim")
    u, c = r.usage, r.cost
    tokens = (
        f"{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens" if u.reported else "tokens not reported"
    )
    note(
        f"{r.app} · {tokens} · cost {c.total:.6f} {c.currency} · {r.latency_s:.2f} s · finish: {r.finish_reason}",
        style="dim",
    )
    note(f"trace {r.trace_id}", style="dim")


def _show(r: VersionRecord) -> None:
    out = stdout()
    out.print(f"[bold]{escape(r.ref)}[/bold]  labels: {escape(', '.join(r.labels) or '-')}", highlight=False)
    if r.description:
        out.print(escape(r.description), highlight=False)
    for i, step in enumerate(r.content.get("steps") or []):
        ((kind, fields),) = step.items()
        detail = ", ".join(f"{k}: {v}" for k, v in fields.items() if v not in ({}, [], None))
        out.print(f"  {i}. [cyan]{kind}[/cyan]  {escape(detail)}", highlight=False)
    for t in r.content.get("tools") or []:
        how = t.get("python") or t.get("entry_point") or (t.get("http") or {}).get("url")
        out.print(
            f"  tool [cyan]{escape(t['name'])}[/cyan]: {escape(str(how))} (timeout {t['timeout_s']:g} s)",
            highlight=False,
        )
    for edge in r.inputs:
        out.print(f"  pinned {escape(edge.role)}: {escape(edge.ref)} -> {escape(edge.resolved)}", highlight=False)
    out.print(
        f"  hash {short_hash(r.hash)} · by {escape(r.created_by)} · {r.created_at:%Y-%m-%d %H:%M}", highlight=False
    )
