"""``ripple search INDEX QUERY``: vector, BM25 or hybrid search with filters; ``ripple search
eval INDEX --queries DATASET``: retrieval metrics per mode."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from rippleops.cli.common import JSON_HELP, client, echo, print_json, table
from rippleops.domain.indexes import parse_filter_pairs
from rippleops.domain.records import RetrievalEvalRecord, SearchResultRecord

DEFAULT_COMMAND = "query"
TEXT_WIDTH = 160


class SearchGroup(TyperGroup):
    """``ripple search INDEX QUERY`` runs the ``query`` command; ``ripple search eval ...`` the
    evaluation: a first argument that is not a command name is the index."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # a click Context (typer vendors click)
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=SearchGroup,
    no_args_is_help=True,
    help="Search an index (ripple search INDEX QUERY) or measure its retrieval (ripple search eval INDEX --queries DATASET).",
)
Json = typer.Option(False, "--json", help=JSON_HELP)
Mode = typer.Option("hybrid", "--mode", help="vector, bm25 or hybrid (reciprocal rank fusion of both).")
RrfK = typer.Option(60, "--rrf-k", help="The RRF constant of hybrid search (60, as in the paper).")


@app.command(DEFAULT_COMMAND)
def query(
    ctx: typer.Context,
    index: str = typer.Argument(..., help="index/docs, docs@production or docs:2."),
    text: str = typer.Argument(..., metavar="QUERY", help="What to search for."),
    k: int = typer.Option(5, "-k", "--k", help="How many chunks to return."),
    mode: str = Mode,
    filters: list[str] = typer.Option(
        [], "--filter", help="key=value on doc_id or a metadata column; repeat for more."
    ),
    rrf_k: int = RrfK,
    as_json: bool = Json,
) -> None:
    """Search an index: the best chunks with their scores, documents and source spans.

    Example: ripple search index/docs "how do I roll back a label?" -k 5

    Example: ripple search docs "install" --mode bm25 --filter format=md --json
    """
    where = parse_filter_pairs(filters)
    with client(ctx) as rp:
        result = rp.search(index, text, k=k, mode=mode, filters=where, rrf_k=rrf_k)
    if as_json:
        print_json(result)
        return
    _hits_table(result)


@app.command("eval")
def evaluate(
    ctx: typer.Context,
    index: str = typer.Argument(..., help="index/docs, docs@production or docs:2."),
    queries: str = typer.Option(
        ..., "--queries", help="Judgements dataset: one row per (query_id, query, doc_id[, relevance])."
    ),
    k: int = typer.Option(10, "-k", "--k", help="The cut-off of recall@k, precision@k, nDCG@k and hit rate."),
    modes: list[str] = typer.Option([], "--mode", help="vector, bm25 or hybrid; repeat for more (default: all three)."),
    rrf_k: int = RrfK,
    as_json: bool = Json,
) -> None:
    """Measure retrieval over a queries + relevance-judgements dataset, per search mode.

    Relevance is per document: the chunks found become their documents, in order of each
    document's best chunk.

    Example: ripple search eval index/docs --queries dataset/doc-questions --k 10
    """
    with client(ctx) as rp:
        result = rp.indexes.evaluate(index, queries, k=k, modes=modes or None, rrf_k=rrf_k)
    if as_json:
        print_json(result)
        return
    _eval_table(result)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_WIDTH else flat[: TEXT_WIDTH - 1] + "…"


def _hits_table(result: SearchResultRecord) -> None:
    extra = f", filters {', '.join(f'{k}={v}' for k, v in result.filters.items())}" if result.filters else ""
    title = f"{result.index} · {result.mode}{extra} · {len(result.hits)} hits in {result.took_ms:.0f} ms"
    rows = [
        [h.rank, f"{h.score:.4f}", h.doc_id, f"{h.start}-{h.end}", " > ".join(h.heading) or None, _short(h.text)]
        for h in result.hits
    ]
    table(title, ["#", "score", "document", "span", "heading", "text"], rows, empty="no matches")


def _eval_table(result: RetrievalEvalRecord) -> None:
    k = result.k
    wanted = [f"recall@{k}", f"precision@{k}", f"ndcg@{k}", f"hit_rate@{k}", "mrr", "recall@1"]
    names = list(dict.fromkeys(wanted))
    rows: list[list[Any]] = []
    for mode, res in result.modes.items():
        mean = res.get("mean", {})
        rows.append([mode, *(f"{mean.get(n, 0.0):.3f}" for n in names), f"{res.get('took_s', 0):.2f} s"])
    title = (
        f"{result.index} on {result.queries}: {result.query_count} queries, "
        f"{result.judgement_count} judgements (relevance per {result.level})"
    )
    table(title, ["mode", *names, "time"], rows)
    best = max(result.modes.items(), key=lambda kv: kv[1].get("mean", {}).get(f"ndcg@{k}", 0.0), default=None)
    if best is not None:
        echo(f"best nDCG@{k}: {best[0]}", style="green")
