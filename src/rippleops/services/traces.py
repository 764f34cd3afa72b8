"""Reading traces: the newest first with filters, and one trace with all its spans.

The list reads only the ``traces`` summary table the batched writer keeps
(:mod:`rippleops.services.trace_ingest`), paged by a keyset cursor on (start, id), so a page
costs the same however deep it is. The attribute filter (a trace matches when any of its
spans has ``key = value``) runs in SQL on both databases, compared as text: SQLite's
``json_extract`` and PostgreSQL's JSONB ``->>``. Spans are never loaded to filter.

>>> services.traces.list(alice, "default", app="support-bot:3", status="error", since=an_hour_ago)  # doctest: +SKIP
>>> services.traces.get(alice, "default", "4bf92f3577b34da6a3ce929d0e0e4736").spans               # doctest: +SKIP
"""

from __future__ import annotations

import base64
import builtins
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, Table, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from rippleops.domain.access import Action, Principal
from rippleops.domain.records import Page, SpanRecord, TraceRecord, TraceSummaryRecord
from rippleops.domain.refs import parse_ref
from rippleops.domain.traces import STATUSES, check_trace_id, parse_attribute_filters
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services.access import AccessService, ProjectRef
from rippleops.services.assets import resolve
from rippleops.store import queries
from rippleops.store.db import Database

__all__ = ["MAX_TRACE_PAGE", "TraceService"]

MAX_TRACE_PAGE = 500
APP_KIND = "app"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TR: Table = queries.TR
SP: Table = queries.SP

AttributeValue = str | int | float | bool


