"""Traces: the newest first with filters, and one trace with all its spans.

``since`` and ``until`` take an ISO time or a duration counted back from now (``30m``,
``1h``, ``2d``), as ``ripple trace list --since`` does; ``attr`` (repeatable) is
``key=value``: a trace matches when one of its spans has that attribute value. The spans
themselves arrive through OTLP (``POST /v1/traces``) or from app calls in the server.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from rippleops.domain.access import Principal
from rippleops.domain.records import Page, TraceRecord, TraceSummaryRecord
from rippleops.domain.times import parse_time
from rippleops.domain.traces import parse_attribute_filters
from rippleops.server.auth import CallerDep, ProjectDep, ServicesDep
from rippleops.server.routers.paths import PROJECT
from rippleops.server.schemas import ERROR_RESPONSES
from rippleops.services.traces import MAX_TRACE_PAGE

JSON = "application/json"
router = APIRouter(prefix=PROJECT + "/traces", tags=["traces"], responses=ERROR_RESPONSES)


class TracePage(Page):
    """A page of trace summaries, newest first; pass ``next_cursor`` back for the next."""

    items: list[TraceSummaryRecord] = Field(default_factory=list)


@router.get("", response_model=TracePage)
async def list_traces(
    project: ProjectDep,
    caller: CallerDep,
    services: ServicesDep,
    app: Annotated[str | None, Query(description="support-bot, app/support-bot, support-bot:3 or @label")] = None,
    version: Annotated[int | None, Query(ge=1, description="the app's version")] = None,
    status: Annotated[str | None, Query(description="ok, error or unset")] = None,
    min_latency_ms: Annotated[float | None, Query(ge=0)] = None,
    max_latency_ms: Annotated[float | None, Query(ge=0)] = None,
    since: Annotated[str | None, Query(description="ISO time, or a duration back from now: 30m, 1h, 2d")] = None,
    until: Annotated[str | None, Query(description="ISO time, or a duration back from now")] = None,
    attr: Annotated[list[str] | None, Query(description="key=value, repeatable; any span of the trace")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TRACE_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Response:
    """Trace summaries, newest first, one page at a time."""
    filters: dict[str, Any] = {
        "app": app,
        "version": version,
        "status": status,
        "min_latency_ms": min_latency_ms,
        "max_latency_ms": max_latency_ms,
        "since": parse_time(since, future=False, option="since") if since else None,
        "until": parse_time(until, future=False, option="until") if until else None,
        "attributes": parse_attribute_filters(attr or []),
    }

    def page_json(principal: Principal) -> bytes:
        # serialised here, in the worker thread: FastAPI's re-validation of 50 records against
        # the response model would cost more than the query
        return (
            services.traces.list(principal, project, limit=limit, cursor=cursor, **filters).model_dump_json().encode()
        )

    return Response(await caller.run(page_json), media_type=JSON)


@router.get("/{trace_id}", response_model=TraceRecord)
async def get_trace(trace_id: str, project: ProjectDep, caller: CallerDep, services: ServicesDep) -> Response:
    """One trace: its summary and every span (depth first, siblings by start time)."""

    def trace_json(principal: Principal) -> bytes:
        return services.traces.get(principal, project, trace_id).model_dump_json().encode()

    return Response(await caller.run(trace_json), media_type=JSON)
