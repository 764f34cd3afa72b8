"""Datasets: upload a file to import (202: a ``dataset.import`` job), fetch a version, its
first rows, a diff, the quality and bias reports, and a streamed export.

``{ref}`` is ``faq``, ``faq@production`` or ``faq:2`` (the kind is implied). The upload's
body is the file itself (``application/octet-stream``; a folder of documents as a tar
archive), streamed to disk up to ``RIPPLE_MAX_UPLOAD_BYTES``, never held in memory.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from rippleops.domain.datasets import FORMATS, detect_format
from rippleops.domain.records import JobRecord, Page, VersionRecord
from rippleops.domain.refs import validate_name
from rippleops.errors import InvalidError, PayloadTooLargeError
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES
from rippleops.services.dataset_jobs import new_upload

router = APIRouter(prefix=PROJECT + "/datasets", tags=["datasets"], responses=ERROR_RESPONSES)

#: Uploads stream past the request size limit (they have their own, checked as they arrive).
UPLOAD_PATH = re.compile(r"^/api/v1/projects/[^/]+/datasets/[^/]+/upload$")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "the file's bytes (a folder of documents: a tar archive of it)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get("", response_model=Page)
async def list_datasets(
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    limit: int = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Page:
    """Dataset assets ordered by name, one page at a time."""
    return await caller.run(services.datasets.list, project, limit=limit, cursor=cursor)


@router.post("/{name}/upload", response_model=JobRecord, status_code=202, openapi_extra=_UPLOAD_BODY)
async def upload_dataset(
    name: str,
    request: Request,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    format: Annotated[str, Query(description=f"one of {', '.join(FORMATS)} (docs: a tar archive of the folder)")],
    key: str | None = None,
    license: str | None = None,
    source: Annotated[str | None, Query(description="what provenance records as the source (a URI)")] = None,
    message: str | None = None,
    encoding: Annotated[str | None, Query(description="text encoding (default utf-8)")] = None,
    delimiter: str | None = None,
    label_column: str | None = None,
    tags: Annotated[list[str] | None, Query()] = None,
    pii: Annotated[
        bool, Query(description="scan texts for personal data (the slow part of the quality report)")
    ] = True,
) -> JobRecord:
    """Receive a file and queue its import (follow the job it returns); identical data,
    schema and provenance end as the existing version."""
    validate_name(name, "dataset name")
    detect_format(name, format, is_dir=format == "docs")
    await caller.run(services.datasets.authorize_write, project)  # before a byte of a large body is read
    limit = services.settings.max_upload_bytes
    upload_id, path = new_upload(services.settings)
    size = 0
    try:
        with path.open("xb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLargeError(
                        f"the upload is over {limit} bytes, the server's limit (RIPPLE_MAX_UPLOAD_BYTES); "
                        "put the file under RIPPLE_IMPORT_ROOTS on the server and import it by path instead",
                        details={"limit": limit},
                    )
                out.write(chunk)
        if size == 0:
            raise InvalidError("the upload is empty: send the file's bytes as the request body")
        params: dict[str, Any] = {
            "name": name, "upload": upload_id, "format": format, "key": key, "license": license, "source": source,
            "message": message, "encoding": encoding, "delimiter": delimiter, "label_column": label_column,
            "tags": tags or None, "pii": None if pii else False,
        }  # fmt: skip
        clean = {k: v for k, v in params.items() if v is not None}
        return await caller.run(services.jobs.submit, project, "dataset.import", clean)
    except BaseException:
        path.unlink(missing_ok=True)  # the job did not take it: nothing may stay behind
        raise


@router.get("/{ref}", response_model=VersionRecord)
async def get_dataset(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> VersionRecord:
    """One version: schema, rows, provenance, quality summary."""
    return await caller.run(services.datasets.get, project, ref)


@router.get("/{name}/versions", response_model=list[VersionRecord])
async def dataset_versions(
    name: str, project: ProjectDep, caller: CallerDep, services: ServicesDep
) -> list[VersionRecord]:
    return await caller.run(services.datasets.versions, project, name)


@router.get("/{ref}/head", response_model=dict[str, Any])
async def dataset_head(
    ref: str,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    n: Annotated[int, Query(ge=0, le=10_000)] = 10,
) -> dict[str, Any]:
    """The first ``n`` records (``records``), with ``ref``, ``rows`` and ``schema``."""
    return await caller.run(services.datasets.head, project, ref, n)


@router.get("/{a}/diff/{b}", response_model=dict[str, Any])
async def diff_datasets(
    a: str,
    b: str,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    key: Annotated[str | None, Query(description="the column that matches rows (default: the versions' key)")] = None,
    limit: Annotated[int, Query(ge=0, le=1000, description="examples of each kind of change")] = 5,
) -> dict[str, Any]:
    """Rows added, removed and changed (with the changed columns) from ``a`` to ``b``."""
    return await caller.run(services.datasets.diff, project, a, b, key=key, limit=limit)


@router.get("/{ref}/quality", response_model=dict[str, Any])
async def dataset_quality(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    """The quality report stored with the version."""
    return await caller.run(services.datasets.quality, project, ref)


@router.get("/{ref}/bias", response_model=dict[str, Any])
async def dataset_bias(
    ref: str,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    group: Annotated[str, Query(description="the column whose values form the groups")],
    outcome: Annotated[str, Query(description="the column holding the outcome")],
    positive: Annotated[str | None, Query(description="the outcome value that counts as positive")] = None,
) -> dict[str, Any]:
    """Per-group counts and positive-outcome rates, disparity ratios and the four-fifths flag."""
    return await caller.run(services.datasets.bias, project, ref, group=group, outcome=outcome, positive=positive)


@router.get(
    "/{ref}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}, "description": "the records, streamed"}},
)
async def export_dataset(
    ref: str,
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    format: Annotated[str, Query(description="csv, jsonl or parquet")] = "parquet",
) -> StreamingResponse:
    """The version's records as a download; ``X-Ripple-Ref`` names the exact version."""
    if format not in MEDIA_TYPES:
        raise InvalidError(f"unknown export format {format!r}; formats: {', '.join(MEDIA_TYPES)}")
    record, chunks = await caller.run(services.datasets.export_stream, project, ref, format)
    headers = {
        "Content-Disposition": f'attachment; filename="{record.name}-{record.version}.{format}"',
        "X-Ripple-Ref": record.ref,
    }
    if format == "parquet":
        headers["Content-Length"] = str(record.content["bytes"])
    return StreamingResponse(chunks, media_type=MEDIA_TYPES[format], headers=headers)
