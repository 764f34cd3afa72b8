"""Reading a source file into a Parquet file, streamed: CSV (pyarrow's incremental reader),
JSON Lines (two passes: types, then records), Parquet (by row group) and a folder of
documents (:mod:`rippleops.services.dataset_docs`).

Nothing here holds a whole file in memory: each reader yields batches that go straight into
a :class:`~rippleops.services.dataset_parquet.ParquetSink`. Bad input raises an
:class:`~rippleops.errors.InvalidError` naming the file, the lines and the way out, and the
caller throws the half-written Parquet file away, so nothing is registered.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rippleops.domain.datasets import DEFAULT_ENCODING, MAX_EXAMPLES, ImportSource, bad_rows_message
from rippleops.errors import InvalidError
from rippleops.runtime.executor import JobCancelled
from rippleops.services import dataset_docs
from rippleops.services.dataset_parquet import DOC_ROW_GROUP_ROWS, ROW_GROUP_ROWS, ParquetSink

CSV_BLOCK_BYTES = 1 << 20
JSONL_BATCH_ROWS = 8192
PARQUET_BATCH_ROWS = 65_536
_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")
_CSV_ROW = re.compile(r"Row #(\d+)")
_CSV_TARGET = re.compile(r"conversion error to ([\w\[\], =:]+?):")
_CSV_VALUE = re.compile(r"invalid value '(.*)'$")


class Reporter(Protocol):
    """What an import reports to (a job's context fits): progress, log lines, cancellation."""

    def progress(self, done: int, total: int | None = None, message: str = "") -> None: ...
    def log(self, message: str, level: str = "info") -> None: ...
    def cancelled(self) -> bool: ...


class Quiet:
    """A reporter that reports nowhere and is never cancelled."""

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        return None

    def log(self, message: str, level: str = "info") -> None:
        return None

    def cancelled(self) -> bool:
        return False


@dataclass(slots=True)
class Written:
    rows: int
    schema: pa.Schema
    skipped: list[str] = field(default_factory=list)  # documents not imported (docs only)


def to_parquet(source: ImportSource, out: Path, reporter: Reporter) -> Written:
    """Read ``source`` and write its records to the Parquet file ``out``."""
    if source.format == "csv":
        return _csv(source, out, reporter)
    if source.format == "jsonl":
        return _jsonl(source, out, reporter)
    if source.format == "parquet":
        return _parquet(source, out, reporter)
    if source.format == "docs":
        return _docs(source, out, reporter)
    raise InvalidError(f"unknown dataset format {source.format!r}; formats: csv, jsonl, parquet, docs")


def _check(reporter: Reporter) -> None:
    if reporter.cancelled():
        raise JobCancelled()


def _empty(source: ImportSource, detail: str) -> InvalidError:
    return InvalidError(f"{source.label} {detail}; an empty dataset is not registered — check the file")


def _check_names(source: ImportSource, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InvalidError(f"{source.label} has two columns named {n!r}; column names must be unique")
        seen.add(n)


# -- CSV ---------------------------------------------------------------------------------------


def _csv(source: ImportSource, out: Path, reporter: Reporter) -> Written:
    """pyarrow infers each column's type from the first block; when a later block holds a
    value that does not fit (``1.5`` in an int column), the column is widened (int ->
    double -> string) and the file read again from the start."""
    overrides: dict[str, pa.DataType] = {}
    size = source.path.stat().st_size
    while True:
        try:
            return _csv_pass(source, out, reporter, overrides, size)
        except pa.ArrowInvalid as exc:
            widened = _widen(source, str(exc), overrides)
            if widened is None:
                raise
            column, new_type, line = widened
            reporter.log(
                f"column {column!r} was read as {overrides.get(column, _target(str(exc)))} from the first rows, "
                f"but line {line} holds {_value(str(exc))}; reading it as {new_type} (the file is read again)",
                "warning",
            )
            overrides[column] = new_type


def _csv_pass(
    source: ImportSource, out: Path, reporter: Reporter, overrides: dict[str, pa.DataType], size: int
) -> Written:
    bad: list[tuple[int | None, str]] = []
    bad_count = 0

    def invalid_row(row: Any) -> str:
        nonlocal bad_count
        bad_count += 1
        if len(bad) < MAX_EXAMPLES:
            bad.append((row.number, f"expected {row.expected_columns} fields, found {row.actual_columns}: {row.text}"))
        return "skip"

    read = pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES, encoding=source.encoding)
    parse = pacsv.ParseOptions(
        delimiter=source.delimiter or ",", newlines_in_values=True, invalid_row_handler=invalid_row
    )
    convert = pacsv.ConvertOptions(column_types=overrides, strings_can_be_null=False)
    # Memory-mapped: the reader's blocks are views of the file (pages the kernel can drop),
    # where a plain file makes it read ~32 MiB ahead into buffers of its own. Rows are
    # numbered (for error messages) only by the single-threaded reader.
    stream = pa.memory_map(str(source.path))
    sink: ParquetSink | None = None
    try:
        try:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
            schema = reader.schema
            names = schema.names
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise _empty(source, "is empty (no header, no rows)") from None
            raise _csv_error(source, exc) from None
        except UnicodeDecodeError:  # the header's names do not decode
            raise _encoding_error(source, "the header", 1) from None
        _check_names(source, names)
        _check_text(source, schema)
        sink = ParquetSink(out, schema, ROW_GROUP_ROWS)
        while True:
            _check(reporter)
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                if _CSV_COLUMN.search(str(exc)) and "invalid UTF8" not in str(exc):
                    raise  # a type that does not fit: _csv widens the column and reads again
                raise _csv_error(source, exc) from None
            sink.write(batch)
            reporter.progress(min(stream.tell(), size), size, f"{sink.rows:,} rows")
        if bad_count:
            raise InvalidError(bad_rows_message(source.label, bad, bad_count, "rows"))
        rows = sink.close()
        sink = None
    finally:
        if sink is not None:
            sink.abort()
        stream.close()
    if rows == 0:
        raise _empty(source, "has a header but no rows")
    return Written(rows, schema)


def _check_text(source: ImportSource, schema: pa.Schema) -> None:
    """pyarrow reads bytes that are not valid in the encoding as a binary column: that is
    a file in another encoding, not binary data."""
    binary = [f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if binary:
        raise _encoding_error(source, f"column {binary[0]!r}", _first_bad_line(source))


def _first_bad_line(source: ImportSource) -> int | None:
    """Where the text first stops being valid in the expected encoding (error path only)."""
    if source.encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
        return None
    with source.path.open("rb") as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def _encoding_error(source: ImportSource, where: str, line: int | None) -> InvalidError:
    with source.path.open("rb") as f:
        start = f.read(4)
    hint = "latin-1 or cp1252"
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        hint = "utf-16 (the file starts with a UTF-16 byte-order mark)"
    at = f" at line {line}" if line else ""
    return InvalidError(
        f"{source.label} is not valid {source.encoding} text ({where}{at}); {source.encoding} is the expected "
        f"encoding — if the file uses another one, pass it with --encoding (for example {hint})"
    )


def _csv_error(source: ImportSource, exc: pa.ArrowInvalid) -> InvalidError:
    text = str(exc)
    row = _CSV_ROW.search(text)
    line = int(row.group(1)) if row else None
    if "invalid UTF8" in text:
        return _encoding_error(source, "a value", line or _first_bad_line(source))
    at = f" at line {line}" if line else ""
    return InvalidError(f"{source.label} is not valid CSV{at}: {text}")


def _target(message: str) -> str:
    m = _CSV_TARGET.search(message)
    return m.group(1) if m else "another type"


def _value(message: str) -> str:
    m = _CSV_VALUE.search(message)
    return repr(m.group(1)) if m else "a value that does not fit"


def _widen(
    source: ImportSource, message: str, overrides: dict[str, pa.DataType]
) -> tuple[str, pa.DataType, str] | None:
    """The column a conversion error names and the wider type to read it as (int ->
    double -> string); None when there is nothing wider (the error is then reported)."""
    col = _CSV_COLUMN.search(message)
    if col is None or "invalid UTF8" in message:
        return None
    with pa.OSFile(str(source.path)) as stream:
        read = pacsv.ReadOptions(use_threads=False, encoding=source.encoding)
        parse = pacsv.ParseOptions(delimiter=source.delimiter or ",", invalid_row_handler=lambda r: "skip")
        names = pacsv.open_csv(stream, read_options=read, parse_options=parse).schema.names
    index = int(col.group(1))
    if index >= len(names):
        return None
    name = names[index]
    current = overrides.get(name)
    if current == pa.string():
        return None
    target = _CSV_TARGET.search(message)
    was_int = current is None and target is not None and target.group(1).startswith(("int", "uint"))
    value = _CSV_VALUE.search(message)
    if was_int and value is not None:
        try:
            float(value.group(1))
        except ValueError:
            was_int = False  # not a number at all: straight to string
    row = _CSV_ROW.search(message)
    return name, pa.float64() if was_int else pa.string(), row.group(1) if row else "?"


# -- JSON Lines ------------------------------------------------------------------------------


def _jsonl(source: ImportSource, out: Path, reporter: Reporter) -> Written:
    """Pass 1 checks every line and merges the column types of all of them (a field first
    seen on line 90,000 is a column too); pass 2 converts the records to that schema."""
    size = source.path.stat().st_size
    schema: pa.Schema | None = None
    bad: list[tuple[int | None, str]] = []
    bad_count = 0
    for lines, rows, errors, done in _jsonl_chunks(source):
        _check(reporter)
        for line, problem in errors:
            bad_count += 1
            if len(bad) < MAX_EXAMPLES:
                bad.append((line, problem))
        if rows and not bad_count:
            batch_schema = _infer(source, rows, lines)
            schema = batch_schema if schema is None else _merge(source, schema, batch_schema, lines[0])
        reporter.progress(done, 2 * size, "checking every line (pass 1 of 2)")
    if bad_count:
        raise InvalidError(bad_rows_message(source.label, bad, bad_count, "lines"))
    if schema is None:
        raise _empty(source, "has no records (no non-blank lines)")
    _check_names(source, schema.names)
    sink = ParquetSink(out, schema, ROW_GROUP_ROWS)
    try:
        for _, rows, _, done in _jsonl_chunks(source):
            _check(reporter)
            columns = [pa.array([r.get(f.name) for r in rows], type=f.type) for f in schema]
            sink.write(pa.RecordBatch.from_arrays(columns, schema=schema))
            reporter.progress(size + done, 2 * size, f"{sink.rows:,} rows")
        return Written(sink.close(), schema)
    except BaseException:
        sink.abort()
        raise


def _jsonl_chunks(source: ImportSource) -> Iterator[tuple[list[int], list[dict[str, Any]], list[tuple[int, str]], int]]:
    """(line number of each record, records, bad lines, bytes read) per :data:`JSONL_BATCH_ROWS` lines."""
    encoding = "utf-8-sig" if source.encoding == DEFAULT_ENCODING else source.encoding
    with source.path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline=None)
        number = 0
        while True:
            lines: list[int] = []
            rows: list[dict[str, Any]] = []
            errors: list[tuple[int, str]] = []
            for _ in range(JSONL_BATCH_ROWS):
                try:
                    line = text.readline()
                except UnicodeDecodeError:
                    raise _encoding_error(source, "the text", number + 1) from None
                if not line:
                    break
                number += 1
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    errors.append((number, f"not valid JSON ({exc.msg} at column {exc.colno}): {line.strip()}"))
                    continue
                if not isinstance(value, dict):
                    errors.append((number, f"not a JSON object but {type(value).__name__}: {line.strip()}"))
                    continue
                rows.append(value)
                lines.append(number)
            if not rows and not errors and not line:
                return
            yield lines, rows, errors, raw.tell()
            if not line:
                return


def _infer(source: ImportSource, rows: list[dict[str, Any]], lines: list[int]) -> pa.Schema:
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    fields = []
    for name in names:
        values = [r.get(name) for r in rows]
        try:
            fields.append(pa.field(name, pa.array(values).type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            raise InvalidError(_mixed(source, name, values, lines)) from None
    return pa.schema(fields)


def _mixed(source: ImportSource, name: str, values: list[Any], lines: list[int]) -> str:
    kinds: dict[str, int] = {}
    for i, v in enumerate(values):
        if v is not None:
            kinds.setdefault(type(v).__name__, i)
    where = sorted(kinds.items(), key=lambda kv: kv[1])
    detail = ", ".join(f"{k} (first at line {lines[i]})" for k, i in where)
    return (
        f"{source.label}: field {name!r} mixes value types that cannot share a column: {detail}; "
        "make its values one type (quote numbers as strings, for example)"
    )


def _merge(source: ImportSource, a: pa.Schema, b: pa.Schema, first_line: int) -> pa.Schema:
    try:
        return pa.unify_schemas([a, b], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidError(
            f"{source.label}: the records from line {first_line} on do not fit the types of the lines before "
            f"({exc}); make each field's values one type"
        ) from None


# -- Parquet ---------------------------------------------------------------------------------


def _parquet(source: ImportSource, out: Path, reporter: Reporter) -> Written:
    try:
        pf = pq.ParquetFile(str(source.path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidError(f"{source.label} is not a Parquet file ({exc}); pass the right --format") from None
    with pf:
        schema = pf.schema_arrow
        total = pf.metadata.num_rows
        if total == 0:
            raise _empty(source, "has no rows")
        _check_names(source, schema.names)
        sink = ParquetSink(out, schema, ROW_GROUP_ROWS)
        try:
            for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                _check(reporter)
                sink.write(batch)
                reporter.progress(sink.rows, total, f"{sink.rows:,} of {total:,} rows")
            return Written(sink.close(), sink.schema)
        except pa.ArrowInvalid as exc:
            sink.abort()
            raise InvalidError(f"{source.label} cannot be read as Parquet: {exc}") from None
        except BaseException:
            sink.abort()
            raise


# -- documents -------------------------------------------------------------------------------


def _docs(source: ImportSource, out: Path, reporter: Reporter) -> Written:
    files, skipped = dataset_docs.list_documents(source.path)
    for name in skipped[:MAX_EXAMPLES]:
        reporter.log(f"skipped {name}: not a .txt, .md, .html or .pdf document", "warning")
    if not files:
        found = f" (it holds {len(skipped)} other files)" if skipped else ""
        raise _empty(source, f"holds no documents (.txt, .md, .html, .pdf){found}")
    schema = dataset_docs.SCHEMA
    sink = ParquetSink(out, schema, DOC_ROW_GROUP_ROWS)
    total = sum(f.size for f in files)
    done = 0
    try:
        batch: list[dict[str, Any]] = []
        for f in files:
            _check(reporter)
            batch.append(dataset_docs.read_document(f, source.uri, source.encoding))
            done += f.size
            if len(batch) >= dataset_docs.BATCH_DOCS:
                sink.write(pa.RecordBatch.from_pylist(batch, schema=schema))
                batch = []
            reporter.progress(done, total, f"{len(files)} documents: {f.doc_id}")
        if batch:
            sink.write(pa.RecordBatch.from_pylist(batch, schema=schema))
        return Written(sink.close(), schema, skipped)
    except BaseException:
        sink.abort()
        raise
