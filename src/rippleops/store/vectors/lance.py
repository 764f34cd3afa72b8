"""LanceDB as the vector store: a folder (the embedded default, ``$RIPPLE_HOME/vectors``) or
S3-compatible object storage (``s3://bucket/prefix``, options in ``RIPPLE_VECTOR_OPTIONS``).

LanceDB is the storage of record: rows, a native full-text (BM25) index on ``text``, and
the HNSW graph of a large table. Searching goes through :class:`~.memory.LoadedTable`, a
copy of the table in this process (unit vectors as one float32 matrix, loaded once): exact
top-k is one matrix product, approximate top-k an in-process HNSW graph (usearch). LanceDB's
own vector search measured 7.5 exact and ~230 approximate queries/s here, too slow for the
targets (docs/vectors.md has the numbers).

Atomic creation: a table is written under its name, then its FTS index and HNSW graph are
built, and only then is the Lance tag ``ripple-complete`` created (one atomic object write
on every store Lance supports). A table without the tag is invisible and is replaced by
the next ``create_table`` of that name, so a killed build leaves nothing half-done behind.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.errors import ConflictError, InvalidError, UnavailableError
from rippleops.settings import get_settings

from .base import (
    COLUMNS,
    INDEX_EXTRA_HINT,
    VectorHit,
    VectorStore,
    check_k,
    check_rows,
    check_table_name,
    check_where,
    table_not_found,
)
from .memory import ANN_MIN_ROWS, BUILD_KEY, LoadedTable, build_ann, build_id, filter_tokens, where_sql

if TYPE_CHECKING:
    import numpy.typing as npt
    import pyarrow as pa

#: The Lance tag that marks a table complete (data, FTS index and HNSW graph all written).
COMPLETE_TAG = "ripple-complete"
#: Side tables (HNSW graphs) start with "_", which no table name may.
ANN_PREFIX = "_ann."
#: Bytes per row of a side table holding a serialised HNSW graph.
ANN_PART_BYTES = 16 * 1024 * 1024
#: Tables kept loaded in this process (each costs its vectors' size in memory).
LOADED_TABLES = 4
#: How long a loaded table is trusted before the store checks it was not dropped or replaced.
RECHECK_SECONDS = 2.0


def _lancedb() -> Any:
    # LanceDB's Rust core logs a WARN on stderr for every new table; the CLI's stderr is for people.
    os.environ.setdefault("LANCEDB_LOG", "error")
    try:
        import lancedb
    except ImportError as err:
        raise InvalidError(f"the LanceDB vector store needs the 'index' extra: {INDEX_EXTRA_HINT}") from err
    return lancedb


def _fts_config() -> Any:
    """Lance's native inverted index: BM25, English stemming and stop words, works on S3 too."""
    from lancedb.index import FTS

    return FTS(base_tokenizer="simple", language="English", stem=True, remove_stop_words=True, lower_case=True)


