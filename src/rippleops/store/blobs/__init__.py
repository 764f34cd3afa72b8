"""Content-addressed blob storage: a :class:`BlobStore` base, a local and an fsspec backend.

>>> import tempfile
>>> store = open_blob_store(tempfile.mkdtemp())
>>> digest = store.put(b"hello")
>>> digest
'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
>>> store.get(digest)
b'hello'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fsspec.core import split_protocol  # type: ignore[import-untyped]

from .base import BlobStore, blob_digest, check_digest
from .local import LocalBlobStore
from .remote import FsspecBlobStore

__all__ = [
    "BlobStore",
    "FsspecBlobStore",
    "LocalBlobStore",
    "blob_digest",
    "check_digest",
    "open_blob_store",
]

_LOCAL_PROTOCOLS = frozenset({None, "file", "local"})


def open_blob_store(url: str, storage_options: Mapping[str, Any] | None = None) -> BlobStore:
    """The blob store at ``url``: a plain path or ``file://`` URL opens a :class:`LocalBlobStore`,
    any other fsspec URL (``s3://bucket/prefix``, ``memory://...``) a :class:`FsspecBlobStore`.

    ``storage_options`` (endpoint, credentials, timeouts ...) go to ``fsspec.filesystem``;
    a local store has none and ignores them.

    >>> open_blob_store("s3://bucket/blobs", {"anon": True}).url
    's3://bucket/blobs'
    """
    protocol, path = split_protocol(url)
    if protocol in _LOCAL_PROTOCOLS:
        return LocalBlobStore(path)
    return FsspecBlobStore(url, storage_options)
