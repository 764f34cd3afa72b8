"""Stable 64-bit hashes of rows, texts and column values, and distinct counts from them.

The hashes must be the same in every process (the report is deterministic), so Python's
salted ``hash()`` is out. Binary and string values are hashed in numpy straight from the
Arrow buffers, with no Python object per value (:func:`hash_binary`): each 8-byte word of a
value goes through SplitMix64's finaliser together with its position, the words' sum is
mixed with the value's length. That is a fingerprint, not a cryptographic hash: two
different values of natural data share one with probability about 2**-64. Numbers go
through the same finaliser. Rows are encoded by pyarrow as self-delimiting bytes (``N`` for
null, else ``<length>:<value>`` per column) so that ``("ab", "c")`` and ``("a", "bc")`` differ.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

#: Distinct values are counted exactly up to this many per column, estimated above it.
EXACT_DISTINCT_LIMIT = 100_000
_HLL_P = 14  # 16,384 registers: about 0.8% standard error


#: Bytes hashed per numpy step: the temporaries are ~8x this.
_HASH_CHUNK_BYTES = 1 << 22
_WORD_SALT = np.uint64(0xD6E8FEB86659FD93)
_LENGTH_SALT = np.uint64(0xA0761D6478BD642F)


def hash_bytes(values: list[bytes | None]) -> np.ndarray:
    """The :func:`hash_binary` of a list of byte strings (None hashes as the empty value)."""
    return hash_binary(pa.array([v or b"" for v in values], pa.large_binary()))


def hash_binary(array: pa.Array) -> np.ndarray:
    """A stable 64-bit hash of each value of a string or binary array, computed in numpy
    from the Arrow buffers. Nulls hash as the empty value: callers mask them."""
    t = array.type
    if pa.types.is_dictionary(t):
        array = array.dictionary_decode()
        t = array.type
    if not pa.types.is_large_binary(t):
        array = array.cast(pa.large_binary())
    n = len(array)
    out = np.zeros(n, dtype=np.uint64)
    if n == 0:
        return out
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=n + 1, offset=array.offset * 8)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    lo = 0
    while lo < n:  # slices of about _HASH_CHUNK_BYTES, at least one value each
        hi = int(np.searchsorted(offsets, offsets[lo] + _HASH_CHUNK_BYTES, side="right")) - 1
        hi = min(n, max(hi, lo + 1))
        out[lo:hi] = _hash_slice(data, offsets[lo : hi + 1])
        lo = hi
    return out


def _hash_slice(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    base, top = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    words = (lengths + 7) // 8
    sums = np.zeros(lengths.size, dtype=np.uint64)
    total_words = int(words.sum())
    if total_words:
        padded = np.zeros(top - base + 8, dtype=np.uint8)  # 8 spare bytes: the last word reads past the end
        padded[: top - base] = data[base:top]
        windows = sliding_window_view(padded, 8)  # windows[p] = the 8 bytes from p (a view, no copy)
        word_starts = np.cumsum(words) - words
        owner = np.repeat(np.arange(lengths.size), words)
        index = np.arange(total_words) - word_starts[owner]
        values = np.ascontiguousarray(windows[offsets[:-1][owner] - base + index * 8]).view("<u8").ravel()
        left = lengths[owner] - index * 8  # bytes of the value from this word on
        with np.errstate(over="ignore"):
            short = left < 8  # the last word of a value: keep only its own bytes
            values[short] &= (np.uint64(1) << (left[short] * 8).astype(np.uint64)) - np.uint64(1)
            mixed = _splitmix64(values ^ (index.astype(np.uint64) * _WORD_SALT))
        filled = words > 0
        sums[filled] = np.add.reduceat(mixed, word_starts[filled])
    with np.errstate(over="ignore"):
        return _splitmix64(sums ^ _splitmix64(lengths.astype(np.uint64) * _LENGTH_SALT))


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
    return hash_binary(joined)


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
    return hash_binary(as_binary(unique))


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
