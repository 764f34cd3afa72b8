"""Traces written straight into the store (``traces`` summary + ``spans``), for the query
tests: the rows look like the batched writer's, with chosen times, apps and attributes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select

from rippleops.store.db import Database
from rippleops.store.models import Project, Span, Trace

SEC = 1_000_000_000


def new_id(nbytes: int) -> str:
    return os.urandom(nbytes).hex()


@dataclass
class SpanRow:
    name: str
    kind: str = "CHAIN"
    attributes: dict[str, Any] = field(default_factory=dict)
    parent: int | None = 0  # index of the parent in the trace's spans; None for the root
    status: str = "ok"
    offset_ms: float = 1.0
    duration_ms: float = 1.0
    status_message: str = ""
    events: list[Any] = field(default_factory=list)


def insert_trace(
    db: Database,
    project: str = "default",
    *,
    spans: list[SpanRow] | None = None,
    start_ns: int | None = None,
    duration_ms: float = 100.0,
    app: str | None = None,
    app_version: int | None = None,
    status: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost: float = 0.0,
    input_preview: str = "",
    output_preview: str = "",
    trace_id: str | None = None,
) -> str:
    """One trace with a root span (the first of ``spans``, else one named after the app)."""
    tid = trace_id or new_id(16)
    start = start_ns if start_ns is not None else time.time_ns()
    root_name = f"app/{app}:{app_version}" if app else "work"
    rows = spans or [SpanRow(root_name, parent=None)]
    ids = [new_id(8) for _ in rows]
    trace_status = status or ("error" if any(r.status == "error" for r in rows) else rows[0].status)
    with db._write() as s, s.begin():
        pid = s.execute(select(Project.id).where(Project.name == project)).scalar_one()
        span_values = []
        for i, r in enumerate(rows):
            root = r.parent is None
            s_start = start if root else start + int(r.offset_ms * 1e6)
            s_dur = duration_ms if root else r.duration_ms
            span_values.append(
                {
                    "project_id": pid,
                    "trace_id": tid,
                    "span_id": ids[i],
                    "parent_id": None if root else ids[r.parent or 0],
                    "name": r.name,
                    "kind": r.kind,
                    "start_ns": s_start,
                    "end_ns": s_start + int(s_dur * 1e6),
                    "duration_ms": s_dur,
                    "status": r.status,
                    "status_message": r.status_message,
                    "service_name": "test",
                    "attributes": {"openinference.span.kind": r.kind, **r.attributes},
                    "events": r.events,
                }
            )
        s.execute(insert(Span), span_values)
        s.execute(
            insert(Trace).values(
                project_id=pid,
                trace_id=tid,
                name=rows[0].name,
                app=app,
                app_version=app_version,
                service_name="test",
                status=trace_status,
                start_ns=start,
                end_ns=start + int(duration_ms * 1e6),
                duration_ms=duration_ms,
                span_count=len(rows),
                has_root=1,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost=cost,
                input_preview=input_preview,
                output_preview=output_preview,
            )
        )
    return tid
