"""The embedding cache: one float32 vector per (embedder vector key, sha256 of a text).

Rows are write-once and shared by every project: the same text through the same weights
gives the same vector, whoever asks. The key is :func:`rippleops.domain.embedders.vector_key`
(the hash of the fields that decide the vectors), both columns hex without a prefix.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from rippleops.store.models.base import Base, UTCDateTime, utcnow


class EmbeddingCacheEntry(Base):
    __tablename__ = "embedding_cache"

    embedder_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    text_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32, dimension * 4 bytes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
