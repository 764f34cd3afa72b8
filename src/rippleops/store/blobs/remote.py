"""Blobs behind any fsspec URL: ``s3://bucket/prefix``, ``gs://...``, ``memory://...``.

Each blob is written to its final key with one ``pipe_file``/``put_file``: object stores
make an object visible only once its upload completes, so no temp name and rename are
needed (and S3 has no rename). The filesystem is built with ``skip_instance_cache=True``
and its listing cache is dropped before every lookup, so :meth:`exists` asks the backend
rather than a stale cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import fsspec  # type: ignore[import-untyped]
from fsspec.core import split_protocol  # type: ignore[import-untyped]

from rippleops.errors import InvalidError, NotFoundError, UnavailableError

from .base import BlobStore, blob_digest, digest_key, stream_digest

try:  # s3fs's errors that are not OSErrors; botocore comes with the `s3` extra
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    _BACKEND_ERRORS: tuple[type[Exception], ...] = (OSError, BotoCoreError, ClientError)
except ImportError:  # pragma: no cover - without botocore no S3 URL can be opened
    _BACKEND_ERRORS = (OSError,)


class FsspecBlobStore(BlobStore):
    """Blobs under an fsspec URL; ``storage_options`` go to ``fsspec.filesystem``.

    >>> store = FsspecBlobStore("memory://doctest-remote")
    >>> store.get(store.put(b"hello"))
    b'hello'
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        protocol, _ = split_protocol(url)
        if not protocol:
            raise InvalidError(
                f"blob store URL {url!r} has no protocol; use a local path, or a URL such as s3://bucket/prefix",
                details={"url": url},
            )
        options = {"skip_instance_cache": True, **(storage_options or {})}
        try:
            self.fs = fsspec.filesystem(protocol, **options)
        except ImportError as exc:
            raise InvalidError(
                f"blob store URL {url} needs a package that is not installed ({exc}); "
                "for s3:// install 'rippleops[s3]'",
                details={"url": url},
            ) from exc
        except ValueError as exc:
            raise InvalidError(
                f"blob store URL {url} cannot be opened: {exc}; use a local path, file://, "
                "s3://bucket/prefix or another fsspec protocol",
                details={"url": url},
            ) from exc
        self.url = url
        self.root: str = self.fs._strip_protocol(url).rstrip("/")
        if not self.root.strip("/"):
            raise InvalidError(
                f"blob store URL {url} names no bucket or folder; use e.g. s3://bucket/blobs",
                details={"url": url},
            )

    def key(self, digest: str) -> str:
        """The object key a blob is (or would be) stored under."""
        return f"{self.root}/{digest_key(digest)}"

    def put(self, data: bytes) -> str:
        digest = blob_digest(data)
        if not self.exists(digest):
            self._upload(digest, lambda key: self.fs.pipe_file(key, data))
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        source = Path(path)
        before = _file_state(source)
        # Hash first: the key is the digest, and the upload must go straight to it.
        with source.open("rb") as stream:
            digest = stream_digest(stream)
        if self.exists(digest):
            return digest
        self._upload(digest, lambda key: self.fs.put_file(str(source), key))
        if _file_state(source) != before:
            with self._reaching("write to"):
                self.fs.rm_file(self.key(digest))
            raise InvalidError(
                f"{source} changed while it was being stored, so its bytes no longer match "
                f"{digest}; store it again once nothing is writing to it",
                details={"path": str(source)},
            )
        return digest

    def open(self, digest: str) -> BinaryIO:
        key = self.key(digest)
        with self._reaching("read from"):
            self.fs.invalidate_cache(key)
            try:
                return cast(BinaryIO, self.fs.open(key, "rb"))
            except FileNotFoundError:
                raise self._not_found(digest) from None

    def get(self, digest: str) -> bytes:
        key = self.key(digest)
        with self._reaching("read from"):
            try:
                return bytes(self.fs.cat_file(key))
            except FileNotFoundError:
                raise self._not_found(digest) from None

    def exists(self, digest: str) -> bool:
        return self._info(digest) is not None

    def size(self, digest: str) -> int:
        info = self._info(digest)
        if info is None:
            raise self._not_found(digest)
        return int(info["size"])

    def verify(self, digest: str) -> bool:
        with self._reaching("read from"):
            return super().verify(digest)

    def _info(self, digest: str) -> dict[str, Any] | None:
        key = self.key(digest)
        with self._reaching("read from"):
            self.fs.invalidate_cache(key)
            try:
                return cast(dict[str, Any], self.fs.info(key))
            except FileNotFoundError:
                return None

    def _upload(self, digest: str, upload: Callable[[str], object]) -> None:
        key = self.key(digest)
        with self._reaching("write to"):
            try:
                upload(key)
            except FileNotFoundError:
                # Usually the bucket does not exist yet: create it once, then retry.
                self._create_root()
                upload(key)

    def _create_root(self) -> None:
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            return
        except _BACKEND_ERRORS as exc:
            error: Exception = exc
        if "location-constraint" in str(error) and hasattr(self.fs, "call_s3"):
            # s3fs sends LocationConstraint=<region_name> whenever a region is set, which AWS
            # and compatible servers refuse for us-east-1: there a bucket is made without one.
            bucket = self.root.split("/", 1)[0]
            try:
                self.fs.call_s3("create_bucket", Bucket=bucket)
                return
            except _BACKEND_ERRORS as exc:
                error = exc
        raise UnavailableError(
            f"the blob store {self.url} does not exist and could not be created ({error}); "
            "create the bucket, or use credentials allowed to create it, and check "
            "RIPPLE_BLOB_URL",
            details={"url": self.url},
        ) from error

    @contextmanager
    def _reaching(self, action: str) -> Iterator[None]:
        """Turn the backend's connection, permission and protocol errors into UnavailableError."""
        try:
            yield
        except _BACKEND_ERRORS as exc:
            raise UnavailableError(
                f"cannot {action} the blob store {self.url}: {exc}; check that RIPPLE_BLOB_URL "
                "names a reachable store and that its credentials are valid",
                details={"url": self.url},
            ) from exc


def _file_state(path: Path) -> tuple[int, int]:
    """Size and modification time, to notice a file changing while it is stored."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise NotFoundError(f"cannot store {path}: no such file; check the path", details={"path": str(path)}) from None
    return stat.st_size, stat.st_mtime_ns
