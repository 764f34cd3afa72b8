"""Parquet in and out of the blob store: the one writer every dataset goes through, readers
over a stored blob, and the streamed exports (CSV, JSON Lines, Parquet).

The writer makes the file's bytes a function of the data and schema alone: rows are cut
into row groups of a fixed size whatever batches they arrive in, each group is written as
one contiguous chunk, and schema metadata (pandas' and the like) is dropped. So the same
records give the same blob, and a re-import is recognised as a no-op, whether they came from
a CSV read in 1 MiB blocks, a Parquet upload or a table built in memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rippleops.domain.datasets import jsonable
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services.dataset_docs import SCHEMA as DOC_SCHEMA
from rippleops.store.blobs import BlobStore, LocalBlobStore

ROW_GROUP_ROWS = 65_536
DOC_ROW_GROUP_ROWS = 256  # documents are large rows: keep a group's memory bounded
READ_BATCH_ROWS = 8192
EXPORT_CHUNK = 1024 * 1024
COMPRESSION = "zstd"
TEMP_PREFIX = "ripple-dataset-"


@contextmanager
def temp_path(folder: Path, suffix: str = "") -> Iterator[Path]:
    """A fresh path in ``folder`` (created), removed on the way out unless it was moved."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}{suffix}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def clean_schema(schema: pa.Schema) -> pa.Schema:
    """The schema without metadata (it would make equal data hash differently)."""
    return pa.schema([f.remove_metadata() for f in schema])


