"""One batch of span rows into the database, in one transaction: the spans (duplicates
ignored) and the ``traces`` summary rows they change.

Spans are inserted with ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (SQLite and
PostgreSQL alike), so only the spans that were new count towards a trace's summary: a span
delivered twice (an OTLP client retrying, the spool replayed after a crash) changes nothing.
The summary of each trace the batch touches is one upsert row, merged with what is stored
(span count and token/cost sums added, start/end widened, the root's fields taken when the
root arrives, status ``error`` once any span failed).

Tokens and cost are summed over ``LLM`` spans only: a parent that reports its children's
totals (an agent, an app call) is not counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, case, literal_column, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from rippleops.domain.otlp import app_of
from rippleops.store.models import Span, Trace

SPANS = cast(Table, Span.__table__)
TRACES = cast(Table, Trace.__table__)
PREVIEW_CHARS = 500
ROOT_STATUS_ERROR = "error"


def write_batch(session: Session, dialect: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` (span rows with ``project_id``) and update their traces; return how
    many spans were new."""
    if not rows:
        return 0
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(SPANS)
        .on_conflict_do_nothing(index_elements=["project_id", "trace_id", "span_id"])
        .returning(SPANS.c.project_id, SPANS.c.trace_id, SPANS.c.span_id)
    )
    inserted = {tuple(r) for r in session.execute(stmt, list(rows))}
    if not inserted:
        return 0
    summaries: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        key3 = (row["project_id"], row["trace_id"], row["span_id"])
        if key3 not in inserted:
            continue
        inserted.discard(key3)  # a span twice in one batch counts once
        _fold(summaries, row)
    upsert = insert(TRACES)
    new = upsert.excluded
    old = TRACES.c
    root = new.has_root == 1

    def root_or_old(col: str) -> Any:
        return case((root, new[col]), else_=old[col])

    upsert = upsert.on_conflict_do_update(
        index_elements=["project_id", "trace_id"],
        set_={
            "span_count": old.span_count + new.span_count,
            "start_ns": case((new.start_ns < old.start_ns, new.start_ns), else_=old.start_ns),
            "end_ns": case((new.end_ns > old.end_ns, new.end_ns), else_=old.end_ns),
            "has_root": case((root, 1), else_=old.has_root),
            "name": root_or_old("name"),
            "app": root_or_old("app"),
            "app_version": root_or_old("app_version"),
            "service_name": root_or_old("service_name"),
            "input_preview": root_or_old("input_preview"),
            "output_preview": root_or_old("output_preview"),
            "status": case(
                (or_(old.status == ROOT_STATUS_ERROR, new.status == ROOT_STATUS_ERROR), ROOT_STATUS_ERROR),
                (root, new.status),
                else_=old.status,
            ),
            "duration_ms": case(
                (root, new.duration_ms),
                (old.has_root == 1, old.duration_ms),
                else_=(
                    case((new.end_ns > old.end_ns, new.end_ns), else_=old.end_ns)
                    - case((new.start_ns < old.start_ns, new.start_ns), else_=old.start_ns)
                )
                / literal_column("1000000.0"),
            ),
            "prompt_tokens": old.prompt_tokens + new.prompt_tokens,
            "completion_tokens": old.completion_tokens + new.completion_tokens,
            "cost": old.cost + new.cost,
        },
    )
    session.execute(upsert, list(summaries.values()))
    return sum(s["span_count"] for s in summaries.values())


def _fold(summaries: dict[tuple[int, str], dict[str, Any]], row: dict[str, Any]) -> None:
    """Add one new span to its trace's partial summary for this batch."""
    key = (row["project_id"], row["trace_id"])
    s = summaries.get(key)
    if s is None:
        s = summaries[key] = {
            "project_id": row["project_id"],
            "trace_id": row["trace_id"],
            "name": "",
            "app": None,
            "app_version": None,
            "service_name": "",
            "status": "unset",
            "start_ns": row["start_ns"],
            "end_ns": row["end_ns"],
            "duration_ms": 0.0,
            "span_count": 0,
            "has_root": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost": 0.0,
            "input_preview": "",
            "output_preview": "",
        }
    s["span_count"] += 1
    s["start_ns"] = min(s["start_ns"], row["start_ns"])
    s["end_ns"] = max(s["end_ns"], row["end_ns"])
    attrs = row["attributes"]
    if row["status"] == "error":
        s["status"] = "error"
    if row["kind"] == "LLM":
        s["prompt_tokens"] += _number(attrs.get("llm.token_count.prompt"), int)
        s["completion_tokens"] += _number(attrs.get("llm.token_count.completion"), int)
        s["cost"] += _number(attrs.get("llm.cost.total"), float)
    if row["parent_id"] is None:
        app, version = app_of(attrs.get("ripple.app"))
        s.update(
            has_root=1,
            name=row["name"],
            app=app,
            app_version=version,
            service_name=row["service_name"],
            duration_ms=row["duration_ms"],
            input_preview=_preview(attrs.get("input.value")),
            output_preview=_preview(attrs.get("output.value")),
        )
        if s["status"] != "error":
            s["status"] = row["status"]
    elif not s["has_root"]:
        s["duration_ms"] = (s["end_ns"] - s["start_ns"]) / 1e6


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    try:
        return kind(value) if value is not None and not isinstance(value, bool) else kind(0)
    except (TypeError, ValueError):
        return kind(0)


def _preview(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:PREVIEW_CHARS]
