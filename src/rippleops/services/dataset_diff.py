"""The diff of two dataset versions by key: rows added, removed and changed (with the
changed columns), as counts plus examples, and the columns added, removed or retyped.

Memory stays at a few columns, not two whole tables: the key columns are compared for
added and removed rows, then each shared column is joined on the key on its own (pyarrow's
hash join), compared, and only a bitmask of changed rows and the values of the first few
examples are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rippleops.domain.datasets import jsonable
from rippleops.errors import InvalidError
from rippleops.services.dataset_parquet import iter_blob_batches, read_blob_table
from rippleops.store.blobs import BlobStore

B_SUFFIX = "\x00b"  # the other side's column in a join; no real column is named so


def diff_versions(
    blobs: BlobStore,
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    a_ref: str,
    b_ref: str,
    key: str | None,
    limit: int = 5,
) -> dict[str, Any]:
    """Diff the contents of two dataset versions (``a`` -> ``b``) by ``key`` (default: the
    key both versions record)."""
    if limit < 0:
        raise InvalidError("the number of examples must be 0 or more")
    key = key or _common_key(a, b, a_ref, b_ref)
    types_a = {f["name"]: f["type"] for f in a["schema"]}
    types_b = {f["name"]: f["type"] for f in b["schema"]}
    for ref, types in ((a_ref, types_a), (b_ref, types_b)):
        if key not in types:
            raise InvalidError(f"{ref} has no column {key!r}; columns: {', '.join(types)}")
    schema = {
        "added": [{"name": n, "type": t} for n, t in types_b.items() if n not in types_a],
        "removed": [{"name": n, "type": t} for n, t in types_a.items() if n not in types_b],
        "retyped": [
            {"name": n, "from": types_a[n], "to": types_b[n]}
            for n in types_a
            if n in types_b and types_a[n] != types_b[n]
        ],
    }
    result: dict[str, Any] = {
        "from": a_ref,
        "to": b_ref,
        "key": key,
        "rows": {"from": a["rows"], "to": b["rows"]},
        "schema": schema,
    }
    if a["blob"] == b["blob"]:
        counts = {"added": 0, "removed": 0, "changed": 0, "unchanged": a["rows"]}
        empty: dict[str, list[Any]] = {"added": [], "removed": [], "changed": []}
        return {**result, "same": True, "counts": counts, "changed_columns": {}, "examples": empty}

    keys_a = _keys(blobs, a["blob"], key, a_ref)
    keys_b = _keys(blobs, b["blob"], key, b_ref)
    if keys_a.type != keys_b.type:
        keys_a, keys_b = _as_text(keys_a), _as_text(keys_b)
    added = pc.invert(pc.is_in(keys_b, value_set=keys_a))
    removed = pc.invert(pc.is_in(keys_a, value_set=keys_b))
    shared = [n for n in types_a if n in types_b and n != key]
    changed = _changed(blobs, a["blob"], b["blob"], key, shared, limit)
    counts = {
        "added": pc.sum(added).as_py() or 0,
        "removed": pc.sum(removed).as_py() or 0,
        "changed": changed["count"],
    }
    counts["unchanged"] = len(keys_a) - counts["removed"] - counts["changed"]
    examples = {
        "added": _rows_at(blobs, b["blob"], _first(added, limit)),
        "removed": _rows_at(blobs, a["blob"], _first(removed, limit)),
        "changed": changed["examples"],
    }
    same = not any(schema.values()) and not (counts["added"] or counts["removed"] or counts["changed"])
    return {**result, "same": same, "counts": counts, "changed_columns": changed["columns"], "examples": examples}


def _common_key(a: Mapping[str, Any], b: Mapping[str, Any], a_ref: str, b_ref: str) -> str:
    ka, kb = a.get("key"), b.get("key")
    if ka and ka == kb:
        return str(ka)
    if ka and kb:
        raise InvalidError(f"{a_ref} is keyed by {ka!r} but {b_ref} by {kb!r}; pick one with --key COL")
    raise InvalidError(
        f"{a_ref if not ka else b_ref} records no key column, so rows cannot be matched; pass --key COL "
        "(a column whose values identify a row in both versions)"
    )


def _keys(blobs: BlobStore, digest: str, key: str, ref: str) -> pa.Array:
    column = read_blob_table(blobs, digest, [key]).column(key).combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    nulls = column.null_count
    if nulls:
        raise InvalidError(f"{ref}: key column {key!r} has {nulls} empty values; pick a key that is always set")
    if pc.count_distinct(column).as_py() != len(column):
        counts = pc.value_counts(column)
        dup = [jsonable(v["values"]) for v in counts.filter(pc.greater(counts.field("counts"), 1)).to_pylist()[:3]]
        raise InvalidError(f"{ref}: key column {key!r} is not unique (repeated: {dup}); pick a unique key with --key")
    return column


def _as_text(column: pa.Array) -> pa.Array:
    return pc.cast(column, pa.string())


def _first(mask: pa.Array, limit: int) -> list[int]:
    if limit == 0:
        return []
    return [int(i) for i in pc.indices_nonzero(mask).slice(0, limit).to_pylist()]


def _rows_at(blobs: BlobStore, digest: str, indices: list[int]) -> list[dict[str, Any]]:
    """The rows at the given (sorted) positions, read batch by batch."""
    out: list[dict[str, Any]] = []
    if not indices:
        return out
    wanted = iter(indices)
    target: int | None = next(wanted)
    offset = 0
    for batch in iter_blob_batches(blobs, digest):
        end = offset + batch.num_rows
        while target is not None and target < end:
            out.append({k: jsonable(v) for k, v in batch.slice(target - offset, 1).to_pylist()[0].items()})
            target = next(wanted, None)
        if target is None:
            break
        offset = end
    return out


def _changed(blobs: BlobStore, a: str, b: str, key: str, columns: list[str], limit: int) -> dict[str, Any]:
    """Rows whose key is in both versions but whose values differ, column by column."""
    keys: pa.Array | None = None
    any_changed: pa.Array | None = None
    per_column: dict[str, tuple[pa.Array, dict[int, tuple[Any, Any]]]] = {}
    for name in columns:
        left = read_blob_table(blobs, a, [key, name])
        right = read_blob_table(blobs, b, [key, name]).rename_columns([key, name + B_SUFFIX])
        left, right = _joinable(left, right, key)
        joined = left.join(right, keys=key, join_type="inner").sort_by(key)
        if keys is None:
            keys = joined.column(key).combine_chunks()
        mask = _differs(joined.column(name).combine_chunks(), joined.column(name + B_SUFFIX).combine_chunks())
        any_changed = mask if any_changed is None else pc.or_(any_changed, mask)
        first = _first(mask, limit)
        values = {
            i: (jsonable(joined.column(name)[i].as_py()), jsonable(joined.column(name + B_SUFFIX)[i].as_py()))
            for i in first
        }
        per_column[name] = (mask, values)
    if keys is None or any_changed is None:
        return {"count": 0, "columns": {}, "examples": []}
    examples = []
    for i in _first(any_changed, limit):
        cols = {
            name: {"from": values[i][0], "to": values[i][1]}
            for name, (mask, values) in per_column.items()
            if mask[i].as_py()
        }
        examples.append({"key": jsonable(keys[i].as_py()), "columns": cols})
    counts = {name: int(pc.sum(mask).as_py() or 0) for name, (mask, _) in per_column.items()}
    return {
        "count": int(pc.sum(any_changed).as_py() or 0),
        "columns": {k: v for k, v in counts.items() if v},
        "examples": examples,
    }


def _joinable(left: pa.Table, right: pa.Table, key: str) -> tuple[pa.Table, pa.Table]:
    """Key columns of one type that the hash join takes (plain strings for anything odd)."""
    lk, rk = left.schema.field(key).type, right.schema.field(key).type
    plain = pa.types.is_integer(lk) or pa.types.is_string(lk) or pa.types.is_large_string(lk)
    if lk != rk or not plain:
        left = left.set_column(0, key, _as_text(left.column(key).combine_chunks()))
        right = right.set_column(0, key, _as_text(right.column(key).combine_chunks()))
    return left, right


def _differs(x: pa.Array, y: pa.Array) -> pa.Array:
    """True where two aligned columns hold different values (null equals null, NaN NaN)."""
    if x.type != y.type:
        try:
            x, y = _as_text(x), _as_text(y)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pa.array([a != b for a, b in zip(x.to_pylist(), y.to_pylist(), strict=True)], pa.bool_())
    try:
        equal = pc.fill_null(pc.equal(x, y), False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # nested types: compare as Python values
        return pa.array([a != b for a, b in zip(x.to_pylist(), y.to_pylist(), strict=True)], pa.bool_())
    same = pc.or_(equal, pc.and_(pc.is_null(x), pc.is_null(y)))
    if pa.types.is_floating(x.type):
        same = pc.or_(same, pc.fill_null(pc.and_(pc.is_nan(x), pc.is_nan(y)), False))
    return pc.invert(same)
