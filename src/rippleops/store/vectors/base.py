"""The vector store interface: write-once tables of embedded chunks, searched by vector or text.

A table is named by its caller (one per index version) and written whole by
:meth:`VectorStore.create_table`; it is never changed afterwards, only dropped. Its rows
have these columns (:func:`row_schema`):

==========  ==================================  ==========================================
column      type                                meaning
==========  ==================================  ==========================================
``id``      string, unique                      the chunk's id (a content hash)
``vector``  fixed_size_list<float32>[dim]       its embedding
``text``    string                              the chunk's text
``doc_id``  string                              the document it comes from
``start``   int64                               character offset of the chunk in the document
``end``     int64                               character offset one past its end
``metadata``  string (a JSON object)            anything else; ``where`` filters match its keys
==========  ==================================  ==========================================

Vector scores are cosine similarity (higher is better, 1.0 is the same direction); text
scores are the backend's full-text relevance (higher is better). ``where`` is a mapping of
equality conditions, all of which must hold: the key ``doc_id`` matches the column, any
other key a top-level key of ``metadata`` (``{"lang": "en", "year": 2024}``).

pyarrow and numpy are imported when a store is used, not with this module: they come with
the ``index`` extra, and the CLI and server import this module without searching.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rippleops.errors import InvalidError, NotFoundError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    from rippleops.settings import Settings

#: The extra that brings LanceDB, pyarrow, pgvector, usearch and numpy.
INDEX_EXTRA_HINT = "pip install 'rippleops[index]'"
#: Columns every table has, in this order.
COLUMNS = ("id", "vector", "text", "doc_id", "start", "end", "metadata")
#: Table names: what a file name, an S3 key and (mapped) a SQL identifier all accept.
_TABLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
#: Most results one search returns.
MAX_K = 10_000
#: Scalars a ``where`` condition may compare to (JSON's, so every backend agrees).
_WHERE_TYPES = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class VectorHit:
    """One search result: a chunk, its score and where it sits in its document."""

    id: str
    score: float
    doc_id: str
    text: str
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": self.score,
            "doc_id": self.doc_id,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "metadata": self.metadata,
        }


class VectorStore(ABC):
    """Write-once tables of vectors with their chunk text, searched exactly, approximately or by text.

    Example::

        store = open_vector_store(get_settings())
        store.create_table("docs-3", rows)          # atomic: complete or absent
        hits = store.search("docs-3", query_vector, k=5, where={"lang": "en"})
        hits[0].score, hits[0].doc_id, hits[0].text
    """

    url: str
    """Where the store lives, as ``RIPPLE_VECTOR_URL`` names it (no credentials)."""

    @abstractmethod
    def create_table(self, name: str, rows: pa.Table, *, dimension: int | None = None) -> None:
        """Write ``rows`` (columns :data:`COLUMNS`) as the table ``name``, atomically.

        The table either exists complete, with its search indexes, or not at all: a process
        killed midway leaves nothing visible under ``name``. ``dimension``, when given, is what
        the vectors must have (the embedder's). Raises :class:`ConflictError` if ``name``
        exists and :class:`InvalidError` for rows that do not fit the schema.
        """

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """Whether a complete table ``name`` exists."""

    @abstractmethod
    def list_tables(self) -> list[str]:
        """The names of all complete tables, sorted."""

    @abstractmethod
    def drop_table(self, name: str) -> None:
        """Remove the table ``name``; dropping a table that does not exist is a no-op."""

    @abstractmethod
    def count(self, name: str) -> int:
        """How many rows the table holds."""

    @abstractmethod
    def dimension(self, name: str) -> int:
        """The length of the table's vectors."""

    @abstractmethod
    def read_rows(self, name: str, ids: Sequence[str] | None = None) -> pa.Table:
        """The rows with these ids (all rows when ``ids`` is ``None``), columns :data:`COLUMNS`.

        Ids that the table does not hold are left out; order is the table's.
        """

    @abstractmethod
    def search_many(
        self,
        name: str,
        vectors: npt.ArrayLike,
        k: int,
        *,
        where: Mapping[str, Any] | None = None,
        exact: bool = False,
    ) -> list[list[VectorHit]]:
        """The ``k`` nearest rows by cosine similarity for each row of ``vectors`` ``(n, dim)``.

        ``exact=True`` compares against every row (the true top k); ``exact=False`` may use
        an approximate index where the table has one. Raises :class:`InvalidError` when the
        vectors' dimension is not the table's.
        """

    def search(
        self,
        name: str,
        vector: npt.ArrayLike,
        k: int,
        *,
        where: Mapping[str, Any] | None = None,
        exact: bool = False,
    ) -> list[VectorHit]:
        """The ``k`` nearest rows to one ``vector`` by cosine similarity, best first."""
        import numpy as np

        query = np.asarray(vector, dtype=np.float32)
        if query.ndim != 1:
            raise InvalidError(
                f"search() takes one vector (1-d), not an array of shape {query.shape}; use search_many()"
            )
        return self.search_many(name, query[None, :], k, where=where, exact=exact)[0]

    @abstractmethod
    def text_search(self, name: str, query: str, k: int, *, where: Mapping[str, Any] | None = None) -> list[VectorHit]:
        """The ``k`` rows whose text best matches ``query`` by full-text relevance, best first."""

    def close(self) -> None:  # noqa: B027 - optional hook; local stores hold nothing to release
        """Release connections and caches; the store is unusable afterwards."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


# --- checks every backend shares -------------------------------------------------------------


def check_table_name(name: str) -> str:
    """``name`` unchanged if it is a valid table name; :class:`InvalidError` if not."""
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise InvalidError(
            f"{name!r} is not a vector table name; use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
            details={"name": repr(name)},
        )
    return name


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidError(f"k must be an integer from 1 to {MAX_K}, not {k!r}")
    return k


def check_where(where: Mapping[str, Any] | None) -> dict[str, Any]:
    """The filter as a plain dict of key -> JSON scalar; :class:`InvalidError` for anything else."""
    if where is None:
        return {}
    if not isinstance(where, Mapping):
        raise InvalidError(f"where must be a mapping of metadata key to value, not {type(where).__name__}")
    out: dict[str, Any] = {}
    for key, value in where.items():
        if not isinstance(key, str) or not key:
            raise InvalidError(f"where keys must be non-empty strings, not {key!r}")
        if not isinstance(value, _WHERE_TYPES):
            raise InvalidError(
                f"where[{key!r}] must be a string, number, boolean or null (equality only), not {type(value).__name__}"
            )
        if key == "doc_id" and not isinstance(value, str):
            raise InvalidError(f"where['doc_id'] must be a string, not {value!r}")
        out[key] = value
    return out


def where_matches(where: Mapping[str, Any], doc_id: str, metadata: Mapping[str, Any]) -> bool:
    """Whether one row passes ``where`` (the rule every backend implements)."""
    for key, value in where.items():
        actual = doc_id if key == "doc_id" else metadata.get(key, _MISSING)
        if not _json_equal(actual, value):
            return False
    return True


_MISSING = object()


def _json_equal(actual: Any, wanted: Any) -> bool:
    # JSON equality: 1 == 1.0, but True is not 1 (Python says it is; JSON and SQL do not).
    if actual is _MISSING:
        return False
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return isinstance(actual, bool) and isinstance(wanted, bool) and actual == wanted
    return bool(actual == wanted)


def check_query_vectors(vectors: npt.ArrayLike, dimension: int, table: str) -> npt.NDArray[np.float32]:
    """Query vectors as a C-contiguous float32 ``(n, dimension)`` matrix, or an error naming both dimensions."""
    import numpy as np

    try:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise InvalidError(f"query vectors must be numbers of shape (n, {dimension}): {err}") from None
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2:
        raise InvalidError(f"query vectors must have shape (n, {dimension}), not {matrix.shape}")
    if matrix.shape[1] != dimension:
        raise InvalidError(
            f"query vectors have {matrix.shape[1]} dimensions, but table {table!r} holds {dimension}-dimensional "
            "vectors; embed the query with the embedder the index was built with",
            details={"query_dimension": int(matrix.shape[1]), "table_dimension": dimension, "table": table},
        )
    if not np.isfinite(matrix).all():
        raise InvalidError("query vectors hold NaN or infinity")
    return matrix


def row_schema(dimension: int) -> pa.Schema:
    """The Arrow schema of a table whose vectors have ``dimension`` floats."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("start", pa.int64(), nullable=False),
            pa.field("end", pa.int64(), nullable=False),
            pa.field("metadata", pa.string(), nullable=False),
        ]
    )


