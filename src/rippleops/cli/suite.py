"""``ripple suite``: register eval suites (dataset, target kind, metrics, gates; their
references pinned), show, list and label them, and register Ripple's judge rubric prompts."""

from __future__ import annotations

from pathlib import Path

import typer

from rippleops.cli.common import JSON_HELP, asset_list, cell, client, echo, note, print_json, short_hash, table
from rippleops.domain.records import VersionRecord

app = typer.Typer(
    no_args_is_help=True,
    help="Eval suites: a dataset version, the kind of target, metrics and gates. Run them with `ripple eval run`.",
)

Json = typer.Option(False, "--json", help=JSON_HELP)


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Suite name, such as support-qa."),
    file: Path = typer.Option(..., "--file", "-f", help="The suite spec (YAML or JSON): dataset, metrics, gates."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
    as_json: bool = Json,
) -> None:
    """Register a new version of a suite, its references resolved and pinned.

    The dataset and the embedders, judge models and rubric prompts its metrics name are
    recorded as exact versions: a new dataset version makes the suite stale.

    Example: ripple suite create support-qa --file examples/support-qa.yaml
    """
    with client(ctx) as rp:
        record = rp.suites.create(name, file=file, message=message).record
    if as_json:
        print_json(record)
        return
    echo(record.ref)
    for i in record.inputs:
        note(f"  {i.role}: {i.ref} -> {i.resolved}", style="dim")
    if record.created is False:
        note(f"unchanged: {record.note or 'the same spec is already registered as ' + record.ref}")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = Json) -> None:
    """List suites with their latest version and labels.

    Example: ripple suite list
    """
    with client(ctx) as rp:
        items = rp.suites.list()
    asset_list("suites", items, as_json=as_json)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="support-qa, support-qa@production or support-qa:2."),
    as_json: bool = Json,
) -> None:
    """Show one suite version: dataset, columns, metrics, gates and what it pinned.

    Example: ripple suite show support-qa
    """
    with client(ctx) as rp:
        record = rp.suites.get(ref).record
    if as_json:
        print_json(record)
        return
    _show(record)


@app.command()
def versions(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Suite name, such as support-qa."),
    as_json: bool = Json,
) -> None:
    """List the versions of a suite.

    Example: ripple suite versions support-qa
    """
    with client(ctx) as rp:
        items = rp.suites.versions(name)
    if as_json:
        print_json(items)
        return
    rows = [[v.version, short_hash(v.hash), ", ".join(i.resolved for i in v.inputs), len(v.content.get("metrics") or []),
             len(v.content.get("gates") or []), v.created_at, v.labels, v.message] for v in items]  # fmt: skip
    table(
        f"suite/{name.removeprefix('suite/')} versions",
        ["version", "hash", "pinned", "metrics", "gates", "at", "labels", "message"],
        rows,
    )


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Suite name, such as support-qa."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., help="Version: 3, :3, or @staging (where another label points)."),
) -> None:
    """Point a label at a version of a suite.

    Example: ripple suite label support-qa production 2
    """
    with client(ctx) as rp:
        rec = rp.suites.label(name, label_name, version)
    echo(f"suite/{name.removeprefix('suite/')}@{rec.label} -> {rec.version}")


@app.command("init-prompts")
def init_prompts(ctx: typer.Context, as_json: bool = Json) -> None:
    """Register Ripple's judge rubric prompts that judge metrics name.

    prompt/judge-correctness, -faithfulness, -relevancy, -context-precision, -context-recall.

    Example: ripple suite init-prompts
    """
    with client(ctx) as rp:
        records = rp.suites.init_prompts()
    if as_json:
        print_json(records)
        return
    for r in records:
        echo(r.ref + ("" if r.created is not False else " (unchanged)"))


def _show(record: VersionRecord) -> None:
    c = record.content
    echo(f"{record.ref}  labels: {cell(record.labels)}  target: {c['target']}  baseline: {c['baseline']}")
    if record.description:
        echo(record.description, style="dim")
    pins = (record.recipe or {}).get("pins") or {}
    table(
        "pinned",
        ["role", "reference", "version"],
        [[i.role, i.ref, pins.get(i.ref, i.resolved)] for i in record.inputs],
    )
    table("columns", ["column", "dataset column"], [[k, v] for k, v in c["columns"].items()])
    metrics = [[m.get("as", m["name"]), m["name"], {k: v for k, v in m.items() if k not in ("name", "as")}]
               for m in c["metrics"]]  # fmt: skip
    table("metrics", ["key", "metric", "settings"], metrics)
    gates = [[g["metric"], g["stat"], *next((r, v) for r, v in g.items() if r not in ("metric", "stat"))]
             for g in c["gates"]]  # fmt: skip
    table("gates", ["metric", "stat", "rule", "threshold"], gates, empty="no gates")
    if c.get("targets"):
        echo(f"evaluates: {', '.join(c['targets'])}")
