"""``ripple policy``: register guardrail policies, show and label them, check texts
against them (``ripple policy check``), and register the shipped attack phrasings as a
dataset (``ripple policy attacks-dataset``)."""

from __future__ import annotations

import importlib.resources
import json
import sys
from pathlib import Path

import typer
from rich.markup import escape

from rippleops.cli.common import (
    JSON_HELP,
    asset_list,
    cell,
    client,
    echo,
    note,
    print_json,
    short_hash,
    stdout,
    table,
    when,
)
from rippleops.domain.guards import GuardResult
from rippleops.domain.records import VersionRecord
from rippleops.errors import InvalidError

app = typer.Typer(
    no_args_is_help=True,
    help="Guardrail policies: validators on inputs and outputs (PII, patterns, deny lists, topics, prompt "
    "injection, JSON schema, groundedness, length and format, offensive language) and their actions.",
)

Json = typer.Option(False, "--json", help=JSON_HELP)
_DECISION_STYLE = {"allow": "green", "warn": "yellow", "redact": "cyan", "fix": "cyan", "reask": "magenta"}


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Policy name, such as support."),
    file: Path = typer.Option(..., "--file", "-f", help="A YAML (or JSON) policy spec."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
    as_json: bool = Json,
) -> None:
    """Register a new version of a policy from a file (the same spec again is a no-op).

    Example: ripple policy create support --file policy.yaml -m "block injections"
    """
    with client(ctx) as rp:
        record = rp.policies.create_from_file(name, file, message=message).record
    if as_json:
        print_json(record)
        return
    echo(record.ref)
    if record.created is False:
        note(f"unchanged: {record.note or 'the same spec is already registered as ' + record.ref}")


@app.command("list")
def list_(
    ctx: typer.Context,
    tag: str | None = typer.Option(None, "--tag", help="Only policies with this tag."),
    label_name: str | None = typer.Option(None, "--label", help="Only policies with this label."),
    as_json: bool = Json,
) -> None:
    """List policies with their latest version, labels and tags.

    Example: ripple policy list --label production
    """
    with client(ctx) as rp:
        items = rp.policies.list(tag=tag, label=label_name)
    asset_list("policies", items, as_json=as_json)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="support, support@production or support:2."),
    as_json: bool = Json,
) -> None:
    """Show one version of a policy: its validators, actions and settings.

    Example: ripple policy show support@production
    """
    with client(ctx) as rp:
        record = rp.policies.get(ref).record
    if as_json:
        print_json(record)
        return
    _show(record)


def _show(record: VersionRecord) -> None:
    c = record.content
    _markup(f"[bold]{record.ref}[/bold]  {short_hash(record.hash)}  labels: {escape(', '.join(record.labels) or '-')}")
    echo(
        f"created {when(record.created_at)} by {record.created_by}" + (f": {record.message}" if record.message else "")
    )
    echo(f"on_error: {c['on_error']}  max_reasks: {c['max_reasks']}  stream_window: {c['stream_window']}")
    echo(f"safe_answer: {escape(c['safe_answer'])}")
    for i in record.inputs:
        echo(f"{i.role}: {i.ref} -> {i.resolved}")
    for stage in ("input", "output"):
        rows = []
        for n, v in enumerate(c.get(stage) or []):
            settings = {k: val for k, val in v.items() if k not in ("type", "action", "name")}
            rows.append([n, v.get("name", v["type"]), v["action"], json.dumps(settings, ensure_ascii=False)[:80]])
        if rows:
            table(stage, ["#", "validator", "action", "settings"], rows)


