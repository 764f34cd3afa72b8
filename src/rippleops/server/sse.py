"""Streams over Server-Sent Events, shared by every streaming route: ``delta`` events
(``{"text": ...}``), then one ``done`` event holding the stream's record, or an ``error``
event (``{"error": {type, message, details}}``) when it fails midway (the status line is
sent by then, so an error can only be told as an event).

The stream's items are pulled in the thread pool (model calls block); a client that goes
away cancels the response task, and the stream is closed even so (shielded), so that the
model stops and the trace ends as cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import anyio
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from rippleops.domain.generation import SSE_MEDIA_TYPE, sse_event
from rippleops.errors import RippleError

log = logging.getLogger("rippleops.server")
END = object()
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class RecordStream(Protocol):
    """What a streaming route streams: text deltas, then a record; closable early."""

    def __next__(self) -> str: ...
    def __iter__(self) -> Iterator[str]: ...
    def close(self) -> None: ...
    @property
    def record(self) -> BaseModel: ...


def next_item(stream: Iterator[Any]) -> Any:
    """The next item, or :data:`END` (StopIteration cannot cross the thread pool's future)."""
    try:
        return next(stream)
    except StopIteration:
        return END


async def close_shielded(stream: RecordStream) -> None:
    """Close ``stream`` in the thread pool, even when the task is being cancelled."""
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(stream.close)


async def events(stream: RecordStream, what: str) -> AsyncIterator[str]:
    try:
        while (delta := await run_in_threadpool(next_item, stream)) is not END:
            yield sse_event("delta", {"text": delta})
        yield sse_event("done", stream.record.model_dump(mode="json"))
    except RippleError as exc:
        yield sse_event("error", {"error": exc.to_dict()})
    except Exception as exc:  # boundary: the status line is sent, so a bug is told as an event (and logged)
        log.exception("%s stream failed", what)
        yield sse_event("error", {"error": RippleError(f"internal error: {type(exc).__name__}: {exc}").to_dict()})
    finally:
        await close_shielded(stream)


def sse_response(stream: RecordStream, what: str) -> StreamingResponse:
    """``stream`` as a ``text/event-stream`` response (``what`` names it in the log)."""
    return StreamingResponse(events(stream, what), media_type=SSE_MEDIA_TYPE, headers=HEADERS)
