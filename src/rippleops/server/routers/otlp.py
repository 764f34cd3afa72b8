"""OTLP/HTTP trace ingestion: ``POST /v1/traces``, where any OpenTelemetry SDK or collector
sends spans (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://HOST:8750/v1/traces``).

The body is an ``ExportTraceServiceRequest`` in ``application/x-protobuf`` or
``application/json`` (OTLP/JSON: hex ids, camelCase, 64-bit integers as strings), plain or
``Content-Encoding: gzip``; the answer is an ``ExportTraceServiceResponse`` in the same
encoding, with ``partialSuccess`` counting spans refused for bad ids. The project comes from
the ``X-Ripple-Project`` header, else each resource's ``ripple.project`` attribute, else
``default``. Errors: 400 (not an export), 413 (over ``RIPPLE_MAX_TRACE_PAYLOAD_BYTES``,
compressed or not), 415 (another content type or encoding), 429 + ``Retry-After`` (the
ingest queue is full: OTLP exporters wait and retry), in the API's JSON error shape.
"""

from __future__ import annotations

import zlib
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from rippleops.domain.access import Principal
from rippleops.domain.otlp import JSON_TYPE, PROTOBUF_TYPE, ExportResult
from rippleops.domain.refs import validate_name
from rippleops.errors import MalformedPayloadError, PayloadTooLargeError, UnsupportedMediaError
from rippleops.server.auth import CallerDep, ServicesDep
from rippleops.server.schemas import ERROR_RESPONSES

PATH = "/v1/traces"
router = APIRouter(tags=["otlp"], responses=ERROR_RESPONSES)

_BODY = {
    "requestBody": {
        "required": True,
        "description": "an OTLP ExportTraceServiceRequest (protobuf or OTLP/JSON), optionally gzip-compressed",
        "content": {PROTOBUF_TYPE: {"schema": {"type": "string", "format": "binary"}}, JSON_TYPE: {"schema": {}}},
    }
}
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "an ExportTraceServiceResponse in the request's encoding",
        "content": {PROTOBUF_TYPE: {}, JSON_TYPE: {}},
    },
    429: {"description": "the ingest queue is full; retry after `Retry-After` seconds"},
}


@router.post(PATH, openapi_extra=_BODY, responses=_RESPONSES, response_class=Response)
async def export_traces(
    request: Request,
    caller: CallerDep,
    services: ServicesDep,
    project: Annotated[
        str | None,
        Header(
            alias="X-Ripple-Project", description="the project (default: the resource's ripple.project, else default)"
        ),
    ] = None,
) -> Response:
    """Ingest OTLP spans; they are queryable once the writer has committed them (milliseconds)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (PROTOBUF_TYPE, JSON_TYPE):
        raise UnsupportedMediaError(
            f"POST {PATH} takes {PROTOBUF_TYPE} or {JSON_TYPE} (OTLP/HTTP), not {content_type or 'no content type'}"
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise UnsupportedMediaError(f"Content-Encoding {encoding!r} is not taken; send gzip or no encoding")
    if project is not None:
        validate_name(project, "X-Ripple-Project")
    body = await request.body()
    limit: int = services.settings.max_trace_payload_bytes

    def accept(principal: Principal) -> ExportResult:
        data = gunzip(body, limit) if encoding == "gzip" else body
        return services.trace_ingest.export(principal, content_type, data, project)

    result = await caller.run(accept)
    if content_type == JSON_TYPE:
        return JSONResponse(result.response_json())
    return Response(result.response_protobuf(), media_type=PROTOBUF_TYPE)


def gunzip(body: bytes, limit: int) -> bytes:
    """``body`` decompressed, refused once it would pass ``limit`` bytes (a gzip bomb costs
    no more memory than the limit)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise MalformedPayloadError(f"the body is not valid gzip ({exc}); send it plain or gzip-compressed") from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadTooLargeError(
            f"the decompressed body is over {limit} bytes (RIPPLE_MAX_TRACE_PAYLOAD_BYTES); send smaller batches",
            details={"limit": limit},
        )
    if not inflater.eof:
        raise MalformedPayloadError("the gzip body is truncated; send the whole compressed body")
    return data