class LanceVectorStore(VectorStore):
    """Vector tables in LanceDB, searched in-process.

    Tables of ``ann_min_rows`` rows or more get an HNSW graph for ``exact=False`` searches;
    smaller ones are always searched exactly (as fast, and always right).

    Example::

        store = LanceVectorStore("/srv/ripple/vectors")
        store = LanceVectorStore("s3://bucket/vectors", {"aws_endpoint": "http://127.0.0.1:9000",
                                                          "allow_http": "true"})
    """

    def __init__(
        self, url: str, storage_options: Mapping[str, Any] | None = None, *, ann_min_rows: int = ANN_MIN_ROWS
    ) -> None:
        lancedb = _lancedb()
        self.ann_min_rows = ann_min_rows
        self.url = url
        self._remote = "://" in url and not url.startswith("file://")
        if not self._remote:
            path = Path(url.removeprefix("file://")).expanduser()
            path.mkdir(parents=True, exist_ok=True)
            uri = str(path)
        else:
            uri = url
        options = {
            str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (storage_options or {}).items()
        }
        try:
            self._db = lancedb.connect(uri, storage_options=options or None)
        except (OSError, ValueError, RuntimeError) as err:
            raise UnavailableError(
                f"cannot open the LanceDB vector store at {url}: {err}; check RIPPLE_VECTOR_URL"
            ) from err
        self._loaded: OrderedDict[str, tuple[float, LoadedTable]] = OrderedDict()
        self._lock = threading.Lock()

    # -- tables ------------------------------------------------------------------------------

    def create_table(self, name: str, rows: pa.Table, *, dimension: int | None = None) -> None:
        import pyarrow as pa

        check_table_name(name)
        rows = check_rows(rows, name, dimension)
        if self._complete_version(name) is not None:
            raise ConflictError(
                f"vector table {name!r} already exists in {self.url}; drop it first or use another name",
                details={"table": name},
            )
        self._forget(name)
        # What a killed build may have left under these names is overwritten, never reused.
        stored = rows.append_column("_filter", pa.array(filter_tokens(rows), pa.list_(pa.string())))
        stored = stored.replace_schema_metadata({BUILD_KEY: uuid.uuid4().hex})
        table = self._call(lambda: self._db.create_table(name, stored, mode="overwrite"), f"write table {name!r}")
        self._call(lambda: table.create_index("text", config=_fts_config()), "build its text index")
        ann_name = ANN_PREFIX + name
        if rows.num_rows >= self.ann_min_rows:
            graph = build_ann(rows)
            parts = [graph[i : i + ANN_PART_BYTES] for i in range(0, len(graph), ANN_PART_BYTES)]
            blob = pa.table(
                {"part": pa.array(range(len(parts)), pa.int32()), "data": pa.array(parts, pa.large_binary())}
            )
            self._call(lambda: self._db.create_table(ann_name, blob, mode="overwrite"), "store its HNSW graph")
        else:
            self._call(lambda: self._db.drop_table(ann_name, ignore_missing=True), "clear an old HNSW graph")
        get_settings().fault("vector.before_complete")
        self._call(lambda: table.tags.create(COMPLETE_TAG, table.version), f"mark table {name!r} complete")

    def has_table(self, name: str) -> bool:
        check_table_name(name)
        return self._complete_version(name) is not None

    def list_tables(self) -> list[str]:
        names = self._call(self._table_names, "list tables")
        return sorted(n for n in names if not n.startswith("_") and self._complete_version(n) is not None)

    def drop_table(self, name: str) -> None:
        check_table_name(name)
        self._forget(name)
        self._call(lambda: self._db.drop_table(name, ignore_missing=True), f"drop table {name!r}")
        self._call(lambda: self._db.drop_table(ANN_PREFIX + name, ignore_missing=True), f"drop table {name!r}")

    def count(self, name: str) -> int:
        loaded = self._loaded_now(name)
        if loaded is not None:
            return loaded.count
        lance = self._checked_out(name)
        return int(self._call(lance.count_rows, f"count the rows of {name!r}"))

    def dimension(self, name: str) -> int:
        loaded = self._loaded_now(name)
        if loaded is not None:
            return loaded.dimension
        return int(self._checked_out(name).schema.field("vector").type.list_size)

    def read_rows(self, name: str, ids: Sequence[str] | None = None) -> pa.Table:
        return self._table(name).read_rows(ids)

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
        return self._table(name).search_many(vectors, k, check_where(where), exact=exact)

    def text_search(self, name: str, query: str, k: int, *, where: Mapping[str, Any] | None = None) -> list[VectorHit]:
        check_k(k)
        conditions = check_where(where)
        if not isinstance(query, str) or not query.strip():
            raise InvalidError("the text query is empty; give the words to search for")
        loaded = self._table(name)
        builder = loaded.lance.search(query, query_type="fts").limit(k).select(["id"])
        if conditions:
            builder = builder.where(where_sql(conditions), prefilter=True)
        result = self._call(builder.to_arrow, f"search the text of table {name!r}")
        ids = result.column("id").to_pylist()
        scores = result.column("_score").to_pylist()
        return loaded.hits_by_id(ids, [float(s) for s in scores])

    def close(self) -> None:
        with self._lock:
            self._loaded.clear()

    # -- internals ---------------------------------------------------------------------------

    def _table_names(self) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            page = self._db.list_tables(page_token=token) if token else self._db.list_tables()
            names.extend(page.tables)
            token = page.page_token
            if not token:
                return names

    def _open_complete(self, name: str) -> tuple[Any, int] | None:
        """The Lance table ``name`` and its complete version, or ``None`` (absent or unfinished)."""
        try:
            table = self._db.open_table(name)
        except ValueError:  # "Table 'x' was not found"
            return None
        except (OSError, RuntimeError) as err:
            if "not found" in str(err).lower():
                return None
            raise UnavailableError(f"cannot read vector table {name!r} in {self.url}: {err}") from err
        tag = table.tags.list().get(COMPLETE_TAG)
        return (table, int(tag["version"])) if tag else None

    def _complete_version(self, name: str) -> int | None:
        found = self._open_complete(name)
        return None if found is None else found[1]

    def _loaded_now(self, name: str) -> LoadedTable | None:
        """The loaded copy of ``name`` if it was checked within RECHECK_SECONDS (no I/O)."""
        check_table_name(name)
        with self._lock:
            entry = self._loaded.get(name)
        return entry[1] if entry is not None and time.monotonic() - entry[0] < RECHECK_SECONDS else None

    def _checked_out(self, name: str) -> Any:
        """The complete version of table ``name``, without loading its rows (count, dimension)."""
        check_table_name(name)
        found = self._open_complete(name)
        if found is None:
            raise table_not_found(name, self.url)
        lance, version = found
        lance.checkout(version)
        return lance

    def _table(self, name: str) -> LoadedTable:
        """The table loaded in memory; reloaded when it was dropped or replaced meanwhile."""
        check_table_name(name)
        now = time.monotonic()
        with self._lock:
            entry = self._loaded.get(name)
        if entry is not None and now - entry[0] < RECHECK_SECONDS:
            return entry[1]
        found = self._open_complete(name)
        if found is None:
            self._forget(name)
            raise table_not_found(name, self.url)
        lance, version = found
        lance.checkout(version)
        # A table dropped and written again may get the same version number; the build id in
        # its schema metadata tells a replaced table apart.
        build = build_id(lance.schema)
        if entry is not None and (entry[1].version, entry[1].build) == (version, build):
            loaded = entry[1]
        else:
            loaded = LoadedTable(name, version, build, lance, self._read_ann)
        with self._lock:
            self._loaded[name] = (now, loaded)
            self._loaded.move_to_end(name)
            while len(self._loaded) > LOADED_TABLES:
                self._loaded.popitem(last=False)
        return loaded

    def _read_ann(self, name: str) -> bytes | None:
        try:
            side = self._db.open_table(ANN_PREFIX + name)
        except ValueError:
            return None
        parts = side.to_arrow().sort_by("part").column("data").to_pylist()
        return b"".join(parts)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)

    def _call(self, fn: Any, what: str) -> Any:
        try:
            return fn()
        except (OSError, RuntimeError) as err:
            raise UnavailableError(f"LanceDB at {self.url} could not {what}: {err}") from err


__all__ = ["COLUMNS", "LanceVectorStore"]
