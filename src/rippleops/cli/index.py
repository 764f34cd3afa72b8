"""``ripple index``: build indexes over datasets (jobs with a progress bar), list, show, label."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.text import Text

from rippleops.cli.common import JSON_HELP, asset_list, cell, client, echo, print_json, short_hash, stdout, table, when
from rippleops.cli.job import report, run_and_follow
from rippleops.domain.records import IndexRecord, JobRecord

app = typer.Typer(no_args_is_help=True, help="Indexes: a dataset's chunks embedded for search, rebuilt incrementally.")

Json = typer.Option(False, "--json", help=JSON_HELP)
NoWait = typer.Option(False, "--no-wait", help="Return once the build job is queued instead of following it.")


def _bare(name: str) -> str:
    return name.removeprefix("index/")


def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Index name, such as docs."),
    dataset: str = typer.Option(..., "--dataset", help="Dataset to index: dataset/docs, dataset/docs@production."),
    embedder: str = typer.Option(..., "--embedder", help="Embedder: embedder/minilm."),
    chunk_size: int = typer.Option(800, "--chunk-size", help="Chunk size in --unit (chars or tokens)."),
    overlap: int = typer.Option(100, "--overlap", help="Overlap between consecutive chunks, in --unit."),
    unit: str = typer.Option("chars", "--unit", help="chars, or tokens (word tokens: words and punctuation)."),
    markdown: bool = typer.Option(
        True, "--markdown/--no-markdown", help="Split on Markdown headings first; keep code fences whole."
    ),
    text_column: str = typer.Option("text", "--text-column", help="The column holding the text."),
    doc_id_column: str | None = typer.Option(
        None, "--doc-id-column", help="The column naming the document (default: the dataset's key, or doc_id)."
    ),
    metadata_columns: str | None = typer.Option(
        None, "--metadata-columns", help="Columns kept with each chunk for --filter, comma-separated: lang,year."
    ),
    message: str = typer.Option("", "--message", "-m", help="Commit message of the new version."),
    no_wait: bool = NoWait,
    as_json: bool = Json,
) -> None:
    """Build a version of an index from a dataset and an embedder, as a job with a progress bar.

    The new version records the exact dataset and embedder versions it was built from and
    its recipe (chunking, columns, code version). Building the same thing again is a no-op.

    Example: ripple index create docs --dataset dataset/docs@latest --embedder embedder/minilm --chunk-size 800 --overlap 100
    """
    with client(ctx) as rp:

        def start(on_update: Any, wait: bool = True) -> JobRecord:
            return rp.indexes.create(
                name, dataset=dataset, embedder=embedder, chunk_size=chunk_size, overlap=overlap, unit=unit,
                markdown=markdown, text_column=text_column, doc_id_column=doc_id_column,
                metadata_columns=_columns(metadata_columns), message=message, wait=wait, on_update=on_update,
            )  # fmt: skip

        job = start(None, wait=False) if no_wait else run_and_follow(start, f"building index/{_bare(name)}")
    _report(job, as_json)


@app.command()
def build(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Index name, such as docs."),
    dataset: str | None = typer.Option(None, "--dataset", help="Build on this dataset version instead."),
    embedder: str | None = typer.Option(None, "--embedder", help="Build with this embedder instead."),
    message: str = typer.Option("", "--message", "-m", help="Commit message of the new version."),
    no_wait: bool = NoWait,
    as_json: bool = Json,
) -> None:
    """Rebuild an index with its latest recipe on what its dataset and embedder resolve to now.

    Chunks that did not change keep their vectors; only new and changed ones are embedded.

    Example: ripple index build docs
    """
    with client(ctx) as rp:

        def start(on_update: Any, wait: bool = True) -> JobRecord:
            return rp.indexes.build(
                name, dataset=dataset, embedder=embedder, message=message, wait=wait, on_update=on_update
            )

        job = start(None, wait=False) if no_wait else run_and_follow(start, f"rebuilding index/{_bare(name)}")
    _report(job, as_json)


def _report(job: JobRecord, as_json: bool) -> None:
    """One line for a finished build; anything else (JSON, queued, failed) as ``ripple job`` does."""
    result = job.result if isinstance(job.result, dict) else {}
    if as_json or job.state.value != "succeeded" or "index" not in result:
        report(job, as_json)
        return
    what = "unchanged" if result.get("unchanged") else "built"
    echo(
        f"{result['index']} {what}: {result['chunks']} chunks from {result['documents']} documents of "
        f"{result['dataset']} ({result['embedded']} embedded, {result['reused']} reused) in {result['seconds']} s"
    )


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = Json) -> None:
    """List indexes with their latest version and labels.

    Example: ripple index list
    """
    with client(ctx) as rp:
        items = rp.indexes.list()
    asset_list("indexes", items, as_json=as_json)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="docs, docs@production or docs:2."),
    as_json: bool = Json,
) -> None:
    """Show one index version: inputs, recipe, chunks, vector table.

    Example: ripple index show docs --json
    """
    with client(ctx) as rp:
        record = rp.indexes.get(ref).record
    if as_json:
        print_json(record)
        return
    _render(record)


@app.command()
def versions(
    ctx: typer.Context, name: str = typer.Argument(..., help="Index name, such as docs."), as_json: bool = Json
) -> None:
    """List the versions of an index.

    Example: ripple index versions docs
    """
    with client(ctx) as rp:
        items = rp.indexes.versions(name)
    if as_json:
        print_json(items)
        return
    rows = [
        [v.version, short_hash(v.hash), v.content.get("dataset"), v.content.get("chunks"), v.labels, v.created_at,
         v.message]
        for v in items
    ]  # fmt: skip
    table(f"index/{_bare(name)} versions", ["version", "hash", "dataset", "chunks", "labels", "at", "message"], rows)


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Index name, such as docs."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., help="Version: 3, :3, or @staging."),
) -> None:
    """Point a label at a version of an index (moving production needs an admin).

    Example: ripple index label docs production 2
    """
    with client(ctx) as rp:
        rec = rp.indexes.label(name, label_name, version)
    echo(f"index/{_bare(name)}@{rec.label} -> {rec.version}")


def _render(r: IndexRecord) -> None:
    out = stdout()
    out.print(f"[bold]{escape(r.ref)}[/bold]  ({r.chunks} chunks from {r.documents} documents)", highlight=False)
    recipe = r.recipe or {}
    chunking = recipe.get("chunking") or {}
    fields: list[tuple[str, Any]] = [
        ("hash", r.hash),
        ("labels", r.labels),
        ("created", f"{when(r.created_at)} by {r.created_by}"),
        ("message", r.message or None),
        ("dataset", r.dataset),
        ("embedder", f"{r.embedder} ({r.dimension} dimensions)"),
        ("inputs", [f"{i.role}: {i.ref} = {i.resolved}" for i in r.inputs] or None),
        ("chunking", ", ".join(f"{k} {chunking[k]}" for k in ("size", "overlap", "unit", "markdown") if k in chunking)),
        ("columns", f"text {recipe.get('text_column')}, doc id {recipe.get('doc_id_column')}"),
        ("filters", ", ".join(f"{k} ({v})" for k, v in r.fields.items()) or None),
        ("code", recipe.get("code_version")),
        ("table", r.table),
    ]
    for key, value in fields:
        if value is not None:
            out.print(Text.assemble((f"{key:>10}: ", "dim"), cell(value)), soft_wrap=True)