class TraceService:
    """Trace queries for the interfaces (CLI, REST, SDK); every call is authorised as a read."""

    def __init__(self, db: Database, access: AccessService) -> None:
        self.db = db
        self.access = access

    def list(
        self,
        principal: Principal,
        project: str,
        *,
        app: str | None = None,
        version: int | None = None,
        status: str | None = None,
        min_latency_ms: float | None = None,
        max_latency_ms: float | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """A page of trace summaries (:class:`TraceSummaryRecord`), newest first.

        ``app`` is ``support-bot``, ``app/support-bot``, ``support-bot:3`` or
        ``support-bot@production`` (the label is resolved now); ``version`` narrows an app to
        one version. ``since``/``until`` bound the trace's start. ``attributes`` keeps the
        traces with a span whose attribute ``key`` equals ``value`` (compared as text; true
        and false for booleans). Pass ``next_cursor`` back to get the next page."""
        if not 1 <= limit <= MAX_TRACE_PAGE:
            raise InvalidError(f"limit must be between 1 and {MAX_TRACE_PAGE}")
        after = _decode_cursor(cursor) if cursor else None
        filters = _check_filters(status, min_latency_ms, max_latency_ms, since, until)
        attrs = parse_attribute_filters(attributes or {})
        if version is not None and app is None:
            raise InvalidError("version filters an app's traces; give the app too (app=support-bot, version=3)")
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            app_name, app_version = _app_filter(s, proj, app, version) if app is not None else (None, None)
            if app_name is None and not filters and not attrs:
                rows = self._latest(s, proj, after, limit + 1)
            else:
                conds: builtins.list[ColumnElement[bool]] = [TR.c.project_id == proj.id]
                if app_name is not None:
                    conds.append(TR.c.app == app_name)
                if app_version is not None:
                    conds.append(TR.c.app_version == app_version)
                conds.extend(_summary_conditions(filters))
                conds.extend(_attribute_condition(self.db.dialect, k, v) for k, v in attrs.items())
                if after is not None:
                    conds.append(TR.c.start_ns <= after[0])
                    conds.append(or_(TR.c.start_ns < after[0], TR.c.id < after[1]))
                q = (
                    select(*queries.TRACE_COLUMNS)
                    .where(and_(*conds))
                    .order_by(TR.c.start_ns.desc(), TR.c.id.desc())
                    .limit(limit + 1)
                )
                rows = s.execute(q).all()
        page = rows[:limit]
        nxt = _encode_cursor(page[-1][7], page[-1][0]) if len(rows) > limit else None
        return Page(items=[_summary(row, project) for row in page], next_cursor=nxt)

    def get(self, principal: Principal, project: str, trace_id: str) -> TraceRecord:
        """One trace: its summary and every span, in tree order (depth first, siblings by start)."""
        tid = check_trace_id(trace_id, prefix=True)
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            if len(tid) < 32:
                tid = _by_prefix(s, proj, tid)
            rows = s.execute(queries.TRACE_WITH_SPANS, {"project_id": proj.id, "trace_id": tid}).all()
        if not rows:
            raise NotFoundError(
                f"trace {tid} is not in project {project!r} (or its spans are not written yet); "
                "list recent traces with `ripple trace list`"
            )
        n = len(queries.TRACE_COLUMNS)
        summary = _summary(rows[0][:n], project)
        spans = [_span(r[n:]) for r in rows if r[n] is not None]
        return TraceRecord.model_construct(**summary.__dict__, spans=_tree_order(spans))

    @staticmethod
    def _latest(s: Session, proj: ProjectRef, after: tuple[int, int] | None, limit: int) -> Sequence[Any]:
        if after is None:
            return s.execute(queries.LATEST_TRACES, {"project_id": proj.id, "limit": limit}).all()
        params = {"project_id": proj.id, "c_ns": after[0], "c_id": after[1], "limit": limit}
        return s.execute(queries.LATEST_TRACES_AFTER, params).all()


def _by_prefix(s: Session, proj: ProjectRef, prefix: str) -> str:
    """The one trace whose id starts with ``prefix`` (the unique (project, trace) index serves it)."""
    found = (
        s.execute(
            select(TR.c.trace_id)
            .where(TR.c.project_id == proj.id, TR.c.trace_id >= prefix, TR.c.trace_id < prefix + "g")
            .limit(3)
        )
        .scalars()
        .all()
    )
    if not found:
        raise NotFoundError(f"no trace id in project {proj.name!r} starts with {prefix}; see `ripple trace list`")
    if len(found) > 1:
        raise InvalidError(f"{prefix} starts more than one trace id ({', '.join(found[:2])}, ...); give more of it")
    return str(found[0])


# -- filters --------------------------------------------------------------------------------------


def _attribute_condition(dialect: str, key: str, value: str) -> ColumnElement[bool]:
    """EXISTS a span of the trace whose attribute ``key``, as text, is ``value``."""
    column = SP.c.attributes
    text: ColumnElement[Any]
    if dialect == "postgresql":
        text = column.op("->>", return_type=String())(key)
    else:  # SQLite: json_extract gives 1/0 for booleans; json_type tells them apart from numbers
        path = f'$."{key}"'
        kind = func.json_type(column, path)
        text = case(
            (kind == "true", "true"), (kind == "false", "false"), else_=cast(func.json_extract(column, path), String())
        )
    return exists().where(SP.c.project_id == TR.c.project_id, SP.c.trace_id == TR.c.trace_id, text == value)


def _check_filters(
    status: str | None,
    min_latency_ms: float | None,
    max_latency_ms: float | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if status is not None:
        if status.lower() not in STATUSES:
            raise InvalidError(f"status {status!r} is not known; filter on one of: {', '.join(STATUSES)}")
        out["status"] = status.lower()
    for name, value in (("min_latency_ms", min_latency_ms), ("max_latency_ms", max_latency_ms)):
        if value is not None:
            if value < 0:
                raise InvalidError(f"{name} must be 0 or more (milliseconds), not {value}")
            out[name] = float(value)
    if min_latency_ms is not None and max_latency_ms is not None and min_latency_ms > max_latency_ms:
        raise InvalidError(f"min_latency_ms ({min_latency_ms}) is above max_latency_ms ({max_latency_ms})")
    if since is not None:
        out["since_ns"] = _to_ns(since)
    if until is not None:
        out["until_ns"] = _to_ns(until)
    if since is not None and until is not None and out["since_ns"] > out["until_ns"]:
        raise InvalidError(f"since ({since.isoformat()}) is after until ({until.isoformat()}); swap them")
    return out


def _summary_conditions(filters: Mapping[str, Any]) -> builtins.list[ColumnElement[bool]]:
    conds: builtins.list[ColumnElement[bool]] = []
    if "status" in filters:
        conds.append(TR.c.status == filters["status"])
    if "min_latency_ms" in filters:
        conds.append(TR.c.duration_ms >= filters["min_latency_ms"])
    if "max_latency_ms" in filters:
        conds.append(TR.c.duration_ms <= filters["max_latency_ms"])
    if "since_ns" in filters:
        conds.append(TR.c.start_ns >= filters["since_ns"])
    if "until_ns" in filters:
        conds.append(TR.c.start_ns <= filters["until_ns"])
    return conds


def _app_filter(s: Session, proj: ProjectRef, app: str, version: int | None) -> tuple[str, int | None]:
    """The app name and version to filter on; a label is resolved to its version now."""
    ref = parse_ref(app, APP_KIND)
    number = ref.version
    if ref.label is not None:
        number = resolve(s, proj, ref).number
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidError(f"version must be a positive whole number, not {version!r}")
        if number is not None and number != version:
            raise InvalidError(f"app {app!r} names version {number} but version={version} was given; give one")
        number = version
    return ref.name, number


# -- cursor ---------------------------------------------------------------------------------------


def _encode_cursor(start_ns: int, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"t:{start_ns}:{row_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = cursor + "=" * (-len(cursor) % 4)
        tag, start, row = base64.urlsafe_b64decode(raw.encode()).decode().split(":")
        if tag != "t":
            raise ValueError(tag)
        return int(start), int(row)
    except (ValueError, UnicodeDecodeError):
        raise InvalidError("the page cursor is not valid; pass the next_cursor of the previous page") from None


# -- records --------------------------------------------------------------------------------------


def _to_ns(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _time(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1_000)


def _summary(row: Sequence[Any], project: str) -> TraceSummaryRecord:
    (_, tid, name, app, app_version, service, status, start, end, duration, count, has_root, pt, ct, cost, i, o) = row
    ref = None if app is None else f"app/{app}" + (f":{app_version}" if app_version is not None else "")
    return TraceSummaryRecord.model_construct(
        trace_id=tid,
        project=project,
        name=name,
        app=ref,
        app_name=app,
        app_version=app_version,
        service_name=service,
        status=status,
        start_time=_time(start),
        end_time=_time(end),
        start_ns=start,
        end_ns=end,
        duration_ms=duration,
        span_count=count,
        complete=bool(has_root),
        prompt_tokens=pt or 0,
        completion_tokens=ct or 0,
        total_tokens=(pt or 0) + (ct or 0),
        cost=cost or 0.0,
        input_preview=i or "",
        output_preview=o or "",
    )


def _span(row: Sequence[Any]) -> SpanRecord:
    tid, sid, parent, name, kind, start, end, duration, status, message, service, attributes, events = row
    return SpanRecord.model_construct(
        trace_id=tid,
        span_id=sid,
        parent_id=parent,
        name=name,
        kind=kind,
        start_time=_time(start),
        end_time=_time(end),
        start_ns=start,
        end_ns=end,
        duration_ms=duration,
        status=status,
        status_message=message or "",
        service_name=service or "",
        attributes=attributes or {},
        events=events or [],
    )


def _tree_order(spans: builtins.list[SpanRecord]) -> builtins.list[SpanRecord]:
    """Depth first from the roots (spans whose parent is not in the trace), siblings by start
    time: a parent always comes before its children, even when both started in the same ns."""
    ids = {sp.span_id for sp in spans}
    children: dict[str | None, builtins.list[SpanRecord]] = {}
    for sp in spans:  # already ordered by start
        children.setdefault(sp.parent_id if sp.parent_id in ids else None, []).append(sp)
    out: builtins.list[SpanRecord] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        sp = stack.pop()
        out.append(sp)
        stack.extend(reversed(children.get(sp.span_id, [])))
    if len(out) < len(spans):  # a malformed trace whose parents form a loop: keep every span
        seen = {sp.span_id for sp in out}
        out.extend(sp for sp in spans if sp.span_id not in seen)
    return out
