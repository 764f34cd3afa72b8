"""The dataset operations of both SDK transports, mixed into
:class:`~rippleops.sdk.embedded.EmbeddedTransport` and :class:`~rippleops.sdk.remote.RemoteTransport`.

Embedded: the services in-process (an import is a ``dataset.import`` job run inline).
Remote: a file is sent as the raw body of ``POST …/datasets/{name}/upload`` (a folder of
documents as a tar archive made on the fly), streamed from disk, never read into memory;
exports come back as a streamed download into a temp file renamed at the end, and batches
are read from such a download of the Parquet blob.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote

import httpx

from rippleops.domain.datasets import detect_format
from rippleops.domain.records import JobRecord, JobWatcher
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError, NotFoundError, UnavailableError, error_from_dict
from rippleops.services.dataset_files import write_chunks_atomically

if TYPE_CHECKING:
    from rippleops.sdk.embedded import EmbeddedTransport
    from rippleops.sdk.remote import RemoteTransport

KIND = "dataset"
UPLOAD_CHUNK = 1024 * 1024
TRANSFER_TIMEOUT = 600.0  # seconds to wait for the server's answer after a large upload


class EmbeddedDatasets:
    """Dataset calls on the services (mixed into the embedded transport)."""

    def _e(self) -> EmbeddedTransport:
        return cast("EmbeddedTransport", self)

    def import_dataset(
        self, project: str, path: str, params: dict[str, Any], *, watch: JobWatcher | None = None
    ) -> JobRecord:
        t = self._e()
        return t.services.jobs.submit(t.principal, project, "dataset.import", {**params, "path": path}, watch=watch)

    def dataset_head(self, project: str, ref: str, n: int) -> dict[str, Any]:
        t = self._e()
        return t.services.datasets.head(t.principal, project, ref, n)

    def diff_datasets(self, project: str, a: str, b: str, *, key: str | None, limit: int) -> dict[str, Any]:
        t = self._e()
        return t.services.datasets.diff(t.principal, project, a, b, key=key, limit=limit)

    def export_dataset(self, project: str, ref: str, out: str, fmt: str) -> dict[str, Any]:
        t = self._e()
        return t.services.datasets.export(t.principal, project, ref, Path(out), fmt)

    def dataset_quality(self, project: str, ref: str) -> dict[str, Any]:
        t = self._e()
        return t.services.datasets.quality(t.principal, project, ref)

    def dataset_bias(self, project: str, ref: str, *, group: str, outcome: str, positive: Any) -> dict[str, Any]:
        t = self._e()
        return t.services.datasets.bias(t.principal, project, ref, group=group, outcome=outcome, positive=positive)

    def dataset_batches(self, project: str, ref: str, *, columns: list[str] | None, batch_size: int) -> Iterator[Any]:
        t = self._e()
        return t.services.datasets.iter_batches(t.principal, project, ref, columns=columns, batch_size=batch_size)


def _segment(ref: str) -> str:
    """``faq``, ``faq:2`` or ``faq@production``: a dataset reference as one path segment."""
    r = parse_ref(ref, KIND)
    text = r.name + (f":{r.version}" if r.version is not None else f"@{r.label}" if r.label else "")
    return quote(text, safe="@:")


def _raise_for(response: httpx.Response) -> None:
    """The server's error (read from its JSON body) for a raw request that failed."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        raise error_from_dict(body["error"], response.status_code)
    message = f"the server at {response.url} answered HTTP {response.status_code}"
    raise error_from_dict({"message": message}, response.status_code)


