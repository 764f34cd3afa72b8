"""``rp.indexes`` and ``rp.search`` on both transports (embedded, and remote against a real
uvicorn server), on SQLite and PostgreSQL, with the real MiniLM over two of the repo's docs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from index_corpus import doc_rows, edit, make_docs, make_questions
from rippleops import Client
from rippleops.errors import InvalidError, NotFoundError
from rippleops.sdk.indexes import Index
from rippleops.services import Services
from rippleops.settings import Settings

pytestmark = pytest.mark.slow  # the shipped model embeds every chunk
FILES = ("docs/design.md", "docs/jobs.md")


@pytest.fixture
def home(settings: Settings) -> Iterator[Services]:
    """The same database and home the client works on, to set up datasets and the embedder."""
    services = Services(settings)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    make_docs(services, admin, doc_rows(FILES))
    make_questions(services, admin)
    services.embedders.create(admin, "default", "minilm", {"provider": "minilm"})
    yield services
    services.close()


def test_create_get_search_and_label(rp: Client, home: Services) -> None:
    job = rp.indexes.create("docs", dataset="dataset/docs", embedder="embedder/minilm", chunk_size=500,
                            overlap=50, metadata_columns=["section"])  # fmt: skip
    assert job.state.value == "succeeded", job.error
    assert job.kind == "index.build" and job.result["index"] == "index/docs:1"
    assert job.result["embedded"] == job.result["chunks"] and job.progress.done == job.progress.total

    index = rp.indexes.get("docs")
    assert isinstance(index, Index) and index.ref == "index/docs:1" and index.dataset == "dataset/docs:1"
    assert index.recipe["chunking"]["size"] == 500 and index.fields == {"doc_id": "string", "section": "string"}
    result = index.search("Which way do imports point between layers?", k=3)
    assert result.index == "index/docs:1" and len(result.hits) == 3 and result.hits[0].doc_id == "docs/design.md"
    hit = result.hits[0]
    assert (
        doc_rows(FILES)["text"][0][hit.start : hit.end] == hit.text
        and hit.heading[0] == "How Ripple is built (the spine)"
    )

    same = rp.search("index/docs", "Which way do imports point between layers?", k=3)
    assert [h.id for h in same.hits] == [h.id for h in result.hits]
    bm25 = rp.indexes.search("docs", "kill -9", k=2, mode="bm25", filters={"doc_id": "docs/jobs.md"})
    assert bm25.mode == "bm25" and {h.doc_id for h in bm25.hits} == {"docs/jobs.md"}

    assert [a.ref for a in rp.indexes.list()] == ["index/docs"]
    assert rp.indexes.label("docs", "production", 1).version == 1
    assert rp.indexes.get("docs", label="production").labels == ["production", "latest"]
    assert [v.version for v in rp.indexes.versions("docs")] == [1]

    with pytest.raises(InvalidError, match=r"unknown filter key\(s\) 'lang'"):
        rp.search("docs", "layers", filters={"lang": "en"})
    with pytest.raises(InvalidError, match="search mode 'semantic' is not known"):
        rp.search("docs", "layers", mode="semantic")
    with pytest.raises(NotFoundError, match="index/missing does not exist"):
        rp.indexes.get("missing")
    with pytest.raises(InvalidError, match="chunk size 5 is out of range"):
        rp.indexes.create("bad", dataset="dataset/docs", embedder="embedder/minilm", chunk_size=5)


def test_rebuild_after_a_change_and_evaluate(rp: Client, home: Services, settings: Settings) -> None:
    assert rp.indexes.create("docs", dataset="dataset/docs", embedder="embedder/minilm").state.value == "succeeded"
    admin = home.access.authenticate(settings.token_file.read_text().strip())
    make_docs(
        home, admin, edit(doc_rows(FILES), "docs/jobs.md", "## Writing a job kind", "## Writing a job kind\n\nNew.")
    )
    job = rp.indexes.build("docs")
    r = job.result
    assert job.state.value == "succeeded" and r["index"] == "index/docs:2" and r["dataset"] == "dataset/docs:2"
    assert 1 <= r["embedded"] <= 3 and r["reused"] == r["chunks"] - r["embedded"]

    ev = rp.indexes.evaluate("docs", "dataset/questions", k=5, modes=["vector", "hybrid"])
    assert ev.index == "index/docs:2" and ev.queries == "dataset/questions:1" and set(ev.modes) == {"vector", "hybrid"}
    assert ev.ks == [1, 5] and ev.level == "document"
    mean = ev.modes["hybrid"]["mean"]
    assert set(mean) >= {"recall@5", "precision@5", "mrr", "ndcg@5", "hit_rate@5"}
    # questions about files not in this index count, and fail: at most 4 of the 7 can be found
    assert ev.query_count == 7 and mean["recall@5"] <= 4 / 7
    on_v1 = rp.indexes.get("docs:1").evaluate("dataset/questions", k=5)
    assert set(on_v1.modes) == {"vector", "bm25", "hybrid"} and on_v1.index == "index/docs:1"
    with pytest.raises(InvalidError, match="is not a queries \\+ judgements dataset"):
        rp.indexes.evaluate("docs", "dataset/docs")
