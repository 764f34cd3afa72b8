"""Blobs in a local folder, written atomically.

Each blob is first written to ``<root>/tmp/<uuid>.part``, flushed and fsynced, then renamed
onto ``<root>/sha256/ab/cdef...`` with :func:`os.replace`. A crash therefore leaves at most
a stray ``.part`` file (removed by :meth:`LocalBlobStore.cleanup_temp`), never a partial
blob at its final path. The fault point ``blob.before_rename`` fires between the two steps.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rippleops.errors import InvalidError, NotFoundError, UnavailableError
from rippleops.settings import get_settings

from .base import CHUNK_SIZE, DIGEST_ALGORITHM, BlobStore, blob_digest, digest_key

TEMP_DIR = "tmp"
TEMP_SUFFIX = ".part"


class LocalBlobStore(BlobStore):
    """Blobs under a folder on this machine.

    >>> import tempfile
    >>> store = LocalBlobStore(tempfile.mkdtemp())
    >>> store.get(store.put(b"hello"))
    b'hello'
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()
        self.url = str(self.root)
        self._temp_dir = self.root / TEMP_DIR

    def path(self, digest: str) -> Path:
        """The file a blob is (or would be) stored in."""
        return self.root / digest_key(digest)

    def put(self, data: bytes) -> str:
        digest = blob_digest(data)
        if self.path(digest).is_file():
            return digest
        with self._temp_file() as (temp, out):
            out.write(data)
            _sync(out)
            self._commit(temp, digest)
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        source = Path(path)
        hasher = hashlib.new(DIGEST_ALGORITHM)
        try:
            src = source.open("rb")
        except FileNotFoundError:
            raise NotFoundError(
                f"cannot store {source}: no such file; check the path",
                details={"path": str(source)},
            ) from None
        with src, self._temp_file() as (temp, out):
            # Hash while copying so the file is read once, never held in memory whole.
            while chunk := src.read(CHUNK_SIZE):
                hasher.update(chunk)
                out.write(chunk)
            _sync(out)
            digest = f"{DIGEST_ALGORITHM}:{hasher.hexdigest()}"
            self._commit(temp, digest)
        return digest

    def adopt_file(self, path: str | os.PathLike[str]) -> str:
        """Hash the file, then rename it onto the blob's path (one read, no copy); a file on
        another disk than the store is copied as :meth:`put_file` does, then removed."""
        source = Path(path)
        hasher = hashlib.new(DIGEST_ALGORITHM)
        try:
            src = source.open("rb")
        except FileNotFoundError:
            raise NotFoundError(
                f"cannot store {source}: no such file; check the path", details={"path": str(source)}
            ) from None
        with src:
            while chunk := src.read(CHUNK_SIZE):
                hasher.update(chunk)
        digest = f"{DIGEST_ALGORITHM}:{hasher.hexdigest()}"
        final = self.path(digest)
        if final.is_file():
            source.unlink()
            return digest
        with self._writing():
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                _fsync_path(source)
                get_settings().fault("blob.before_rename")
                os.replace(source, final)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                self.put_file(source)  # another disk: copy, hashing again as it goes
                source.unlink()
                return digest
            _sync_dir(final.parent)
        return digest

    def open(self, digest: str) -> BinaryIO:
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError:
            raise self._not_found(digest) from None

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise self._not_found(digest) from None

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise self._not_found(digest) from None

    def cleanup_temp(self, older_than_seconds: float = 3600) -> int:
        """Remove ``.part`` files last written more than ``older_than_seconds`` ago.

        They are what a writer killed mid-put leaves behind. Returns how many were removed.
        Run it at start-up; a small age would also remove the parts of puts in progress.
        """
        if older_than_seconds < 0:
            raise InvalidError(
                f"older_than_seconds must be 0 or more, not {older_than_seconds}",
                details={"older_than_seconds": older_than_seconds},
            )
        cutoff = time.time() - older_than_seconds
        removed = 0
        for part in self._temp_dir.glob(f"*{TEMP_SUFFIX}"):
            try:
                if part.stat().st_mtime <= cutoff:
                    part.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # its writer renamed it, or another cleaner got there first
        return removed

    @contextmanager
    def _temp_file(self) -> Iterator[tuple[Path, BinaryIO]]:
        """A fresh ``.part`` file open for writing; removed again unless committed."""
        temp = self._temp_dir / f"{uuid.uuid4().hex}{TEMP_SUFFIX}"
        with self._writing():
            self._temp_dir.mkdir(parents=True, exist_ok=True)
            try:
                with temp.open("xb") as out:
                    yield temp, out
            finally:
                # After a commit the part is gone; after any error it must not linger.
                temp.unlink(missing_ok=True)

    def _commit(self, temp: Path, digest: str) -> None:
        """Rename a fully written, fsynced part onto the blob's final path."""
        final = self.path(digest)
        if final.is_file():
            return  # same bytes already stored: content addressing makes this a no-op
        final.parent.mkdir(parents=True, exist_ok=True)
        get_settings().fault("blob.before_rename")
        os.replace(temp, final)
        _sync_dir(final.parent)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            # EACCES, ENOSPC, EROFS, EIO ...: whatever the cause, this store takes no writes.
            raise UnavailableError(
                f"cannot write to the blob store {self.url}: {exc}; check that RIPPLE_BLOB_URL "
                "points at a folder this process may write to, on a disk with free space",
                details={"url": self.url},
            ) from exc


def _sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def _fsync_path(path: Path) -> None:
    """Make a file written by someone else (a Parquet writer) durable before it is renamed."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(folder: Path) -> None:
    """Make a rename durable: fsync the folder that holds the new name."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