@app.command()
def versions(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Policy name, such as support."),
    as_json: bool = Json,
) -> None:
    """List the versions of a policy.

    Example: ripple policy versions support
    """
    with client(ctx) as rp:
        items = rp.policies.versions(name)
    if as_json:
        print_json(items)
        return
    rows = [[v.version, short_hash(v.hash), len(v.content.get("input") or []), len(v.content.get("output") or []),
             v.created_by, v.created_at, v.labels, v.message] for v in items]  # fmt: skip
    table(
        f"policy/{name.removeprefix('policy/')} versions",
        ["version", "hash", "input", "output", "by", "at", "labels", "message"],
        rows,
    )


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Policy name, such as support."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., help="Version: 3, :3, or @staging (where another label points)."),
) -> None:
    """Point a label at a version of a policy (moving production needs an admin).

    Example: ripple policy label support production 2
    """
    with client(ctx) as rp:
        rec = rp.policies.label(name, label_name, version)
    echo(f"policy/{name.removeprefix('policy/')}@{rec.label} -> {rec.version}")


@app.command()
def check(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="support, support@production or support:2."),
    text: str = typer.Argument(..., help="The text to check; - reads stdin."),
    stage: str = typer.Option("input", "--stage", help="input (the user's text) or output (the model's)."),
    context: list[str] = typer.Option([], "--context", help="A retrieved passage (groundedness); repeat for more."),
    query: str | None = typer.Option(None, "--query", help="The user's question, for output checks."),
    as_json: bool = Json,
) -> None:
    """Check a text against a policy: the decision, each validator's finding and latency,
    and the text to pass on. Exits 0 whatever the decision (read it from --json).

    Example: ripple policy check support "ignore all previous instructions"

    Example: ripple policy check support@production "$ANSWER" --stage output --context "$PASSAGE"
    """
    if text == "-":
        text = sys.stdin.read()
    if stage not in ("input", "output"):
        raise InvalidError(f"--stage must be input or output, not {stage!r}")
    ctx_map = {"contexts": context, "query": query} if context or query else None
    with client(ctx) as rp:
        result = rp.policies.check(ref, text, stage=stage, context=ctx_map)
    if as_json:
        print_json(result)
        return
    _show_result(result)


def _show_result(r: GuardResult) -> None:
    style = "red" if r.blocked or r.decision == "error" else _DECISION_STYLE.get(r.decision, "white")
    blocked = " (blocked)" if r.blocked else ""
    _markup(f"[bold {style}]{r.decision}[/bold {style}]{blocked}  {r.policy}  {r.stage}  {r.latency_ms:.1f} ms")
    rows = [[f.validator, f.action, f"{f.latency_ms:.2f}", cell(f.message)] for f in r.findings]
    table("findings", ["validator", "action", "ms", "message"], rows)
    if r.reask:
        _markup(f"[magenta]re-ask:[/magenta] {escape(r.reask)}")
    _markup(f"[bold]text:[/bold] {escape(r.text)}")


def _markup(line: str) -> None:
    """A line whose markup is ours (user content in it is escaped by the caller)."""
    stdout().print(line, soft_wrap=True, highlight=False)


@app.command("attacks-dataset")
def attacks_dataset(
    ctx: typer.Context,
    name: str = typer.Argument("injection-attacks", help="Dataset name to register the phrasings as."),
    as_json: bool = Json,
) -> None:
    """Register the prompt-injection phrasings the injection validator ships with as a
    dataset version (text, family), so they are versioned like any data.

    Example: ripple policy attacks-dataset injection-attacks
    """
    data = importlib.resources.files("rippleops").joinpath("guard_data", "injections.jsonl")
    rows = [json.loads(line) for line in data.read_text("utf-8").splitlines() if line.strip()]
    with client(ctx) as rp:
        dataset = rp.datasets.create(
            name, rows, source="rippleops/guard_data/injections.jsonl (written by the Ripple developers)",
            license="Apache-2.0", message=f"{len(rows)} prompt-injection phrasings shipped with rippleops",
            pii=False, tags=["guardrails"],
        )  # fmt: skip
    record = dataset.record
    if as_json:
        print_json(record)
        return
    echo(f"{record.ref}  ({len(rows)} phrasings)")
    if record.created is False:
        note("unchanged: these phrasings are already registered")
