"""Index faults on SQLite and PostgreSQL: an embedder whose endpoint returns vectors of another
dimension than it declares (a real OpenAI-compatible server on 127.0.0.1), and a vector table
whose dimension no longer matches its index. Both are clear errors; neither leaves an index."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from embedding_server import MODEL, EmbeddingServer, start_embedding_server
from index_corpus import doc_rows, make_docs
from rippleops.domain.access import Principal
from rippleops.domain.records import JobLogRecord, JobRecord
from rippleops.errors import InvalidError
from rippleops.services import Services

pytestmark = pytest.mark.slow  # a real model behind a real server
P = "default"


@pytest.fixture
def embedding_server() -> Iterator[EmbeddingServer]:
    server = start_embedding_server()
    yield server
    server.stop()


def test_an_embedder_returning_other_dimensions_fails_the_build_and_leaves_nothing(
    services: Services, admin: Principal, embedding_server: EmbeddingServer
) -> None:
    make_docs(services, admin, doc_rows(("docs/design.md",)))
    services.secrets.set(admin, P, "EMBED_KEY", embedding_server.api_key)
    spec = {"provider": "openai", "base_url": embedding_server.url, "model": MODEL, "dimension": 256,
            "api_key_secret": "EMBED_KEY"}  # fmt: skip  # the server's MiniLM returns 384
    services.embedders.create(admin, P, "wrong", spec)
    job = services.indexes.create(admin, P, "docs", dataset="dataset/docs", embedder="embedder/wrong", wait=True)
    assert job.state.value == "failed" and job.error is not None and job.error.type == "InvalidError"
    assert "384" in job.error.message and "256" in job.error.message, job.error.message
    assert services.indexes.list(admin, P) == []
    assert services.vectors.list_tables() == []


def test_a_table_of_another_dimension_is_named_at_search_and_rebuild(services: Services, admin: Principal) -> None:
    make_docs(services, admin, doc_rows(("docs/design.md",)))
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    job = services.indexes.create(admin, P, "docs", dataset="dataset/docs", embedder="embedder/minilm", wait=True)
    assert job.state.value == "succeeded", job.error
    index = services.indexes.get(admin, P, "docs")
    # another writer replaces the table with vectors of 8 dimensions (a shared store, a bad restore ...)
    store = services.vectors
    rows = store.read_rows(index.table)
    flat = pa.array(np.ones(rows.num_rows * 8, dtype=np.float32))
    store.drop_table(index.table)
    store.create_table(index.table, rows.set_column(1, "vector", pa.FixedSizeListArray.from_arrays(flat, 8)))

    with pytest.raises(InvalidError, match=r"index/docs:1 records 384-dimension vectors but its table .* holds 8"):
        services.search.search(admin, P, "docs", "layers")
    rebuilt = services.indexes.build(admin, P, "docs", wait=True)
    assert rebuilt.state.value == "failed" and rebuilt.error is not None
    assert "holds" in rebuilt.error.message and "8-dimension" in rebuilt.error.message
    assert "drop the table" in rebuilt.error.message
    store.drop_table(index.table)  # the way out the message names
    again = services.indexes.build(admin, P, "docs", wait=True)
    assert again.state.value == "succeeded" and again.result["index"] == "index/docs:1"
    assert services.search.search(admin, P, "docs", "layers", k=1).hits


def test_a_cancelled_build_stops_at_the_next_batch_and_leaves_nothing(services: Services, admin: Principal) -> None:
    make_docs(services, admin)
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    asked: list[int] = []

    def watch(job: JobRecord, lines: list[JobLogRecord]) -> None:
        if job.progress.done > 0 and not asked:  # the first batch is embedded: ask it to stop
            asked.append(job.id)
            services.jobs.cancel(admin, P, job.id)

    job = services.indexes.create(admin, P, "docs", dataset="dataset/docs", embedder="embedder/minilm",
                                  chunk_size=100, overlap=0, wait=True, watch=watch)  # fmt: skip
    assert asked == [job.id] and job.state.value == "cancelled"
    assert job.progress.total is not None and job.progress.done < job.progress.total
    assert services.indexes.list(admin, P) == [] and services.vectors.list_tables() == []
    rerun = services.jobs.rerun(admin, P, job.id, wait=True)
    assert rerun.state.value == "succeeded" and rerun.result["cache_hits"] >= 256
