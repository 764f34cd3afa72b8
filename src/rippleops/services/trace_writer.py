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

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from rippleops.domain.otlp import app_of

PREVIEW_CHARS = 500
SQLITE_MAX_PARAMS = 32_000  # bound parameters per statement (SQLite's limit is 32,766)
TRACE_COLUMNS = (
    "project_id", "trace_id", "name", "app", "app_version", "service_name", "status", "start_ns", "end_ns",
    "duration_ms", "span_count", "has_root", "prompt_tokens", "completion_tokens", "cost", "input_preview",
    "output_preview",
)  # fmt: skip
SPAN_COLUMNS = (
    "project_id", "trace_id", "span_id", "parent_id", "name", "kind", "start_ns", "end_ns", "duration_ms",
    "status", "status_message", "service_name", "attributes", "events",
)  # fmt: skip


def write_batch(session: Session, dialect: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` (span rows with ``project_id``) and update their traces; return how
    many spans were new."""
    if not rows:
        return 0
    inserted = _insert_spans(session, dialect, rows)
    if not inserted:
        return 0
    summaries: dict[tuple[int, str], dict[str, Any]] = {}
    for row in rows:
        key3 = (row["project_id"], row["trace_id"], row["span_id"])
        if key3 not in inserted:
            continue
        inserted.discard(key3)  # a span twice in one batch counts once
        _fold(summaries, row)
    tuples = [tuple(s[c] for c in TRACE_COLUMNS) for s in summaries.values()]
    _stage(session, dialect, "traces", TRACE_COLUMNS, tuples, _UPSERT)
    return sum(s["span_count"] for s in summaries.values())


def _insert_spans(session: Session, dialect: str, rows: Sequence[dict[str, Any]]) -> set[tuple[int, str, str]]:
    """Insert the spans, ignoring those stored already; the keys of the new ones."""
    tuples = [
        (
            r["project_id"], r["trace_id"], r["span_id"], r["parent_id"], r["name"], r["kind"], r["start_ns"],
            r["end_ns"], r["duration_ms"], r["status"], r["status_message"], r["service_name"],
            _dumps(r["attributes"]), _dumps(r["events"]) if r["events"] else "[]",
        )
        for r in rows
    ]  # fmt: skip
    returned = _stage(session, dialect, "spans", SPAN_COLUMNS, tuples, _INSERT_SPANS)
    return {(p, t, sp) for p, t, sp in returned}


def _stage(
    session: Session, dialect: str, table: str, columns: tuple[str, ...], tuples: list[tuple[Any, ...]], tail: str
) -> list[tuple[Any, ...]]:
    """``INSERT INTO table (columns) <rows> tail`` for many rows at the driver, returning
    what ``tail`` returns: multi-row ``VALUES`` on SQLite; on PostgreSQL ``COPY`` into a
    temporary table (one per connection, emptied at commit) then ``INSERT ... SELECT``.

    Why not SQLAlchemy's executemany: its per-row parameter processing cost more than the
    database's own work (benchmarks/otlp_ingest.py)."""
    conn = session.connection()
    head = f"INSERT INTO {table} ({', '.join(columns)}) "
    if dialect == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_PG_STAGING[table])
            with cursor.copy(f"COPY ripple_{table}_in ({', '.join(columns)}) FROM STDIN") as copy:
                for t in tuples:
                    copy.write_row(t)
            cursor.execute(f"{head}SELECT {', '.join(columns)} FROM ripple_{table}_in {tail}")
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()
    out: list[tuple[Any, ...]] = []
    chunk_rows = SQLITE_MAX_PARAMS // len(columns)
    raw = conn.connection.driver_connection  # inside the transaction the session began
    assert raw is not None
    for start in range(0, len(tuples), chunk_rows):
        chunk = tuples[start : start + chunk_rows]
        sql = head + "VALUES " + _placeholders(len(columns), len(chunk)) + " " + tail
        out.extend(raw.execute(sql, [v for t in chunk for v in t]).fetchall())
    return out


@functools.lru_cache(maxsize=16)
def _placeholders(columns: int, rows: int) -> str:
    one = "(" + ",".join("?" * columns) + ")"
    return ",".join([one] * rows)


_INSERT_SPANS = "ON CONFLICT (project_id, trace_id, span_id) DO NOTHING RETURNING project_id, trace_id, span_id"
_ROOT = "excluded.has_root = 1"
_START = "CASE WHEN excluded.start_ns < traces.start_ns THEN excluded.start_ns ELSE traces.start_ns END"
_END = "CASE WHEN excluded.end_ns > traces.end_ns THEN excluded.end_ns ELSE traces.end_ns END"
_UPSERT = (
    "ON CONFLICT (project_id, trace_id) DO UPDATE SET "
    "span_count = traces.span_count + excluded.span_count, "
    f"start_ns = {_START}, end_ns = {_END}, "
    f"has_root = CASE WHEN {_ROOT} THEN 1 ELSE traces.has_root END, "
    + "".join(
        f"{c} = CASE WHEN {_ROOT} THEN excluded.{c} ELSE traces.{c} END, "
        for c in ("name", "app", "app_version", "service_name", "input_preview", "output_preview")
    )
    + "status = CASE WHEN traces.status = 'error' OR excluded.status = 'error' THEN 'error' "
    f"WHEN {_ROOT} THEN excluded.status ELSE traces.status END, "
    f"duration_ms = CASE WHEN {_ROOT} THEN excluded.duration_ms WHEN traces.has_root = 1 THEN traces.duration_ms "
    f"ELSE ({_END} - {_START}) / 1000000.0 END, "
    "prompt_tokens = traces.prompt_tokens + excluded.prompt_tokens, "
    "completion_tokens = traces.completion_tokens + excluded.completion_tokens, "
    "cost = traces.cost + excluded.cost"
)
_PG_STAGING = {
    "spans": (
        "CREATE TEMP TABLE IF NOT EXISTS ripple_spans_in (project_id integer, trace_id varchar(32), "
        "span_id varchar(16), parent_id varchar(16), name varchar(300), kind varchar(20), start_ns bigint, "
        "end_ns bigint, duration_ms double precision, status varchar(10), status_message text, "
        "service_name varchar(200), attributes jsonb, events jsonb) ON COMMIT DELETE ROWS"
    ),
    "traces": (
        "CREATE TEMP TABLE IF NOT EXISTS ripple_traces_in (project_id integer, trace_id varchar(32), "
        "name varchar(300), app varchar(200), app_version integer, service_name varchar(200), status varchar(10), "
        "start_ns bigint, end_ns bigint, duration_ms double precision, span_count integer, has_root integer, "
        "prompt_tokens bigint, completion_tokens bigint, cost double precision, input_preview text, "
        "output_preview text) ON COMMIT DELETE ROWS"
    ),
}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


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
