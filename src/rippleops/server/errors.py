"""The server's one error mapping: every error becomes ``{"error": {type, message, details}}``.

:class:`~rippleops.errors.RippleError` subclasses carry their own HTTP status; FastAPI's
validation errors (bad fields, malformed JSON) become 422 ``InvalidError``; Starlette's own
HTTP errors (no such route, wrong method) keep their status; anything else is a bug, logged
and answered with a 500 by :class:`CatchAll`, the boundary around the whole app.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rippleops.errors import ERRORS_BY_TYPE, BusyError, InvalidError, RippleError

log = logging.getLogger("rippleops.server")


def error_response(err: RippleError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON body the remote SDK transport reads back with ``error_from_dict``; a
    :class:`BusyError` (429) says when to retry in ``Retry-After``."""
    if isinstance(err, BusyError):
        headers = {**(headers or {}), "Retry-After": str(err.retry_after_s)}
    return JSONResponse({"error": err.to_dict()}, status_code=err.http_status, headers=headers)


async def _ripple_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RippleError)
    return error_response(exc)


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts) or "body"


def validation_message(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """One message naming every bad field, and the fields as details (never the input)."""
    problems: list[str] = []
    fields: list[dict[str, Any]] = []
    for e in errors:
        loc = list(e.get("loc", ()))
        if e.get("type") == "json_invalid":
            reason = (e.get("ctx") or {}).get("error", "JSON decode error")
            pos = loc[1] if len(loc) > 1 else "?"
            problems.append(f"the request body is not valid JSON ({reason} at character {pos})")
            fields.append({"loc": ["body"], "type": "json_invalid", "msg": str(reason)})
            continue
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{_where(loc)}: {msg}")
        fields.append({"loc": [str(p) for p in loc], "type": str(e.get("type", "")), "msg": msg})
    return "invalid request: " + "; ".join(problems), fields


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message, fields = validation_message(exc.errors())
    return error_response(InvalidError(message, details={"fields": fields}))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    cls = next((c for c in ERRORS_BY_TYPE.values() if c.http_status == status and c is not RippleError), RippleError)
    if status == 404:
        message = f"no route {request.method} {request.url.path}; see /docs for the API"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs for the API"
    else:
        message = str(exc.detail)
    body = {"error": {"type": cls.__name__, "message": message, "details": {}}}
    return JSONResponse(body, status_code=status, headers=getattr(exc, "headers", None))


def install(app: FastAPI) -> None:
    """Register the handlers; :class:`CatchAll` is added with the other middleware."""
    app.add_exception_handler(RippleError, _ripple_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class CatchAll:
    """The boundary around the app: an exception nobody mapped is a bug. It is logged with its
    traceback and answered with a 500 in the usual error shape, so clients never get a bare
    dropped connection or an HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # boundary: the server's last handler; log it, answer 500
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half a response went out; the server can only close the connection
            err = RippleError(f"internal server error ({type(exc).__name__}); the server log has the details")
            await error_response(err)(scope, receive, send)
