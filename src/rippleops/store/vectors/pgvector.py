"""pgvector in PostgreSQL as the vector store (``RIPPLE_VECTOR_URL=postgresql://...``).

Each table is a PostgreSQL table ``rv_<hash>`` with a ``vector(dim)`` column under an HNSW
index (``vector_cosine_ops``), a generated ``tsvector`` under a GIN index for full-text
search and a GIN index on the ``jsonb`` metadata for ``where`` filters; the registry
``ripple_vector_tables`` maps names to tables. DDL is transactional in PostgreSQL, so a
table is created, loaded (``COPY``), indexed and registered in ONE transaction: a build
killed midway is rolled back by the server and leaves nothing behind.

Full-text scores are PostgreSQL's ``ts_rank`` over an OR of the query's stemmed words,
not BM25 (docs/vectors.md says why that is the trade-off taken here).
"""

from __future__ import annotations

import hashlib
import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from rippleops.errors import ConflictError, InvalidError, UnavailableError
from rippleops.settings import get_settings

from .base import (
    INDEX_EXTRA_HINT,
    VectorHit,
    VectorStore,
    check_k,
    check_query_vectors,
    check_rows,
    check_table_name,
    check_where,
    normalized,
    row_schema,
    table_not_found,
    vectors_of,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    import psycopg
    import pyarrow as pa

REGISTRY = "ripple_vector_tables"
#: HNSW build and search parameters (pgvector's defaults are m=16, ef_construction=64, ef_search=40).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 100
#: pgvector's largest ef_search; a larger k is searched exactly.
MAX_EF_SEARCH = 1000
#: Memory for one index build: an HNSW graph that fits builds several times faster.
BUILD_MEMORY = "512MB"
POOL_SIZE = 8
RECHECK_SECONDS = 2.0
_WORDS = re.compile(r"\w+", re.UNICODE)
_COLUMNS = 'id, embedding, text, doc_id, start, "end", metadata'


def _drivers() -> tuple[Any, Any]:
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as err:
        raise InvalidError(f"the pgvector vector store needs the 'index' extra: {INDEX_EXTRA_HINT}") from err
    return psycopg, register_vector


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PgVectorStore(VectorStore):
    """Vector tables in PostgreSQL with pgvector (0.8 or newer for filtered HNSW scans).

    Example::

        store = PgVectorStore("postgresql://ripple@db.internal/ripple")
    """

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        self._psycopg, self._register = _drivers()
        self._conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.url = _safe(self._conninfo)
        self._pool: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue(POOL_SIZE)
        self._tables: dict[str, tuple[float, str, int, int]] = {}  # name -> (checked, physical, dim, rows)
        self._lock = threading.Lock()
        self._ready = False

    # -- connections -----------------------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection inside one transaction (committed on success, rolled back on error)."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            with conn.transaction():
                yield conn
        except self._psycopg.OperationalError as err:
            conn.close()
            raise UnavailableError(
                f"cannot use the pgvector store at {self.url}: {err}; check RIPPLE_VECTOR_URL"
            ) from err
        except BaseException:
            if conn.closed or conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
                conn.close()
            else:
                self._put(conn)
            raise
        self._put(conn)

    def _put(self, conn: psycopg.Connection[Any]) -> None:
        try:
            self._pool.put_nowait(conn)
        except queue.Full:
            conn.close()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn: psycopg.Connection[Any] = self._psycopg.connect(self._conninfo, autocommit=True)
        except self._psycopg.OperationalError as err:
            raise UnavailableError(
                f"cannot reach the pgvector store at {self.url}: {err}; check RIPPLE_VECTOR_URL"
            ) from err
        if not self._ready:
            self._setup(conn)
        self._register(conn)
        return conn

    def _setup(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ripple_vector_setup'))")  # concurrent first uses
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except self._psycopg.errors.FeatureNotSupported as err:
                raise UnavailableError(
                    f"the PostgreSQL at {self.url} has no pgvector extension ({err}); install pgvector 0.8+ there"
                ) from err
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {REGISTRY} (name text PRIMARY KEY, physical text NOT NULL UNIQUE, "
                "dimension integer NOT NULL, rows bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )
        self._ready = True

    # -- tables ------------------------------------------------------------------------------

    def create_table(self, name: str, rows: pa.Table, *, dimension: int | None = None) -> None:
        check_table_name(name)
        rows = check_rows(rows, name, dimension)
        dim = rows.schema.field("vector").type.list_size
        physical = "rv_" + hashlib.sha256(f"{name}\n{uuid.uuid4()}".encode()).hexdigest()[:24]
        vectors = vectors_of(rows)
        columns = [rows.column(c).to_pylist() for c in ("id", "text", "doc_id", "start", "end", "metadata")]
        with self._conn() as conn:
            if conn.execute(f"SELECT 1 FROM {REGISTRY} WHERE name = %s", (name,)).fetchone():
                raise ConflictError(
                    f"vector table {name!r} already exists in {self.url}; drop it first or use another name",
                    details={"table": name},
                )
            conn.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
            conn.execute(
                f"CREATE TABLE {physical} (pos bigint NOT NULL, id text PRIMARY KEY, embedding vector({dim}) NOT NULL, "
                'text text NOT NULL, doc_id text NOT NULL, start bigint NOT NULL, "end" bigint NOT NULL, '
                "metadata jsonb NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED)"
            )
            with conn.cursor().copy(f"COPY {physical} (pos, {_COLUMNS}) FROM STDIN") as copy:
                ids, texts, docs, starts, ends, metas = columns
                for i in range(rows.num_rows):
                    copy.write_row((i, ids[i], vectors[i], texts[i], docs[i], starts[i], ends[i], metas[i]))
            conn.execute(
                f"CREATE INDEX ON {physical} USING hnsw (embedding vector_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
            conn.execute(f"CREATE INDEX ON {physical} USING gin (tsv)")
            conn.execute(f"CREATE INDEX ON {physical} USING gin (metadata jsonb_path_ops)")
            conn.execute(f"CREATE INDEX ON {physical} (doc_id)")
            get_settings().fault("vector.before_complete")
            try:
                conn.execute(
                    f"INSERT INTO {REGISTRY} (name, physical, dimension, rows) VALUES (%s, %s, %s, %s)",
                    (name, physical, dim, rows.num_rows),
                )
            except self._psycopg.errors.UniqueViolation as err:
                raise ConflictError(f"vector table {name!r} was created by another writer meanwhile") from err
        with self._lock:
            self._tables.pop(name, None)

    def has_table(self, name: str) -> bool:
        check_table_name(name)
        return self._lookup(name, required=False) is not None

    def list_tables(self) -> list[str]:
        with self._conn() as conn:
            return [r[0] for r in conn.execute(f"SELECT name FROM {REGISTRY} ORDER BY name").fetchall()]

    def drop_table(self, name: str) -> None:
        check_table_name(name)
        with self._lock:
            self._tables.pop(name, None)
        with self._conn() as conn:
            row = conn.execute(f"DELETE FROM {REGISTRY} WHERE name = %s RETURNING physical", (name,)).fetchone()
            if row is not None:
                conn.execute(f"DROP TABLE IF EXISTS {row[0]}")

    def count(self, name: str) -> int:
        return self._require(name)[2]

    def dimension(self, name: str) -> int:
        return self._require(name)[1]

    def read_rows(self, name: str, ids: Sequence[str] | None = None) -> pa.Table:
        import numpy as np
        import pyarrow as pa

        physical, dim, _ = self._require(name)
        sql = f"SELECT {_COLUMNS} FROM {physical}"
        params: tuple[Any, ...] = ()
        if ids is not None:
            sql += " WHERE id = ANY(%s)"
            params = ([ids] if isinstance(ids, str) else list(ids),)
        with self._conn() as conn:
            fetched = conn.execute(sql + " ORDER BY pos", params).fetchall()
        vectors = np.asarray([_array(r[1]) for r in fetched], dtype=np.float32).reshape(len(fetched), dim)
        return pa.table(
            {
                "id": [r[0] for r in fetched],
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), dim),
                "text": [r[2] for r in fetched],
                "doc_id": [r[3] for r in fetched],
                "start": [r[4] for r in fetched],
                "end": [r[5] for r in fetched],
                "metadata": [json.dumps(r[6], ensure_ascii=False) for r in fetched],
            },
            schema=row_schema(dim),
        )

    # -- search ------------------------------------------------------------------------------

    def search_many(
        self,
        name: str,
        vectors: npt.ArrayLike,
        k: int,
        *,
        where: Mapping[str, Any] | None = None,
        exact: bool = False,
    ) -> list[list[VectorHit]]:
        check_k(k)
        conditions = check_where(where)
        physical, dim, _ = self._require(name)
        queries = normalized(check_query_vectors(vectors, dim, name))
        filters, params = _where_clause(conditions)
        sql = (
            f'SELECT id, 1 - (embedding <=> %s) AS score, doc_id, text, start, "end", metadata FROM {physical}'
            f"{filters} ORDER BY embedding <=> %s LIMIT %s"
        )
        out = []
        with self._conn() as conn:
            if exact or k > MAX_EF_SEARCH:
                # No index: a sequential scan computes every distance, the true top k.
                conn.execute("SET LOCAL enable_indexscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = off")
            else:
                conn.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, min(MAX_EF_SEARCH, 2 * k))}")
                if conditions:  # pgvector 0.8: keep walking the graph until k rows pass the filter
                    conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            for query in queries:
                fetched = conn.execute(sql, (query, *params, query, k)).fetchall()
                out.append([_hit(r) for r in fetched])
        return out

    def text_search(self, name: str, query: str, k: int, *, where: Mapping[str, Any] | None = None) -> list[VectorHit]:
        check_k(k)
        conditions = check_where(where)
        if not isinstance(query, str) or not query.strip():
            raise InvalidError("the text query is empty; give the words to search for")
        physical, _, _ = self._require(name)
        words = _WORDS.findall(query)
        if not words:
            return []
        # Any of the words (BM25-like OR semantics), each as a quoted lexeme, stemmed by 'english'.
        tsquery = " | ".join("'" + w.replace("'", "''") + "'" for w in words)
        filters, params = _where_clause(conditions, prefix=" AND ")
        sql = (
            f'SELECT id, ts_rank(tsv, q) AS score, doc_id, text, start, "end", metadata '
            f"FROM {physical}, to_tsquery('english', %s) q WHERE tsv @@ q{filters} ORDER BY score DESC, pos LIMIT %s"
        )
        with self._conn() as conn:
            fetched = conn.execute(sql, (tsquery, *params, k)).fetchall()
        return [_hit(r) for r in fetched]

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    # -- internals ---------------------------------------------------------------------------

    def _require(self, name: str) -> tuple[str, int, int]:
        found = self._lookup(name, required=True)
        assert found is not None
        return found

    def _lookup(self, name: str, *, required: bool) -> tuple[str, int, int] | None:
        check_table_name(name)
        now = time.monotonic()
        with self._lock:
            entry = self._tables.get(name)
        if entry is not None and now - entry[0] < RECHECK_SECONDS:
            return entry[1:]
        with self._conn() as conn:
            row = conn.execute(f"SELECT physical, dimension, rows FROM {REGISTRY} WHERE name = %s", (name,)).fetchone()
        if row is None:
            with self._lock:
                self._tables.pop(name, None)
            if required:
                raise table_not_found(name, self.url)
            return None
        with self._lock:
            self._tables[name] = (now, row[0], int(row[1]), int(row[2]))
        return row[0], int(row[1]), int(row[2])


def _where_clause(where: Mapping[str, Any], prefix: str = " WHERE ") -> tuple[str, tuple[Any, ...]]:
    parts: list[str] = []
    params: list[Any] = []
    for key, value in where.items():
        if key == "doc_id":
            parts.append("doc_id = %s")
            params.append(value)
        else:  # jsonb containment: 1 matches 1.0, true matches only true (JSON's equality)
            parts.append("metadata @> %s::jsonb")
            params.append(json.dumps({key: value}))
    return (prefix + " AND ".join(parts) if parts else ""), tuple(params)


def _hit(row: tuple[Any, ...]) -> VectorHit:
    id_, score, doc_id, text, start, end, metadata = row
    return VectorHit(
        id=id_, score=float(score), doc_id=doc_id, text=text, start=int(start), end=int(end), metadata=metadata
    )


def _array(value: Any) -> Any:
    """A pgvector value as numpy (the driver gives a ``Vector`` or an ndarray, by version)."""
    return value.to_numpy() if hasattr(value, "to_numpy") else value
