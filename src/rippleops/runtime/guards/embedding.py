"""Vectors for embedding validators: unit rows, and the fixed texts of a policy (topic
descriptions, the known attack phrasings) embedded once per embedder, not once per check."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rippleops.runtime.guards.base import Embedding

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_CACHE_SIZE = 32
_cache: OrderedDict[tuple[str, str], npt.NDArray[np.float32]] = OrderedDict()
_lock = threading.Lock()


_ROWS_SIZE = 8192  # unit rows of recent texts (~12 MB at 384 dimensions)
_rows: OrderedDict[tuple[str, str], npt.NDArray[np.float32]] = OrderedDict()


def unit_rows(embedding: Embedding, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """``texts`` embedded, each row scaled to unit length (cosine is then a dot product).

    Rows of texts seen lately are reused (per embedder): the passages an app retrieves recur
    from call to call, so groundedness embeds mostly the answer's own sentences."""
    import numpy as np

    keys = [(embedding.key, t) for t in texts]
    with _lock:
        found = {k: _rows[k] for k in keys if k in _rows}
        for k in found:
            _rows.move_to_end(k)
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    if missing:
        vectors = np.asarray(embedding.embed([t for _, t in missing]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        fresh = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
        with _lock:
            for k, row in zip(missing, fresh, strict=True):
                row.setflags(write=False)
                found[k] = _rows[k] = row
            while len(_rows) > _ROWS_SIZE:
                _rows.popitem(last=False)
    if not keys:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[k] for k in keys])


def fixed_vectors(embedding: Embedding, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """:func:`unit_rows` of texts that do not change, kept per (embedder, texts)."""
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    key = (embedding.key, digest)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    vectors = unit_rows(embedding, texts)
    vectors.setflags(write=False)
    with _lock:
        _cache[key] = vectors
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return vectors


def forget_rows() -> None:
    """Drop the rows of recent texts (benchmarks measure cold checks with it)."""
    with _lock:
        _rows.clear()
