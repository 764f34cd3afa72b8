"""``ripple dataset``: import, list, show, head, diff, export, quality and bias reports, labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.text import Text

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
from rippleops.cli.dataset_reports import FINDINGS, render_bias, render_diff, render_quality
from rippleops.cli.job import report, run_and_follow
from rippleops.domain.jobs import JobState
from rippleops.domain.records import VersionRecord

app = typer.Typer(
    no_args_is_help=True,
    help="Versioned datasets: import CSV, JSONL, Parquet or a folder of documents; show, diff, export, "
    "quality and bias reports.",
)

Json = typer.Option(False, "--json", help=JSON_HELP)
MAX_CELL = 60


@app.command()
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Dataset name, such as faq."),
    path: Path = typer.Argument(..., help="A .csv/.tsv, .jsonl, .parquet file, or a folder of documents."),
    format: str | None = typer.Option(None, "--format", help="csv, jsonl, parquet or docs (default: from the path)."),
    key: str | None = typer.Option(None, "--key", help="The column that identifies a row (unique, never empty)."),
    license: str | None = typer.Option(None, "--license", help="The data's license, such as CC-BY-4.0."),
    source: str | None = typer.Option(None, "--source", help="Where the data comes from (default: the file's URI)."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message of the new version."),
    encoding: str | None = typer.Option(None, "--encoding", help="Text encoding of the file (default utf-8)."),
    delimiter: str | None = typer.Option(None, "--delimiter", help="CSV field separator (default ',', tab for .tsv)."),
    label_column: str | None = typer.Option(None, "--label-column", help="A class label column (label balance)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag for the version; repeat for more."),
    no_pii: bool = typer.Option(False, "--no-pii", help="Skip the scan for personal data (slow on big texts)."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once the job is queued (on a server)."),
    as_json: bool = Json,
) -> None:
    """Import a file or a folder of documents as a new dataset version, as a job with a progress bar.

    The records are stored as Parquet with their schema, provenance (source, license, who
    imported them) and a quality report. Importing the same data, schema and provenance
    again creates nothing and says which version holds it. Malformed rows are reported with
    their line numbers and nothing is registered. Against a server (--server) the file is
    uploaded.

    Example: ripple dataset add faq data/faq.csv --key id --license CC-BY-4.0

    Example: ripple dataset add docs handbook/ --message "handbook as of May"

    Example: ripple dataset add legacy old.csv --encoding latin-1 --delimiter ';'
    """
    with client(ctx) as rp:

        def start(on_update: Any) -> Any:
            return rp.datasets.import_job(
                name, path, format=format, key=key, license=license, source=source, message=message or "",
                encoding=encoding, delimiter=delimiter, label_column=label_column, pii=not no_pii, tags=tag or None,
                wait=not no_wait, on_update=on_update,
            )  # fmt: skip

        job = start(None) if no_wait else run_and_follow(start, f"importing {path}")
        if no_wait or job.state is not JobState.SUCCEEDED:
            report(job, as_json)
            return
        record = rp.datasets.get(job.result["ref"]).record
    record = record.model_copy(update={"created": job.result["created"], "note": job.result.get("note")})
    if as_json:
        print_json(record)
        return
    c = record.content
    echo(f"{record.ref}  ({c['rows']:,} rows, {len(c['schema'])} columns, {_size(c['bytes'])})")
    if record.created is False:
        note(f"unchanged: {record.note or 'the same data is already ' + record.ref}")
    warnings = (c.get("quality") or {}).get("warnings")
    if warnings:
        what = "a warning" if warnings == 1 else f"{warnings} warnings"
        note(f"the quality report has {what}: ripple dataset quality {record.name}:{record.version}")


@app.command("list")
def list_(
    ctx: typer.Context,
    tag: str | None = typer.Option(None, "--tag", help="Only datasets with this tag."),
    label_name: str | None = typer.Option(None, "--label", help="Only datasets with this label."),
    as_json: bool = Json,
) -> None:
    """List datasets with their latest version, labels and tags.

    Example: ripple dataset list --label production
    """
    with client(ctx) as rp:
        items = rp.datasets.list(tag=tag, label=label_name)
    asset_list("datasets", items, as_json=as_json)


@app.command()
def versions(ctx: typer.Context, name: str = typer.Argument(..., help="Dataset name."), as_json: bool = Json) -> None:
    """List the versions of a dataset.

    Example: ripple dataset versions faq
    """
    with client(ctx) as rp:
        items = rp.datasets.versions(name)
    if as_json:
        print_json(items)
        return
    rows = [
        [v.version, short_hash(v.hash), v.content.get("rows"), v.created_by, v.created_at, v.labels, v.message]
        for v in items
    ]
    table(f"dataset/{_bare(name)} versions", ["version", "hash", "rows", "by", "at", "labels", "message"], rows)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="faq, faq@production or faq:2."),
    as_json: bool = Json,
) -> None:
    """Show one version: rows, schema, key, provenance, quality summary, lineage inputs.

    Example: ripple dataset show faq@production

    Example: ripple dataset show faq:2 --json
    """
    with client(ctx) as rp:
        record = rp.datasets.get(ref).record
    if as_json:
        print_json(record)
        return
    _render_record(record)


@app.command()
def head(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="faq, faq@production or faq:2."),
    n: int = typer.Option(10, "-n", "--rows", help="How many records."),
    as_json: bool = Json,
) -> None:
    """Print the first records of a version.

    Example: ripple dataset head faq -n 5

    Example: ripple dataset head docs --json
    """
    with client(ctx) as rp:
        dataset = rp.datasets.get(ref)
        records = dataset.head(n)
    if as_json:
        print_json({"ref": dataset.ref, "records": records})
        return
    columns = dataset.columns
    rows = [[_clip(r.get(c)) for c in columns] for r in records]
    table(f"{dataset.ref} ({dataset.rows:,} rows)", columns, rows, empty="no rows")


@app.command()
def diff(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="From, such as faq:1."),
    b: str = typer.Argument(..., help="To, such as faq:2 or faq@production."),
    key: str | None = typer.Option(None, "--key", help="The column that matches rows (default: the versions' key)."),
    limit: int = typer.Option(5, "--limit", help="Examples of each kind of change."),
    as_json: bool = Json,
) -> None:
    """Compare two versions by key: rows added, removed and changed (with the changed columns).

    Example: ripple dataset diff faq:1 faq:2

    Example: ripple dataset diff faq:1 faq@production --key question --json
    """
    with client(ctx) as rp:
        result = rp.datasets.diff(a, b, key=key, limit=limit)
    if as_json:
        print_json(result)
        return
    render_diff(result)


@app.command()
def export(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="faq, faq@production or faq:2."),
    out: Path = typer.Argument(..., help="The file to write (written to a temp file, then renamed)."),
    format: str | None = typer.Option(None, "--format", help="csv, jsonl or parquet (default: from OUT's suffix)."),
    as_json: bool = Json,
) -> None:
    """Write a version's records to a file.

    Example: ripple dataset export faq@production faq.csv

    Example: ripple dataset export docs:3 docs.parquet
    """
    with client(ctx) as rp:
        result = rp.datasets.export(ref, out, format=format)
    if as_json:
        print_json(result)
        return
    echo(f"wrote {result['ref']} to {result['path']} ({result['format']}, {_size(result['bytes'])})")


@app.command()
def quality(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="faq, faq@production or faq:2."),
    as_json: bool = Json,
) -> None:
    """Show the quality report stored with a version: nulls per column, exact and near
    duplicates, empty and over-long texts, PII found, label balance, warnings.

    Example: ripple dataset quality faq

    Example: ripple dataset quality faq:2 --json
    """
    with client(ctx) as rp:
        result = rp.datasets.quality(ref)
    if as_json:
        print_json(result)
        return
    render_quality(result["ref"], result["report"])


@app.command()
def bias(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="faq, faq@production or faq:2."),
    group: str = typer.Option(..., "--group", help="The column whose values form the groups."),
    outcome: str = typer.Option(..., "--outcome", help="The column holding the outcome."),
    positive: str | None = typer.Option(None, "--positive", help="The outcome value that counts as positive."),
    as_json: bool = Json,
) -> None:
    """Compare positive-outcome rates between groups: counts, rates, disparity ratio
    against the most favoured group and the four-fifths flag, with notes on what that means.

    Example: ripple dataset bias loans --group gender --outcome approved --positive yes
    """
    with client(ctx) as rp:
        result = rp.datasets.bias(ref, group=group, outcome=outcome, positive=positive)
    if as_json:
        print_json(result)
        return
    render_bias(result["ref"], result["report"])


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Dataset name, such as faq."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., metavar="N", help="Version: 3, :3, or @staging (where another label points)."),
) -> None:
    """Point a label at a version of a dataset (moving production needs an admin).

    Example: ripple dataset label faq production 2
    """
    with client(ctx) as rp:
        rec = rp.datasets.label(name, label_name, version)
    echo(f"dataset/{_bare(name)}@{rec.label} -> {rec.version}")


# -- rendering -----------------------------------------------------------------------------------


def _render_record(r: VersionRecord) -> None:
    c = r.content
    prov = c.get("provenance") or {}
    q = c.get("quality") or {}
    out = stdout()
    out.print(f"[bold]{escape(r.ref)}[/bold]  ({c['rows']:,} rows, {len(c['schema'])} columns)", highlight=False)
    fields: list[tuple[str, Any]] = [
        ("hash", r.hash), ("labels", r.labels), ("created", f"{when(r.created_at)} by {r.created_by}"),
        ("message", r.message or None), ("description", r.description or None), ("tags", r.tags or None),
        ("key", c.get("key")), ("label column", c.get("label_column")),
        ("data", f"{c['blob']} ({_size(c['bytes'])} Parquet)"),
        ("source", prov.get("source")), ("license", prov.get("license") or "not recorded"),
        ("created by", prov.get("created_by")), ("parents", prov.get("parents") or None),
        ("generator", prov.get("generator")),
        ("inputs", [f"{i.ref} = {i.resolved} ({i.role})" for i in r.inputs] or None),
    ]  # fmt: skip
    for k, value in fields:
        if value is not None:
            out.print(Text.assemble((f"{k:>12}: ", "dim"), cell(value)), soft_wrap=True)
    table("schema", ["column", "type"], [[f["name"], f["type"]] for f in c["schema"]])
    if q:
        rows = [[label, q.get(name)] for name, label in FINDINGS.items() if name in q]
        table("quality", ["finding", "count"], rows)
        echo(f"the whole report: ripple dataset quality {r.name}:{r.version}", style="dim")


def _clip(value: Any) -> str:
    text = cell(value)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _bare(name: str) -> str:
    return name.removeprefix("dataset/")
