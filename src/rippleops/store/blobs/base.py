"""The blob store interface: immutable bytes addressed by their sha256 digest.

A digest reads ``sha256:<64 lowercase hex>``; a blob lives at
``<root>/sha256/<first 2 hex>/<remaining 62 hex>`` in every backend, so a store can be
copied between backends with ordinary tools.
"""

from __future__ import annotations

import hashlib
import os
import re
from abc import ABC, abstractmethod
from typing import BinaryIO

from rippleops.errors import InvalidError, NotFoundError

DIGEST_ALGORITHM = "sha256"
CHUNK_SIZE = 1024 * 1024
"""Bytes read or written at a time when streaming a file or a stored blob."""

_DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")


def blob_digest(data: bytes) -> str:
    """The digest a blob of ``data`` is stored under.

    >>> blob_digest(b"")
    'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    return f"{DIGEST_ALGORITHM}:{hashlib.sha256(data).hexdigest()}"


def stream_digest(stream: BinaryIO) -> str:
    """The digest of everything left in ``stream``, read in chunks of :data:`CHUNK_SIZE`."""
    hasher = hashlib.sha256()
    while chunk := stream.read(CHUNK_SIZE):
        hasher.update(chunk)
    return f"{DIGEST_ALGORITHM}:{hasher.hexdigest()}"


def check_digest(digest: str) -> str:
    """Return ``digest`` unchanged if it is well formed; raise :class:`InvalidError` if not."""
    if not isinstance(digest, str) or not _DIGEST_PATTERN.fullmatch(digest):
        raise InvalidError(
            f"{digest!r} is not a blob digest; expected 'sha256:' followed by 64 lowercase "
            "hex digits, as returned by put()",
            details={"digest": repr(digest)},
        )
    return digest


def digest_key(digest: str) -> str:
    """Where a blob lives relative to a store's root: ``sha256/ab/cdef...``."""
    hex_digest = check_digest(digest).split(":", 1)[1]
    return f"{DIGEST_ALGORITHM}/{hex_digest[:2]}/{hex_digest[2:]}"


class BlobStore(ABC):
    """Content-addressed storage of immutable bytes.

    >>> from rippleops.store.blobs import open_blob_store
    >>> store = open_blob_store("memory://doctest-blobs")
    >>> digest = store.put(b"hello")
    >>> store.get(digest), store.size(digest), store.verify(digest)
    (b'hello', 5, True)
    """

    url: str
    """Where the store lives, as given to :func:`~rippleops.store.blobs.open_blob_store`."""

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data`` and return its digest; storing the same bytes again writes nothing."""

    @abstractmethod
    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store the file at ``path``, streamed in chunks, and return its digest."""

    def adopt_file(self, path: str | os.PathLike[str]) -> str:
        """Store the file at ``path`` and remove it: a file written only to be stored (a
        temp file) need not stay behind. Backends that can move it into place instead of
        copying it (a local store on the same disk) do so. Returns the digest."""
        digest = self.put_file(path)
        os.unlink(path)
        return digest

    @abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A readable binary file object over the blob; the caller closes it."""

    @abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether the blob is in the store (asks the backend, never a cache)."""

    @abstractmethod
    def size(self, digest: str) -> int:
        """The blob's length in bytes."""

    def get(self, digest: str) -> bytes:
        """The blob's bytes; :class:`NotFoundError` if the store does not hold it."""
        with self.open(digest) as stream:
            return stream.read()

    def verify(self, digest: str) -> bool:
        """Re-hash the stored bytes: ``False`` means the blob is corrupt.

        A blob that is not there at all raises :class:`NotFoundError` instead.
        """
        with self.open(digest) as stream:
            return stream_digest(stream) == digest

    def _not_found(self, digest: str) -> NotFoundError:
        return NotFoundError(
            f"blob {digest} is not in the blob store {self.url}; put it first, or check that "
            "RIPPLE_BLOB_URL points at the store that holds it",
            details={"digest": digest, "url": self.url},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
