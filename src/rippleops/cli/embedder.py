"""``ripple embedder``: register embedder versions, list, show and label them, and embed text."""

from __future__ import annotations

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
    when,
)
from rippleops.domain.records import VersionRecord

app = typer.Typer(
    no_args_is_help=True,
    help="Embedder versions: the shipped all-MiniLM-L6-v2 (offline) or any OpenAI-compatible "
    "/v1/embeddings endpoint. Embed text with `ripple embedder embed`.",
)

Json = typer.Option(False, "--json", help=JSON_HELP)


@app.command()
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Embedder name, such as minilm."),
    provider: str = typer.Option("minilm", "--provider", help="minilm (the shipped model) or openai (an endpoint)."),
    base_url: str | None = typer.Option(None, "--base-url", help="openai: the endpoint's /v1 URL."),
    model: str | None = typer.Option(None, "--model", help="openai: the server's embedding model name."),
    dimension: int | None = typer.Option(None, "--dimension", help="openai: the length of its vectors."),
    api_key_secret: str | None = typer.Option(
        None, "--api-key-secret", help="openai: NAME of the Ripple secret that holds the key (not the key)."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Texts per model call or request (64)."),
    message: str = typer.Option("", "--message", "-m", help="Commit message of the version."),
    as_json: bool = Json,
) -> None:
    """Register a version of an embedder.

    minilm records the shipped model's id, dimension (384), normalisation and the sha256 of
    its weights; registering the same settings again creates nothing.

    Example: ripple embedder add minilm

    Example: ripple secret set OPENAI_API_KEY && ripple embedder add small --provider openai
    --base-url https://api.openai.com/v1 --model text-embedding-3-small --dimension 1536
    --api-key-secret OPENAI_API_KEY
    """
    with client(ctx) as rp:
        record = rp.embedders.create(
            name,
            provider=provider,
            base_url=base_url,
            model=model,
            dimension=dimension,
            api_key_secret=api_key_secret,
            batch_size=batch_size,
            message=message,
        ).record
    if as_json:
        print_json(record)
        return
    echo(record.ref)
    if record.created is False:
        note(f"unchanged: {record.note or 'the same content is already registered as ' + record.ref}")


@app.command("list")
def list_(
    ctx: typer.Context,
    label_name: str | None = typer.Option(None, "--label", help="Only embedders with this label."),
    as_json: bool = Json,
) -> None:
    """List embedders with their latest version and labels.

    Example: ripple embedder list
    """
    with client(ctx) as rp:
        items = rp.embedders.list(label=label_name)
    asset_list("embedders", items, as_json=as_json)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="minilm, minilm@production or minilm:2."),
    as_json: bool = Json,
) -> None:
    """Show one version of an embedder: provider, model, dimension, weights hash, labels.

    Example: ripple embedder show minilm --json
    """
    with client(ctx) as rp:
        record = rp.embedders.get(ref).record
    if as_json:
        print_json(record)
        return
    _render(record)


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Embedder name, such as minilm."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., help="Version: 3, :3, or @staging (where another label points)."),
) -> None:
    """Point a label at a version of an embedder.

    Example: ripple embedder label minilm production 1
    """
    with client(ctx) as rp:
        rec = rp.embedders.label(name, label_name, version)
    echo(f"embedder/{name.removeprefix('embedder/')}@{rec.label} -> {rec.version}")


@app.command()
def embed(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="minilm, minilm@production or minilm:2."),
    texts: list[str] = typer.Argument(..., help="One or more texts to embed."),
    as_json: bool = Json,
) -> None:
    """Embed texts and print their vectors (the first values, or all of them with --json).

    A text this embedder has embedded before comes from the embedding cache, without a
    model call.

    Example: ripple embedder embed minilm "how do I reset my password?"

    Example: ripple embedder embed minilm@production "first text" "second text" --json
    """
    with client(ctx) as rp:
        record = rp.embedders.embed_record(ref, texts)
    if as_json:
        print_json(record)
        return
    echo(
        f"{record.ref}: {len(record.vectors)} vectors of {record.dimension} ({record.cached} cached, {record.embedded} embedded)"
    )
    out = stdout()
    for text, vector in zip(texts, record.vectors, strict=True):
        head = ", ".join(f"{x:+.4f}" for x in vector[:6])
        out.print(Text.assemble((f"{_short(text)}  ", "bold"), f"[{head}, ...]"), soft_wrap=True, highlight=False)


def _render(r: VersionRecord) -> None:
    out = stdout()
    c = r.content
    out.print(f"[bold]{escape(r.ref)}[/bold]  ({escape(str(c.get('provider')))} embedder)", highlight=False)
    fields: list[tuple[str, Any]] = [
        ("hash", short_hash(r.hash)),
        ("labels", r.labels),
        ("created", f"{when(r.created_at)} by {r.created_by}"),
        ("message", r.message or None),
        ("model", c.get("model_id")),
        ("dimension", c.get("dimension")),
        ("normalize", c.get("normalize")),
        ("max tokens", c.get("max_tokens")),
        ("batch size", c.get("batch_size")),
        ("base url", c.get("base_url")),
        ("key secret", c.get("api_key_secret")),
        ("weights", c.get("weights_sha256")),
    ]
    for key, value in fields:
        if value is not None:
            out.print(Text.assemble((f"{key:>12}: ", "dim"), cell(value)), soft_wrap=True)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
