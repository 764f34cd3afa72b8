"""OpenAI-compatible routes: ``POST /v1/chat/completions`` (JSON, or SSE ``chat.completion.chunk``s
with ``stream: true``), ``GET /v1/models`` and ``GET /v1/models/{id}``, where the model names an app.

Mounted on both servers: the platform server serves every app of the project (the
:class:`ProjectApps` catalog), ``ripple serve`` only the app versions it pinned at start
(:class:`~rippleops.server.serving.PinnedApps`). The official ``openai`` client works against
them: its ``api_key`` is a Ripple token (``Authorization: Bearer``), the same rules as the REST
API (a loopback server without auth acts as the local admin); ``X-Ripple-Project`` picks the
project, else the server's. Every error is in OpenAI's shape
(``{"error": {"message", "type", "param", "code"}}``) with OpenAI's statuses (invalid input is
a 400), so the client raises its own exceptions. A client that disconnects mid-stream closes
the app stream: the model stops and the trace says cancelled.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from rippleops.domain import openai_compat as oa
from rippleops.domain.access import Principal
from rippleops.domain.refs import Ref, validate_name
from rippleops.errors import NotFoundError, RippleError, UnauthenticatedError
from rippleops.server import sse
from rippleops.services import Services
from rippleops.services.access import TOKEN_PREFIX

log = logging.getLogger("rippleops.server")
router = APIRouter(tags=["openai"])
TRACE_HEADER = "X-Ripple-Trace-Id"
PROJECT_HEADER = "x-ripple-project"


class AppStream(Protocol):
    """What the routes use of ``services.apps.stream``'s result."""

    def __iter__(self) -> Iterator[str]: ...
    def __next__(self) -> str: ...
    def close(self) -> None: ...
    @property
    def record(self) -> Any: ...


class Catalog(Protocol):
    """The apps a server answers for: which exact version a ``model`` names, and the list."""

    project: str  # the server's project (used without an X-Ripple-Project header)

    def resolve(self, services: Services, principal: Principal, project: str, ref: Ref) -> str: ...
    def models(self, services: Services, principal: Principal, project: str) -> list[dict[str, Any]]: ...


