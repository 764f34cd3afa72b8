"""Vector storage: a :class:`VectorStore` base and its backends.

- :class:`~rippleops.store.vectors.lance.LanceVectorStore` — LanceDB in a folder (the
  embedded default, ``$RIPPLE_HOME/vectors``) or on S3-compatible object storage
- :class:`~rippleops.store.vectors.pgvector.PgVectorStore` — pgvector in PostgreSQL

:func:`open_vector_store` picks one from ``RIPPLE_VECTOR_URL``. The backends need the
``index`` extra (``pip install 'rippleops[index]'``); this package imports without it.
"""

from __future__ import annotations

from .base import COLUMNS, INDEX_EXTRA_HINT, VectorHit, VectorStore, open_vector_store, row_schema

__all__ = ["COLUMNS", "INDEX_EXTRA_HINT", "VectorHit", "VectorStore", "open_vector_store", "row_schema"]
