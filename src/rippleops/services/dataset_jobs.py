"""The ``dataset.import`` job kind, and the staging of files uploaded to a server.

Parameters: ``name`` and one of ``path`` (a file or folder the job reads: any path of the
user's in embedded mode, only under ``RIPPLE_IMPORT_ROOTS`` on a server) or ``upload`` (the
id of a file a client sent to the server, staged under ``$RIPPLE_HOME/uploads``; a folder of
documents arrives as a tar archive). Optional: ``format``, ``key``, ``license``, ``source``
(what provenance records; default the path's ``file://`` URI), ``message``, ``encoding``,
``delimiter``, ``tags``, ``label_column``, ``pii`` (false: no scan for personal data, which
is the slow part of the quality report). The result: ``ref``, ``created``, ``rows``,
``columns``, ``bytes`` and ``note``.
"""

from __future__ import annotations

import re
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

from rippleops.domain.datasets import ImportSource, check_encoding, detect_format, file_uri
from rippleops.domain.refs import validate_name
from rippleops.errors import InvalidError
from rippleops.runtime.executor import JobContext, JobFunction
from rippleops.services.job_env import JobEnv, JobKind
from rippleops.settings import Settings

UPLOADS = "uploads"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_STRINGS = ("format", "key", "license", "source", "message", "encoding", "delimiter", "label_column")
PARAMS = ("name", "path", "upload", *_STRINGS, "tags", "pii")


def uploads_dir(settings: Settings) -> Path:
    return settings.home_path / UPLOADS


def new_upload(settings: Settings) -> tuple[str, Path]:
    """A fresh upload id and the file the server streams the body into."""
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    upload_id = uuid.uuid4().hex
    return upload_id, folder / upload_id


def _allowed(path: Path, env: JobEnv) -> bool:
    """A server reads only under RIPPLE_IMPORT_ROOTS; an embedded user reads their own files."""
    return env.local or any(path.is_relative_to(root) for root in env.settings.import_root_paths)


def _check(params: dict[str, Any], env: JobEnv) -> dict[str, Any]:
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise InvalidError(f"dataset.import does not take {', '.join(unknown)}; parameters: {', '.join(PARAMS)}")
    name = params.get("name")
    if not isinstance(name, str):
        raise InvalidError('dataset.import needs `name`, the dataset to create: {"name": "faq", "path": "faq.csv"}')
    validate_name(name, "dataset name")
    out: dict[str, Any] = {"name": name}
    for field in _STRINGS:
        value = params.get(field)
        if value is not None:
            if not isinstance(value, str) or (field != "delimiter" and not value.strip()):
                raise InvalidError(f"dataset.import `{field}` must be a non-empty string")
            out[field] = value
    tags = params.get("tags") or []
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise InvalidError("dataset.import `tags` must be a list of strings")
    if tags:
        out["tags"] = list(tags)
    pii = params.get("pii", True)
    if not isinstance(pii, bool):
        raise InvalidError("dataset.import `pii` must be true or false (scan texts for personal data)")
    if not pii:
        out["pii"] = False
    if "encoding" in out:
        out["encoding"] = check_encoding(out["encoding"])
    if "delimiter" in out and len(out["delimiter"]) != 1:
        raise InvalidError(f"--delimiter must be one character, got {out['delimiter']!r}")
    path, upload = params.get("path"), params.get("upload")
    if (path is None) == (upload is None):
        raise InvalidError("dataset.import takes exactly one of `path` (a file or folder) and `upload` (an upload id)")
    if upload is not None:
        if not isinstance(upload, str) or not _UPLOAD_ID.match(upload):
            raise InvalidError("dataset.import `upload` must be the id the upload route returned")
        if not (uploads_dir(env.settings) / upload).is_file():
            raise InvalidError(
                f"the uploaded file {upload} is gone (an upload is removed once imported); upload the file again"
            )
        if "format" not in out:
            raise InvalidError("dataset.import of an upload needs `format` (csv, jsonl, parquet or docs)")
        out["format"] = detect_format(upload, out["format"], is_dir=out["format"] == "docs")
        out["upload"] = upload
        return out
    if not isinstance(path, str) or not path.strip():
        raise InvalidError("dataset.import `path` must be a file or folder path")
    target = Path(path).expanduser().resolve()
    if not _allowed(target, env):
        roots = ", ".join(map(str, env.settings.import_root_paths)) or "none set"
        raise InvalidError(
            f"this server imports only from folders under RIPPLE_IMPORT_ROOTS ({roots}); {target} is not under one "
            "(or send the file: `ripple dataset add` with --server uploads it)"
        )
    if not target.exists():
        raise InvalidError(f"{target} does not exist; give the path of a CSV, JSONL or Parquet file or a folder")
    out["format"] = detect_format(target, out.get("format"), is_dir=target.is_dir())
    out["path"] = str(target)
    out.setdefault("source", file_uri(target))
    return out


def _build(env: JobEnv) -> JobFunction:
    def import_dataset(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        """Read the file (or folder), register the version, and say what happened."""
        staged = uploads_dir(env.settings) / params["upload"] if "upload" in params else None
        extracted: Path | None = None
        try:
            if staged is not None:
                if not staged.is_file():
                    raise InvalidError(f"the uploaded file {params['upload']} is gone; upload the file again")
                path = staged
                if params["format"] == "docs":
                    extracted = path = _extract(staged, ctx)
                label = Path(str(params.get("source") or "upload")).name or "upload"
            else:
                path = Path(params["path"])
                if not path.exists():
                    raise InvalidError(f"{path} does not exist (any more)")
                label = path.name
            source = ImportSource(
                path=path,
                format=params["format"],
                uri=params.get("source") or file_uri(path),
                encoding=check_encoding(params.get("encoding")),
                delimiter=params.get("delimiter") or _default_delimiter(label),
                name=label,
            )
            record = env.services.datasets.import_file(
                env.principal, env.project, params["name"], source,
                key=params.get("key"), license=params.get("license"), message=params.get("message") or "",
                tags=params.get("tags") or (), label_column=params.get("label_column"), pii=params.get("pii", True), reporter=ctx,
            )  # fmt: skip
        finally:
            if extracted is not None:
                shutil.rmtree(extracted, ignore_errors=True)
            if staged is not None:
                staged.unlink(missing_ok=True)
        created = record.created is not False
        ctx.log(f"{'created' if created else 'unchanged'} {record.ref} ({record.content['rows']:,} rows)")
        return {
            "ref": record.ref,
            "created": created,
            "rows": record.content["rows"],
            "columns": len(record.content["schema"]),
            "bytes": record.content["bytes"],
            "note": record.note,
        }

    return import_dataset


def _default_delimiter(name: str) -> str | None:
    return "\t" if name.lower().endswith(".tsv") else None


def _extract(archive: Path, ctx: JobContext) -> Path:
    """Unpack an uploaded folder (a tar archive) next to it, refusing links and paths that
    would land outside (tarfile's ``data`` filter)."""
    folder = archive.with_name(archive.name + ".d")
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            ctx.progress(0, len(members), f"unpacking {len(members)} files")
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise InvalidError(f"the uploaded folder is not a readable tar archive ({exc}); upload it again") from exc
    return folder


DATASET_IMPORT = JobKind(
    name="dataset.import",
    summary="import a CSV, JSON Lines or Parquet file, or a folder of documents, as a dataset version",
    check=_check,
    build=_build,
)