class ProjectApps:
    """The platform server's catalog: every app of the project, by name, label or version."""

    def __init__(self, project: str) -> None:
        self.project = project

    def resolve(self, services: Services, principal: Principal, project: str, ref: Ref) -> str:
        try:
            record = services.assets.get(principal, project, ref, oa.APP)
        except NotFoundError as exc:
            raise NotFoundError(
                f"the model {ref.text.removeprefix('app/')!r} does not exist: {exc.message}",
                details={"param": "model", "code": "model_not_found"},
            ) from exc
        return record.ref

    def models(self, services: Services, principal: Principal, project: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = services.assets.list(principal, project, kind=oa.APP, limit=500, cursor=cursor)
            for asset in page.items:
                created = int(asset.created_at.timestamp())
                out.append(oa.model_entry(asset.name, created))
                out.extend(oa.model_entry(f"{asset.name}@{label}", created) for label in sorted(asset.labels))
            cursor = page.next_cursor
            if cursor is None:
                return out


# -- the routes ------------------------------------------------------------------------------------------


@router.post(
    "/v1/chat/completions",
    summary="Chat completion (OpenAI-compatible); the model names an app",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "required": ["model", "messages"]}}},
        }
    },
    responses={200: {"content": {oa.SSE_MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
async def chat_completions(request: Request) -> Response:
    """An app's answer as a ``chat.completion``, or with ``stream: true`` as Server-Sent Events:
    ``chat.completion.chunk``s (the role, content deltas, the finish reason, the usage with
    ``stream_options.include_usage``), then ``data: [DONE]``."""
    try:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise oa.BadRequest(f"the request body is not valid JSON: {exc}") from None
        chat = oa.parse_request(body)
        caller = _caller(request)
        project = _project(request)
        catalog: Catalog = request.app.state.openai_catalog
        services: Services = request.app.state.services
        if chat.stream:
            stream, exact = await run_in_threadpool(_start_stream, services, catalog, caller, project, chat)
            return _stream_response(stream, exact, chat.include_usage)
        run = await run_in_threadpool(_invoke, services, catalog, caller, project, chat)
        body = oa.completion(run, int(time.time()))
        return JSONResponse(body, headers={TRACE_HEADER: run.trace_id})
    except RippleError as exc:
        return error_response(exc)


@router.get("/v1/models", summary="The apps this server answers for (OpenAI-compatible)")
async def list_models(request: Request) -> Response:
    try:
        caller = _caller(request)
        project = _project(request)
        catalog: Catalog = request.app.state.openai_catalog
        services: Services = request.app.state.services

        def work() -> list[dict[str, Any]]:
            return catalog.models(services, _principal(services, caller), project)

        data = await run_in_threadpool(work)
        return JSONResponse({"object": "list", "data": data})
    except RippleError as exc:
        return error_response(exc)


@router.get("/v1/models/{model:path}", summary="One app this server answers for (OpenAI-compatible)")
async def get_model(model: str, request: Request) -> Response:
    try:
        caller = _caller(request)
        project = _project(request)
        ref = oa.parse_model(model)
        catalog: Catalog = request.app.state.openai_catalog
        services: Services = request.app.state.services

        def work() -> dict[str, Any]:
            principal = _principal(services, caller)
            catalog.resolve(services, principal, project, ref)
            created = int(services.assets.show(principal, project, ref.asset).created_at.timestamp())
            return oa.model_entry(model, created)

        return JSONResponse(await run_in_threadpool(work))
    except RippleError as exc:
        return error_response(exc)


def error_response(exc: RippleError) -> JSONResponse:
    status, body = oa.error_of(exc)
    return JSONResponse(body, status_code=status)


# -- the work (in a worker thread) ------------------------------------------------------------------------


def _caller(request: Request) -> str | None:
    """The request's token; None means the local admin (no token, and none required).

    The openai client always sends its ``api_key``: on a server that does not require auth,
    a key that is not a Ripple token (``rpl_...``), such as ``"unused"``, counts as none."""
    header = request.headers.get("authorization")
    required = request.app.state.auth_required
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("the Authorization header must be `Bearer <token>`")
        if required or token.startswith(TOKEN_PREFIX):
            return token
        return None
    if required:
        raise UnauthenticatedError(
            "this server requires a Ripple API token: pass it as the client's api_key "
            "(`Authorization: Bearer <token>`; create one with `ripple token create`)"
        )
    return None


def _project(request: Request) -> str:
    catalog: Catalog = request.app.state.openai_catalog
    name = request.headers.get(PROJECT_HEADER)
    return catalog.project if name is None else validate_name(name.strip(), "project name (X-Ripple-Project)")


def _principal(services: Services, token: str | None) -> Principal:
    """The caller: a token's check, or the local admin of a server without auth, each reused
    for at most a second (``DECISION_TTL_S`` in ``services/access.py``: an access change made
    through this server applies at once, one made elsewhere within a second). Those reads
    were most of the route's overhead."""
    if token is not None:
        return services.access.authenticate_cached(token)
    return services.access.local_admin_cached()


def _invoke(services: Services, catalog: Catalog, token: str | None, project: str, chat: oa.ChatRequest) -> Any:
    principal = _principal(services, token)
    exact = catalog.resolve(services, principal, project, chat.ref)
    return services.apps.invoke(principal, project, exact, chat.app_request())


def _start_stream(
    services: Services, catalog: Catalog, token: str | None, project: str, chat: oa.ChatRequest
) -> tuple[AppStream, str]:
    principal = _principal(services, token)
    exact = catalog.resolve(services, principal, project, chat.ref)
    stream: AppStream = services.apps.stream(principal, project, exact, chat.app_request())
    return stream, exact


def _stream_response(stream: AppStream, model: str, include_usage: bool) -> StreamingResponse:
    trace_id = getattr(stream, "trace_id", None)
    headers = dict(sse.HEADERS)
    if trace_id:
        headers[TRACE_HEADER] = str(trace_id)
    return StreamingResponse(
        _chunks(stream, model, trace_id, include_usage), media_type=oa.SSE_MEDIA_TYPE, headers=headers
    )


async def _chunks(stream: AppStream, model: str, trace_id: str | None, include_usage: bool) -> AsyncIterator[bytes]:
    created = int(time.time())
    cid = oa.completion_id(trace_id or "pending")
    try:
        yield oa.sse(oa.chunk(cid, model, created, {"role": "assistant", "content": ""}))
        while (delta := await run_in_threadpool(sse.next_item, stream)) is not sse.END:
            yield oa.sse(oa.chunk(cid, model, created, {"content": delta}))
        record = stream.record
        yield oa.sse(oa.chunk(cid, model, created, {}, oa.finish_reason(record.finish_reason)))
        if include_usage:
            yield oa.sse(oa.chunk(cid, model, created, None, usage_of=oa.usage(record)))
        yield oa.DONE
    except RippleError as exc:
        yield oa.sse(oa.error_of(exc)[1])
    except Exception as exc:  # boundary: the status line is sent, so a bug is told as an event (and logged)
        log.exception("an app stream failed")
        yield oa.sse(oa.error_body(500, f"internal error ({type(exc).__name__}); the server log has the details"))
    finally:
        await sse.close_shielded(stream)  # a client that went away: the model stops, the trace says cancelled