def check_rows(rows: pa.Table, name: str, dimension: int | None = None) -> pa.Table:
    """``rows`` cast to :func:`row_schema`, or an :class:`InvalidError` naming what is wrong.

    Accepts ``vector`` as a fixed-size or variable list of floats (all the same length);
    ``metadata`` may be left out (every row gets ``{}``). Checks ids are unique and non-empty,
    offsets are ``0 <= start <= end``, every metadata value is a JSON object, and vectors are
    finite and of ``dimension`` (when given).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(rows, pa.Table):
        raise InvalidError(f"rows must be a pyarrow.Table, not {type(rows).__name__}")
    if "metadata" not in rows.column_names:
        rows = rows.append_column("metadata", pa.array(["{}"] * rows.num_rows, pa.string()))
    missing = [c for c in COLUMNS if c not in rows.column_names]
    if missing:
        raise InvalidError(
            f"rows for table {name!r} lack the column(s) {', '.join(missing)}; a vector table needs {', '.join(COLUMNS)}",
            details={"missing": missing},
        )
    if rows.num_rows == 0:
        raise InvalidError(f"rows for table {name!r} are empty; a vector table needs at least one row")
    rows = rows.select(list(COLUMNS)).combine_chunks()
    table_dimension = _vector_dimension(rows.column("vector"), name)
    if dimension is not None and table_dimension != dimension:
        raise InvalidError(
            f"rows for table {name!r} have {table_dimension}-dimensional vectors, but {dimension} were expected "
            "(the embedder's dimension); embed every row with the same embedder",
            details={"rows_dimension": table_dimension, "expected_dimension": dimension},
        )
    for column in COLUMNS:
        if rows.column(column).null_count:
            raise InvalidError(f"column {column!r} of the rows for table {name!r} has nulls; every row needs a value")
    try:
        rows = rows.cast(row_schema(table_dimension))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise InvalidError(f"rows for table {name!r} do not fit the vector table schema: {err}") from None
    ids = rows.column("id")
    if pc.any(pc.equal(pc.utf8_length(ids), 0)).as_py():
        raise InvalidError(f"rows for table {name!r} have an empty id; every row needs one")
    if pc.count_distinct(ids).as_py() != rows.num_rows:
        raise InvalidError(f"rows for table {name!r} have duplicate ids; ids must be unique")
    starts, ends = rows.column("start"), rows.column("end")
    if pc.any(pc.less(starts, 0)).as_py() or pc.any(pc.less(ends, starts)).as_py():
        raise InvalidError(f"rows for table {name!r} have offsets outside 0 <= start <= end")
    flat = vectors_of(rows)
    if not np.isfinite(flat).all():
        raise InvalidError(f"rows for table {name!r} have a vector with NaN or infinity")
    for i, raw in enumerate(rows.column("metadata").to_pylist()):
        parse_metadata(raw, f"row {i} of table {name!r}")
    return rows


def _vector_dimension(column: pa.ChunkedArray, name: str) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_fixed_size_list(kind):
        return int(kind.list_size)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        lengths = pc.list_value_length(column)
        low, high = pc.min(lengths).as_py(), pc.max(lengths).as_py()
        if low != high:
            first = lengths[0].as_py()
            odd = next(i for i, n in enumerate(lengths.to_pylist()) if n != first)
            raise InvalidError(
                f"rows for table {name!r} mix vector dimensions: row 0 has {first}, row {odd} has "
                f"{lengths[odd].as_py()}; embed every row with the same embedder",
                details={"dimensions": sorted({low, high})},
            )
        if not low:
            raise InvalidError(f"rows for table {name!r} have empty vectors")
        return int(low)
    raise InvalidError(f"column 'vector' of the rows for table {name!r} must be a list of float32, not {kind}")


def vectors_of(rows: pa.Table) -> npt.NDArray[np.float32]:
    """The ``vector`` column as a float32 ``(n, dim)`` matrix (zero-copy where Arrow allows)."""
    import numpy as np
    import pyarrow as pa

    column = rows.column("vector").combine_chunks()
    size = column.type.list_size
    # a sliced array: flatten() honours the offset, .values does not (but .values is zero-copy)
    values = column.flatten() if column.offset else column.values
    flat = values.to_numpy(zero_copy_only=False)
    assert isinstance(column, pa.FixedSizeListArray)
    return np.asarray(flat, dtype=np.float32).reshape(len(column), size)


def parse_metadata(raw: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as err:
        raise InvalidError(f"metadata of {where} is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise InvalidError(f"metadata of {where} must be a JSON object, not {type(value).__name__}")
    return value


def table_not_found(name: str, url: str) -> NotFoundError:
    return NotFoundError(
        f"vector table {name!r} does not exist in {url}; build the index first, or check RIPPLE_VECTOR_URL",
        details={"table": name, "url": url},
    )


def normalized(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero), so a dot product is cosine similarity."""
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)


# --- choosing a backend ----------------------------------------------------------------------

_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def open_vector_store(settings: Settings) -> VectorStore:
    """The vector store ``RIPPLE_VECTOR_URL`` names (``RIPPLE_VECTOR_OPTIONS``: its storage options).

    - unset: LanceDB in ``$RIPPLE_HOME/vectors``
    - a path or ``file://`` URL: LanceDB in that folder
    - ``s3://bucket/prefix`` (or ``gs://``, ``az://``): LanceDB on object storage
    - ``postgresql://user@host/db``: pgvector in that database

    Example::

        store = open_vector_store(get_settings())
    """
    url = settings.resolved_vector_url
    if url.startswith(_POSTGRES_SCHEMES):
        from .pgvector import PgVectorStore

        return PgVectorStore(url, dict(settings.vector_options))
    from .lance import LanceVectorStore

    return LanceVectorStore(url, dict(settings.vector_options))
