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


def unit_rows(embedding: Embedding, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """``texts`` embedded, each row scaled to unit length (cosine is then a dot product)."""
    import numpy as np

    vectors = np.asarray(embedding.embed(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return out


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
