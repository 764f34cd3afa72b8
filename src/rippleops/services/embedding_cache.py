"""The embedding cache: re-embedding a text the same embedder has seen costs no model call.

Entries are keyed by (the embedder version's vector key, the sha256 of the text's UTF-8
bytes) and hold the vector as little-endian float32 bytes. A batch of texts costs one
``SELECT ... IN (...)`` and, for the texts not found, one model call and one insert; an
insert that meets a row another writer just added is skipped (``ON CONFLICT DO NOTHING``
on SQLite and PostgreSQL), so concurrent writers never fail on duplicates.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rippleops.errors import InvalidError
from rippleops.store.db import Database
from rippleops.store.models import EmbeddingCacheEntry
from rippleops.store.models.base import utcnow

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Texts per SELECT ... IN (...) and per INSERT: under SQLite's 32,766 bound parameters,
#: and big enough that a batch of 64 (or an index build's 1,024) is one query.
LOOKUP_CHUNK = 2048

CACHE_TABLE = cast(Table, EmbeddingCacheEntry.__table__)
_LOOKUP = select(CACHE_TABLE.c.text_sha256, CACHE_TABLE.c.dimension, CACHE_TABLE.c.vector)


def text_key(text: str) -> str:
    """The hex sha256 of a text's UTF-8 bytes (``surrogatepass``: any Python string hashes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class CacheStats:
    """What the cache did since it was made: texts found, texts embedded, model calls made."""

    lookups: int = 0  # texts asked for
    hits: int = 0  # found in the cache (or repeated within one request)
    misses: int = 0  # embedded by the model
    model_calls: int = 0  # calls of Embedder.embed (one per request with misses)
    queries: int = 0  # SQL statements run (lookups + inserts)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class EmbeddingCache:
    """Vectors by (embedder vector key, text hash) in the Ripple database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._insert = pg_insert if db.dialect == "postgresql" else sqlite_insert

    def embed(
        self,
        embedder_key: str,
        dimension: int,
        texts: Sequence[str],
        compute: Callable[[list[str]], npt.NDArray[np.float32]],
    ) -> npt.NDArray[np.float32]:
        """The vectors of ``texts`` in order: cached ones read, the others computed and stored.

        ``compute`` gets the distinct texts that were not cached, in first-seen order, and
        must return one row of ``dimension`` floats per text.
        """
        return self.embed_counted(embedder_key, dimension, texts, compute)[0]

    def embed_counted(
        self,
        embedder_key: str,
        dimension: int,
        texts: Sequence[str],
        compute: Callable[[list[str]], npt.NDArray[np.float32]],
    ) -> tuple[npt.NDArray[np.float32], int]:
        """:meth:`embed`, and how many distinct texts went to ``compute``."""
        import numpy as np

        keys = [text_key(t) for t in texts]
        out = np.zeros((len(texts), dimension), dtype=np.float32)
        found = self.lookup(embedder_key, dimension, keys)
        todo: dict[str, int] = {}  # text hash -> index of its first text among the misses
        missing_texts: list[str] = []
        for key, text in zip(keys, texts, strict=True):
            if key not in found and key not in todo:
                todo[key] = len(missing_texts)
                missing_texts.append(text)
        if missing_texts:
            computed = compute(missing_texts)
            if computed.shape != (len(missing_texts), dimension):
                raise InvalidError(
                    f"the embedder returned vectors of shape {computed.shape} for {len(missing_texts)} texts; "
                    f"expected ({len(missing_texts)}, {dimension})"
                )
            computed = np.ascontiguousarray(computed, dtype="<f4")
            self.store(embedder_key, dimension, list(todo), computed)
            for key, row in todo.items():
                found[key] = computed[row]
        for i, key in enumerate(keys):
            out[i] = found[key]
        with self._lock:
            self.stats.lookups += len(texts)
            self.stats.misses += len(missing_texts)
            self.stats.hits += len(texts) - len(missing_texts)
            self.stats.model_calls += 1 if missing_texts else 0
        return out, len(missing_texts)

    def lookup(self, embedder_key: str, dimension: int, keys: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Cached vectors by text hash, for the keys that have one (one query per chunk)."""
        import numpy as np

        wanted = sorted(set(keys))
        found: dict[str, npt.NDArray[np.float32]] = {}
        with self.db.reading() as s:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                rows = s.execute(
                    _LOOKUP.where(CACHE_TABLE.c.embedder_key == embedder_key, CACHE_TABLE.c.text_sha256.in_(chunk))
                ).all()
                self._count_query()
                for text_sha256, dim, blob in rows:
                    if dim == dimension and len(blob) == 4 * dimension:  # a row of another shape is not ours
                        found[text_sha256] = np.frombuffer(blob, dtype="<f4")
        return found

    def store(self, embedder_key: str, dimension: int, keys: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        """Insert one row per key; rows that exist already (another writer's) are left alone."""
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {
                "embedder_key": embedder_key,
                "text_sha256": key,
                "dimension": dimension,
                "vector": vectors[i].astype("<f4").tobytes(),
                "created_at": now,
            }
            for i, key in enumerate(keys)
        ]

        def work(s: Session) -> None:
            for start in range(0, len(rows), LOOKUP_CHUNK):
                # one multi-row INSERT per chunk (not executemany): one statement, one round trip
                stmt = self._insert(CACHE_TABLE).values(rows[start : start + LOOKUP_CHUNK])
                s.execute(stmt.on_conflict_do_nothing(index_elements=["embedder_key", "text_sha256"]))
                self._count_query()

        if rows:
            self.db.write(work)

    def _count_query(self) -> None:
        with self._lock:
            self.stats.queries += 1
