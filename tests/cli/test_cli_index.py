"""``ripple index`` and ``ripple search`` in-process (Typer's runner), on SQLite and PostgreSQL,
with the real MiniLM over two of the repo's docs."""

from __future__ import annotations

from typing import Any

import pytest
from cli_helpers import Ripple

from index_corpus import doc_rows, edit, make_docs, make_questions
from rippleops.services import Services
from rippleops.settings import Settings, get_settings

pytestmark = pytest.mark.slow  # the shipped model embeds every chunk
FILES = ("docs/design.md", "docs/jobs.md")


def setup_data(settings: Settings, rows: dict[str, list[Any]] | None = None, *, embedder: bool = True) -> None:
    services = Services(get_settings())
    try:
        admin = services.access.authenticate(settings.token_file.read_text().strip())
        make_docs(services, admin, rows or doc_rows(FILES))
        if embedder:
            make_questions(services, admin)
            services.embedders.create(admin, "default", "minilm", {"provider": "minilm"})
    finally:
        services.close()


def test_create_show_search_rebuild_label_and_eval(ripple_on: Ripple, settings: Settings) -> None:
    r = ripple_on
    setup_data(settings)
    out = r.ok("index", "create", "docs", "--dataset", "dataset/docs@latest", "--embedder", "embedder/minilm",
               "--chunk-size", "700", "--overlap", "70", "--metadata-columns", "section,format").stdout  # fmt: skip
    assert out.startswith("index/docs:1 built: ") and "from 2 documents of dataset/docs:1" in out and "0 reused" in out
    shown = r.json("index", "show", "docs")
    assert shown["recipe"]["metadata_columns"] == ["format", "section"] and shown["dimension"] == 384
    text = r.ok("index", "show", "docs:1").stdout
    assert (
        "size 700, overlap 70, unit chars, markdown True" in text and "dataset: dataset/docs = dataset/docs:1" in text
    )
    assert "docs" in r.ok("index", "list").stdout and [a["name"] for a in r.json("index", "list")] == ["docs"]

    table = r.ok("search", "index/docs", "Which way do imports point?", "-k", "3").stdout
    assert "index/docs:1 · hybrid · 3 hits" in table and "docs/design.md" in table and "How Ripple is built" in table
    hits = r.json("search", "docs", "recovery after a crash", "--mode", "bm25", "-k", "2", "--filter", "section=docs")
    assert (
        hits["mode"] == "bm25"
        and hits["filters"] == {"section": "docs"}
        and hits["hits"][0]["doc_id"] == "docs/jobs.md"
    )
    top = r.json("search", "query", "docs", "the layers of the code", "--mode", "vector", "-k", "1")["hits"][0]
    assert 0 < top["score"] <= 1  # cosine similarity

    setup_data(
        settings, edit(doc_rows(FILES), "docs/jobs.md", "## Kinds", "## Kinds\n\nOne more line."), embedder=False
    )
    rebuilt = r.ok("index", "build", "docs").stdout
    assert rebuilt.startswith("index/docs:2 built: ") and "of dataset/docs:2" in rebuilt and " 0 reused" not in rebuilt
    versions = r.json("index", "versions", "docs")
    assert [(v["version"], v["content"]["dataset"]) for v in versions] == [(1, "dataset/docs:1"), (2, "dataset/docs:2")]
    assert r.ok("index", "label", "docs", "production", "1").stdout == "index/docs@production -> 1\n"
    assert r.json("index", "show", "docs@production")["version"] == 1

    ev = r.ok("search", "eval", "docs", "--queries", "dataset/questions", "-k", "5").stdout
    assert "index/docs:2 on dataset/questions:1: 7 queries, 7 judgements" in ev
    assert all(mode in ev for mode in ("vector", "bm25", "hybrid")) and "recall@5" in ev
    as_json = r.json("search", "eval", "docs@production", "--queries", "questions", "--mode", "vector", "--k", "3")
    assert as_json["index"] == "index/docs:1" and list(as_json["modes"]) == ["vector"] and as_json["ks"] == [1, 3]

    queued = r.json("index", "build", "docs", "--no-wait")  # embedded: the job ran inline anyway
    assert queued["kind"] == "index.build" and queued["result"]["unchanged"] is True


def test_errors_are_named_with_exit_codes(ripple_on: Ripple, settings: Settings) -> None:
    r = ripple_on
    setup_data(settings)
    assert "dataset/nope does not exist" in r.fails(3, "index", "create", "x", "--dataset", "nope",
                                                    "--embedder", "minilm").stderr  # fmt: skip
    assert "chunk overlap 800 must be" in r.fails(2, "index", "create", "x", "--dataset", "docs", "--embedder",
                                                  "minilm", "--overlap", "800").stderr  # fmt: skip
    assert "has no column 'lang'" in r.fails(2, "index", "create", "x", "--dataset", "docs", "--embedder",
                                             "minilm", "--metadata-columns", "lang").stderr  # fmt: skip
    assert "index/x does not exist" in r.fails(3, "search", "x", "anything").stderr
    r.ok("index", "create", "docs", "--dataset", "docs", "--embedder", "minilm")
    assert "this index can filter on: doc_id" in r.fails(2, "search", "docs", "q", "--filter", "lang=en").stderr
    assert "not key=value" in r.fails(2, "search", "docs", "q", "--filter", "lang").stderr
    assert "search mode 'exact' is not known" in r.fails(2, "search", "docs", "q", "--mode", "exact").stderr
    assert "is not a queries + judgements dataset" in r.fails(2, "search", "eval", "docs", "--queries", "docs").stderr
