"""Stable 64-bit hashes of rows, texts and column values, and distinct counts from them.

The hashes must be the same in every process (the report is deterministic), so Python's
salted ``hash()`` is out: strings go through BLAKE2b, numbers through a SplitMix64 finaliser
in numpy. Rows are encoded by pyarrow as self-delimiting bytes (``N`` for null, else
``<length>:<value>`` per column) so that ``("ab", "c")`` and ``("a", "bc")`` differ.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Distinct values are counted exactly up to this many per column, estimated above it.
EXACT_DISTINCT_LIMIT = 100_000
_HLL_P = 14  # 16,384 registers: about 0.8% standard error


def hash_bytes(values: list[bytes | None]) -> np.ndarray:
    """BLAKE2b-64 of each value (None hashes as the empty value; callers mask nulls)."""
    joined = b"".join(hashlib.blake2b(v or b"", digest_size=8).digest() for v in values)
    out: np.ndarray = np.frombuffer(joined, dtype="<u8").copy()
    return out


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def as_binary(array: pa.Array) -> pa.Array:
    """One column as binary values, nulls kept: the bytes a row hash is built from."""
    t = array.type
    if pa.types.is_dictionary(t):
        array = array.dictionary_decode()
        t = array.type
    if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
        array = array.cast(pa.large_string() if pa.types.is_string_view(t) else pa.large_binary())
        t = array.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.cast(array, pa.large_binary())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pc.cast(array, pa.large_binary())
    if pa.types.is_nested(t) or pa.types.is_null(t):
        values = [None if v is None else json.dumps(v, sort_keys=True, default=str).encode() for v in array.to_pylist()]
        return pa.array(values, pa.large_binary())
    try:
        return pc.cast(pc.cast(array, pa.large_string()), pa.large_binary())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = [None if v is None else str(v).encode() for v in array.to_pylist()]
        return pa.array(values, pa.large_binary())


def row_hashes(batch: pa.RecordBatch, columns: list[str]) -> np.ndarray:
    """One hash per row over ``columns`` (all values, nulls distinguished from empty)."""
    if not columns:
        return np.zeros(batch.num_rows, dtype=np.uint64)
    parts = []
    for name in columns:
        values = as_binary(batch.column(name))
        lengths = pc.cast(pc.cast(pc.binary_length(values), pa.large_string()), pa.large_binary())
        framed = pc.binary_join_element_wise(lengths, values, pa.scalar(b":", pa.large_binary()))
        parts.append(pc.fill_null(framed, pa.scalar(b"N", pa.large_binary())))
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    return hash_bytes(joined.to_pylist())


def value_hashes(array: pa.Array) -> np.ndarray:
    """Hashes of the distinct non-null values of ``array`` (a distinct count's input)."""
    if pa.types.is_nested(array.type) or pa.types.is_null(array.type):
        values = array.drop_null().to_pylist()
        return np.unique(hash_bytes([json.dumps(v, sort_keys=True, default=str).encode() for v in values]))
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string_view(array.type) or pa.types.is_binary_view(array.type):
        array = array.cast(pa.large_binary())
    unique = pc.unique(array.drop_null())
    t = unique.type
    if pa.types.is_boolean(t):
        return _splitmix64(np.asarray(pc.cast(unique, pa.uint64())))
    if pa.types.is_integer(t) or pa.types.is_temporal(t):
        ints = unique.view(_int_of(t)) if pa.types.is_temporal(t) else unique
        return _splitmix64(np.asarray(pc.cast(ints, pa.int64())).view(np.uint64))
    if pa.types.is_floating(t):
        floats = np.asarray(pc.cast(unique, pa.float64()))
        return _splitmix64((floats + 0.0).view(np.uint64))  # + 0.0 folds -0.0 into 0.0
    return hash_bytes(as_binary(unique).to_pylist())


def _int_of(t: pa.DataType) -> pa.DataType:
    return pa.int32() if t.bit_width == 32 else pa.int64()


class DistinctCounter:
    """Exact distinct count up to :data:`EXACT_DISTINCT_LIMIT`, HyperLogLog++ above it."""

    def __init__(self) -> None:
        self._exact: set[int] | None = set()
        self._registers = np.zeros(1 << _HLL_P, dtype=np.int8)

    def add(self, hashes: np.ndarray) -> None:
        if hashes.size == 0:
            return
        self._update_registers(hashes)
        if self._exact is not None:
            self._exact.update(hashes.tolist())
            if len(self._exact) > EXACT_DISTINCT_LIMIT:
                self._exact = None

    def _update_registers(self, h: np.ndarray) -> None:
        # datasketch's HyperLogLogPlusPlus layout: register = low p bits, rank from the rest.
        index = (h & np.uint64((1 << _HLL_P) - 1)).astype(np.int64)
        rest = h >> np.uint64(_HLL_P)  # < 2**50: exact as float64, so frexp gives the bit length
        bit_length = np.where(rest == 0, 0, np.frexp(rest.astype(np.float64))[1])
        rank = (64 - _HLL_P - bit_length + 1).astype(np.int8)
        np.maximum.at(self._registers, index, rank)

    @property
    def exact(self) -> bool:
        return self._exact is not None

    def count(self) -> int:
        if self._exact is not None:
            return len(self._exact)
        from datasketch import HyperLogLogPlusPlus  # type: ignore[import-untyped]

        return round(float(HyperLogLogPlusPlus(p=_HLL_P, reg=self._registers).count()))