class RemoteDatasets:
    """Dataset calls over HTTP (mixed into the remote transport)."""

    def _r(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def _d(self, project: str) -> str:
        return f"{self._r()._p(project)}/datasets"

    def import_dataset(
        self, project: str, path: str, params: dict[str, Any], *, watch: JobWatcher | None = None
    ) -> JobRecord:
        """Upload the file (a folder: as a tar archive) and return the server's import job."""
        local = Path(path).expanduser()
        if not local.exists():
            raise InvalidError(f"{local} does not exist; give the path of a CSV, JSONL or Parquet file or a folder")
        query = {k: v for k, v in params.items() if v is not None and k not in ("name", "tags")}
        query["format"] = detect_format(local, params.get("format"), is_dir=local.is_dir())
        query_items: list[tuple[str, str | int | float | bool | None]] = [
            (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query.items()
        ]
        query_items += [("tags", t) for t in params.get("tags") or []]
        url = f"{self._d(project)}/{_q(str(params['name']))}/upload"
        if local.is_dir():
            with tempfile.TemporaryDirectory(prefix="ripple-upload-") as tmp:
                archive = Path(tmp) / "documents.tar"
                _tar_folder(local, archive)
                return self._upload(url, archive, query_items)
        return self._upload(url, local, query_items)

    def _upload(self, path: str, file: Path, query: list[tuple[str, str | int | float | bool | None]]) -> JobRecord:
        t = self._r()
        size = file.stat().st_size
        headers = {**t._headers, "Content-Type": "application/octet-stream", "Content-Length": str(size)}
        timeout = {**t._extensions["timeout"], "read": TRANSFER_TIMEOUT}
        with file.open("rb") as stream:
            request = httpx.Request(
                "POST", t._url(path), params=query, content=_chunks(stream), headers=headers,
                extensions={"timeout": timeout},
            )  # fmt: skip
            response = self._send_raw(request, stream=False)
        return JobRecord.model_validate_json(response.content)

    def _send_raw(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        t = self._r()
        try:
            response = t._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"cannot reach the Ripple server at {t.url} ({type(exc).__name__}: {exc or 'no answer'}); "
                "start it with `ripple server start` or check RIPPLE_SERVER_URL"
            ) from exc
        if response.status_code >= 400:
            if stream:
                response.read()
                response.close()
            _raise_for(response)
        return response

    def _json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._r()._send("GET", path, params=params).json()
        return result

    def dataset_head(self, project: str, ref: str, n: int) -> dict[str, Any]:
        return self._json(f"{self._d(project)}/{_segment(ref)}/head", {"n": n})

    def diff_datasets(self, project: str, a: str, b: str, *, key: str | None, limit: int) -> dict[str, Any]:
        return self._json(f"{self._d(project)}/{_segment(a)}/diff/{_segment(b)}", {"key": key, "limit": limit})

    def dataset_quality(self, project: str, ref: str) -> dict[str, Any]:
        return self._json(f"{self._d(project)}/{_segment(ref)}/quality")

    def dataset_bias(self, project: str, ref: str, *, group: str, outcome: str, positive: Any) -> dict[str, Any]:
        params = {"group": group, "outcome": outcome, "positive": None if positive is None else str(positive)}
        return self._json(f"{self._d(project)}/{_segment(ref)}/bias", params)

    def _download(self, project: str, ref: str, fmt: str, out: Path) -> tuple[str, int]:
        """Stream ``GET …/export`` into ``out`` (temp file + rename); the exact ref and size."""
        t = self._r()
        path = f"{self._d(project)}/{_segment(ref)}/export"
        timeout = {**t._extensions["timeout"], "read": TRANSFER_TIMEOUT}
        request = httpx.Request(
            "GET", t._url(path), params={"format": fmt}, headers=t._headers, extensions={"timeout": timeout}
        )
        response = self._send_raw(request, stream=True)
        try:
            exact = response.headers.get("X-Ripple-Ref", ref)
            try:
                size = write_chunks_atomically(response.iter_bytes(UPLOAD_CHUNK), out)
            except httpx.TransportError as exc:
                raise UnavailableError(f"the download of {ref} from {t.url} broke off ({exc}); try again") from exc
        finally:
            response.close()
        return exact, size

    def export_dataset(self, project: str, ref: str, out: str, fmt: str) -> dict[str, Any]:
        exact, size = self._download(project, ref, fmt, Path(out))
        return {"ref": exact, "path": str(out), "format": fmt, "bytes": size}

    def dataset_batches(self, project: str, ref: str, *, columns: list[str] | None, batch_size: int) -> Iterator[Any]:
        import pyarrow.parquet as pq  # the `data` extra, only where batches are read (and not at import: ~0.5 s)

        folder = tempfile.mkdtemp(prefix="ripple-dataset-")
        local = Path(folder) / "data.parquet"
        try:
            self._download(project, ref, "parquet", local)
            pf = pq.ParquetFile(str(local))
        except BaseException:
            _remove(Path(folder))
            raise
        missing = [c for c in columns or [] if c not in pf.schema_arrow.names]
        if missing:
            pf.close()
            _remove(Path(folder))
            raise NotFoundError(
                f"no column {', '.join(map(repr, missing))}; columns: {', '.join(pf.schema_arrow.names)}"
            )

        def batches() -> Iterator[Any]:
            try:
                yield from pf.iter_batches(batch_size=batch_size, columns=columns)
            finally:
                pf.close()
                _remove(Path(folder))

        return batches()


def _q(part: str) -> str:
    return quote(part, safe="")


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(UPLOAD_CHUNK):
        yield chunk


def _tar_folder(folder: Path, archive: Path) -> None:
    """The folder's visible files in a tar archive (hidden files and folders are left out,
    as the import would leave them out)."""

    def visible(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        return None if any(p.startswith(".") and p != "." for p in parts) else info

    with tarfile.open(archive, "w") as tar:
        for child in sorted(folder.iterdir()):
            tar.add(child, arcname=child.name, filter=visible)


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    os.rmdir(folder)
