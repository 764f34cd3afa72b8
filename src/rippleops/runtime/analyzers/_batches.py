"""Input checks shared by the reports: a stream of pyarrow record batches with one schema."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from rippleops.errors import InvalidError

#: How a null group or label is shown (a real value spelled the same is marked apart by "missing").
MISSING = "(missing)"


def iter_batches(batches: Iterable[pa.RecordBatch] | pa.Table) -> Iterator[pa.RecordBatch]:
    """Yield the batches, checking each is a RecordBatch with the schema of the first."""
    if isinstance(batches, pa.Table):
        batches = batches.to_batches()
    elif isinstance(batches, pa.RecordBatch):
        batches = [batches]
    schema: pa.Schema | None = None
    for batch in batches:
        if not isinstance(batch, pa.RecordBatch):
            raise InvalidError(f"expected pyarrow RecordBatches, got {type(batch).__name__}")
        if schema is None:
            schema = batch.schema
        elif not batch.schema.equals(schema):
            raise InvalidError(
                f"a record batch has the schema ({_names(batch.schema)}) but the first had ({_names(schema)}); "
                "every batch of one dataset must have the same columns and types"
            )
        yield batch


def require_columns(schema: pa.Schema, wanted: dict[str, Sequence[str]]) -> None:
    """Raise naming every missing column (by role) and the columns there are."""
    have = set(schema.names)
    missing = [f"{role} {name!r}" for role, names in wanted.items() for name in names if name not in have]
    if missing:
        raise InvalidError(f"no column {', '.join(missing)} in the data; columns: {_names(schema) or '(none)'}")


def json_value(value: Any) -> Any:
    """``value`` as JSON can hold it (dates, decimals, bytes become strings; NaN stays a string)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.hex()
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def sort_key(value: Any) -> tuple[int, Any]:
    """A total order over mixed values (None, numbers, strings ...) for deterministic output."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, repr(value))


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 row``, ``2 rows``."""
    return f"{n} {word if n == 1 else words or word + 's'}"


def share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _names(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name}: {f.type}" for f in schema)
