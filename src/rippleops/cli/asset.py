"""``ripple asset`` (any kind: list, show, versions, tags, description) and ``ripple lineage``."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from rippleops.cli.common import JSON_HELP, cell, client, echo, print_json, short_hash, stdout, table, when
from rippleops.domain.records import LineageNode, LineageRecord
from rippleops.errors import InvalidError

app = typer.Typer(no_args_is_help=True, help="Assets of every kind: list, show, versions, tags, description.")

Json = typer.Option(False, "--json", help=JSON_HELP)


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: str | None = typer.Option(None, "--kind", help="Only this kind: prompt, dataset, index, model ..."),
    tag: str | None = typer.Option(None, "--tag", help="Only assets with this tag."),
    label: str | None = typer.Option(None, "--label", help="Only assets with this label."),
    search: str | None = typer.Option(None, "--search", help="Text to look for in names and descriptions."),
    limit: int = typer.Option(50, "--limit", help="Page size."),
    cursor: str | None = typer.Option(None, "--cursor", help="Where to continue: the previous page's next cursor."),
    as_json: bool = Json,
) -> None:
    """List assets, one page at a time.

    Example: ripple asset list --kind prompt --tag support

    Example: ripple asset list --limit 20 --cursor <next cursor of the previous page>
    """
    with client(ctx) as rp:
        page = rp.assets.page(kind=kind, tag=tag, label=label, search=search, limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    rows = [[a.ref, a.latest_version, a.labels, a.tags, a.description, a.updated_at] for a in page.items]
    table("assets", ["asset", "latest", "labels", "tags", "description", "updated"], rows, empty="no assets match")
    if page.next_cursor:
        echo(f"more: ripple asset list --cursor {page.next_cursor}", style="dim")


@app.command()
def show(
    ctx: typer.Context,
    asset: str = typer.Argument(..., help="kind/name, such as prompt/answer."),
    as_json: bool = Json,
) -> None:
    """Show an asset: latest version, labels, tags, description.

    Example: ripple asset show prompt/answer
    """
    with client(ctx) as rp:
        a = rp.assets.show(asset)
    if as_json:
        print_json(a)
        return
    out = stdout()
    out.print(f"[bold]{escape(a.ref)}[/bold]  (project {escape(a.project)})", highlight=False)
    for key, value in (
        ("latest", a.latest_version),
        ("labels", a.labels),
        ("tags", a.tags),
        ("description", a.description or None),
        ("created", f"{when(a.created_at)} by {a.created_by}"),
        ("updated", when(a.updated_at)),
    ):
        out.print(Text.assemble((f"{key:>12}: ", "dim"), cell(value)), soft_wrap=True)


@app.command()
def versions(
    ctx: typer.Context,
    asset: str = typer.Argument(..., help="kind/name, such as prompt/answer."),
    as_json: bool = Json,
) -> None:
    """List the versions of an asset.

    Example: ripple asset versions prompt/answer --json
    """
    with client(ctx) as rp:
        items = rp.assets.versions(asset)
    if as_json:
        print_json(items)
        return
    rows = [[v.version, short_hash(v.hash), v.created_by, v.created_at, v.labels, v.message] for v in items]
    table(f"{asset} versions", ["version", "hash", "by", "at", "labels", "message"], rows)


@app.command()
def tag(
    ctx: typer.Context,
    asset: str = typer.Argument(..., help="kind/name, such as prompt/answer."),
    add: list[str] = typer.Option([], "--add", help="Tag to add; repeat for more."),
    remove: list[str] = typer.Option([], "--remove", help="Tag to remove; repeat for more."),
) -> None:
    """Add or remove tags on an asset (versions and hashes do not change).

    Example: ripple asset tag prompt/answer --add support --remove draft
    """
    if not add and not remove:
        raise InvalidError("give --add TAG and/or --remove TAG")
    with client(ctx) as rp:
        a = rp.assets.update(asset, add_tags=add, remove_tags=remove)
    echo(f"{a.ref} tags: {cell(a.tags)}")


@app.command()
def describe(
    ctx: typer.Context,
    asset: str = typer.Argument(..., help="kind/name, such as prompt/answer."),
    text: str = typer.Argument(..., help="The new description."),
) -> None:
    """Set the description of an asset.

    Example: ripple asset describe prompt/answer "Answers support questions briefly"
    """
    with client(ctx) as rp:
        a = rp.assets.update(asset, description=text)
    echo(f"{a.ref}: {a.description}")


def lineage(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="kind/name, kind/name@label or kind/name:N."),
    up: bool = typer.Option(False, "--up", help="Only upstream: what it was built from."),
    down: bool = typer.Option(False, "--down", help="Only downstream: what was built from it."),
    depth: int = typer.Option(50, "--depth", help="How many levels to follow (1-50)."),
    as_json: bool = Json,
) -> None:
    """Show what a version was built from (upstream) and what was built from it (downstream).

    Example: ripple lineage prompt/answer:2

    Example: ripple lineage prompt/system@production --down --depth 1
    """
    if up and down:
        raise InvalidError("give --up or --down, not both (neither shows both directions)")
    direction = "up" if up else "down" if down else "both"
    with client(ctx) as rp:
        rec = rp.lineage(ref, direction=direction, depth=depth)
    if as_json:
        print_json(rec)
        return
    stdout().print(lineage_tree(rec, direction))


def lineage_tree(rec: LineageRecord, direction: str) -> Tree:
    """A Rich tree: the version at the root, its upstream and downstream branches below."""
    root = Tree(Text.assemble((rec.ref, "bold"), (f"  {short_hash(rec.hash)}", "dim")))
    for name, nodes, wanted in (("upstream", rec.upstream, "up"), ("downstream", rec.downstream, "down")):
        if direction not in (wanted, "both"):
            continue
        branch = root.add(Text(name, style="cyan"))
        if not nodes:
            branch.add(Text("nothing", style="dim"))
        _hang(branch, rec.ref, nodes)
    return root


def _hang(branch: Tree, parent: str, nodes: list[LineageNode]) -> None:
    for node in (n for n in nodes if n.parent == parent):
        label = Text.assemble((node.ref, "bold"), (f"  {short_hash(node.hash)}", "dim"))
        if node.via != node.ref:
            label.append(f"  via {node.via}", style="dim")
        _hang(branch.add(label), node.ref, nodes)