def describe_schema(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


class ParquetSink:
    """Batches in, one Parquet file out, in row groups of exactly ``row_group_rows``."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.path = path
        self.schema = clean_schema(schema)
        self.row_group_rows = row_group_rows
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(str(path), self.schema, compression=COMPRESSION)

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if not batch.schema.equals(self.schema):
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        n = self.row_group_rows
        while self._pending_rows >= n:
            table = pa.Table.from_batches(self._pending, self.schema)
            self._writer.write_table(table.slice(0, n).combine_chunks(), row_group_size=n)
            self._pending = table.slice(n).to_batches()
            self._pending_rows -= n

    def close(self) -> int:
        """Write the last (short) row group and the footer; the number of rows written."""
        if self._pending_rows:
            table = pa.Table.from_batches(self._pending, self.schema)
            self._writer.write_table(table.combine_chunks(), row_group_size=self.row_group_rows)
            self._pending, self._pending_rows = [], 0
        self._writer.close()
        return self.rows

    def abort(self) -> None:
        with contextlib.suppress(OSError, pa.ArrowException):  # the file is discarded anyway
            self._writer.close()


@contextmanager
def open_parquet(blobs: BlobStore, digest: str) -> Iterator[pq.ParquetFile]:
    """The stored Parquet blob, opened for reading (by path on a local store)."""
    stream: BinaryIO | None = None
    if isinstance(blobs, LocalBlobStore):
        path = blobs.path(digest)
        if not path.is_file():
            raise blobs._not_found(digest)
        source: Any = str(path)
    else:
        stream = blobs.open(digest)
        source = stream
    try:
        try:
            pf = pq.ParquetFile(source)
        except pa.ArrowInvalid as exc:
            raise InvalidError(f"the dataset blob {digest} is not a readable Parquet file: {exc}") from exc
        try:
            yield pf
        finally:
            pf.close()
    finally:
        if stream is not None:
            stream.close()


@contextmanager
def temp_open(path: Path) -> Iterator[pq.ParquetFile]:
    """A Parquet file on local disk (one being built), opened for reading."""
    pf = pq.ParquetFile(str(path))
    try:
        yield pf
    finally:
        pf.close()


def iter_blob_batches(
    blobs: BlobStore, digest: str, columns: Sequence[str] | None = None, batch_size: int = READ_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Stream the stored records, ``batch_size`` rows at a time (only ``columns`` if given)."""
    if batch_size < 1:
        raise InvalidError("batch_size must be at least 1")
    with open_parquet(blobs, digest) as pf:
        cols = check_columns(pf.schema_arrow, columns)
        yield from pf.iter_batches(batch_size=batch_size, columns=cols)


def check_columns(schema: pa.Schema, columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise NotFoundError(f"no column {', '.join(map(repr, missing))}; columns: {', '.join(schema.names)}")
    return list(columns)


def read_blob_table(blobs: BlobStore, digest: str, columns: Sequence[str] | None = None) -> pa.Table:
    with open_parquet(blobs, digest) as pf:
        return pf.read(columns=check_columns(pf.schema_arrow, columns))


def head_rows(blobs: BlobStore, digest: str, n: int) -> list[dict[str, Any]]:
    if n < 0:
        raise InvalidError("the number of rows must be 0 or more")
    if n == 0:
        return []
    rows: list[dict[str, Any]] = []
    for batch in iter_blob_batches(blobs, digest, batch_size=min(n, READ_BATCH_ROWS)):
        rows.extend({k: jsonable(v) for k, v in r.items()} for r in batch.to_pylist())
        if len(rows) >= n:
            break
    return rows[:n]


# -- exports ---------------------------------------------------------------------------------


def export_chunks(blobs: BlobStore, digest: str, fmt: str) -> Iterator[bytes]:
    """The dataset as ``fmt`` (csv, jsonl, parquet), in chunks of about a MiB."""
    if fmt == "parquet":
        return _blob_chunks(blobs, digest)
    if fmt == "csv":
        with open_parquet(blobs, digest) as pf:
            _check_csv_types(pf.schema_arrow)
        return _csv_chunks(iter_blob_batches(blobs, digest))
    if fmt == "jsonl":
        return _jsonl_chunks(iter_blob_batches(blobs, digest))
    raise InvalidError(f"unknown export format {fmt!r}; formats: csv, jsonl, parquet")


def _blob_chunks(blobs: BlobStore, digest: str) -> Iterator[bytes]:
    with blobs.open(digest) as stream:
        while chunk := stream.read(EXPORT_CHUNK):
            yield chunk


def _check_csv_types(schema: pa.Schema) -> None:
    nested = [f.name for f in schema if pa.types.is_nested(f.type) or pa.types.is_dictionary(f.type)]
    if nested:
        raise InvalidError(
            f"CSV cannot hold the nested columns {', '.join(nested)}; export as jsonl or parquet instead"
        )


def _csv_chunks(batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    first = True
    for batch in batches:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=first))
        first = False
        yield sink.getvalue().to_pybytes()


def _jsonl_chunks(batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    for batch in batches:
        buf = io.StringIO()
        for row in batch.to_pylist():
            buf.write(json.dumps({k: jsonable(v) for k, v in row.items()}, ensure_ascii=False))
            buf.write("\n")
        yield buf.getvalue().encode("utf-8")


def row_group_rows(schema: pa.Schema) -> int:
    """Documents are large rows: their row groups are smaller, to bound memory."""
    docs = schema.equals(DOC_SCHEMA)
    return DOC_ROW_GROUP_ROWS if docs else ROW_GROUP_ROWS


def check_key(parquet: Path, key: str, name: str) -> None:
    """A key identifies a row: never empty, never repeated (only its column is read)."""
    with temp_open(parquet) as pf:
        column = pf.read(columns=[key]).column(key)
    if column.null_count:
        raise InvalidError(
            f"dataset/{name}: key column {key!r} is empty in {column.null_count} rows; a key must always be set"
        )
    distinct = pc.count_distinct(column).as_py()
    if distinct != len(column):
        counts = pc.value_counts(column.combine_chunks())
        repeated = counts.filter(pc.greater(counts.field("counts"), 1))
        shown = ", ".join(f"{r['values']!r} x{r['counts']}" for r in repeated.to_pylist()[:5])
        raise InvalidError(
            f"dataset/{name}: key column {key!r} is not unique ({len(column) - distinct} repeated values: {shown}); "
            "pick a column that identifies each row, or leave --key out"
        )
