"""Trace ingestion: a bounded queue of spans drained by one writer thread in batches.

Producers never wait on the database. In-process spans (from :meth:`TraceIngest.tracing`)
and OTLP exports (:meth:`TraceIngest.ingest`) go into one queue bounded by span count
(``RIPPLE_TRACE_QUEUE_SPANS``); one writer thread takes up to ``RIPPLE_TRACE_BATCH_SPANS``
at a time (waiting up to ``RIPPLE_TRACE_BATCH_WAIT_MS`` for a batch to fill) and writes each
batch in one transaction (:func:`trace_writer.write_batch`). When the queue is full an OTLP
export is refused with :class:`BusyError` (the route answers 429 + Retry-After, and OTLP
clients retry) and in-process spans are dropped and counted: the app goes on.

An OTLP export that is accepted is first appended to the spool (:mod:`trace_spool`) when
one is open, so a crash after the 200 loses nothing: the next start replays it.

>>> ingest = services.trace_ingest                           # doctest: +SKIP
>>> with ingest.tracing("default").span("answer"): ...       # doctest: +SKIP
>>> ingest.flush()                                           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from sqlalchemy import select

from rippleops.domain.access import Action, Principal
from rippleops.domain.otlp import (
    ExportResult,
    OtlpError,
    decode,
    project_of,
    span_row,
    spool_record,
    unspool_record,
)
from rippleops.errors import BusyError, MalformedPayloadError, NotFoundError, UnavailableError
from rippleops.runtime.tracing import Tracing
from rippleops.services.access import AccessService
from rippleops.services.trace_spool import Spool, Ticket, orphan_segments, read_segment
from rippleops.services.trace_writer import write_batch
from rippleops.settings import DEFAULT_PROJECT, Settings
from rippleops.store.db import Database
from rippleops.store.models import Project

__all__ = ["IngestStats", "TraceIngest"]

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RETRY_AFTER_S = 1
_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}


@dataclass
class IngestStats:
    """What the ingest did since start (read by the server's ``/metrics``)."""

    received: dict[str, int] = field(default_factory=lambda: {"otlp": 0, "process": 0})
    written: int = 0  # new spans committed (duplicates are not counted)
    duplicates: int = 0  # spans already stored (a retry, a replay)
    rejected: int = 0  # OTLP spans refused with 429 (the client retries them)
    dropped: dict[str, int] = field(default_factory=lambda: {"queue_full": 0, "write_failed": 0})
    batches: int = 0
    batch_seconds_sum: float = 0.0
    batch_buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))

    def observe_batch(self, seconds: float) -> None:
        self.batches += 1
        self.batch_seconds_sum += seconds
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.batch_buckets[i] += 1


@dataclass
class _Item:
    seq: int
    project_id: int
    spans: int
    rows: list[dict[str, Any]] | None = None  # OTLP: rows already mapped
    readable: Sequence[ReadableSpan] | None = None  # in-process: mapped by the writer, off the app's path
    ticket: Ticket | None = None


class TraceIngest:
    """The queue, its writer thread, and a :class:`Tracing` per project."""

    def __init__(self, db: Database, settings: Settings, access: AccessService) -> None:
        self.db = db
        self.access = access
        self.settings = settings
        self.capacity = settings.trace_queue_spans
        self.batch_spans = settings.trace_batch_spans
        self.batch_wait_s = settings.trace_batch_wait_ms / 1000
        self._idle_poll_s = max(self.batch_wait_s, 0.01)  # how often an idle writer looks at the queue
        self.stats = IngestStats()
        self.spool: Spool | None = None
        self._queue: deque[_Item] = deque()
        self._queued_spans = 0  # queued or being written: the bound counts both
        self._cond = threading.Condition()
        self._seq = 0  # last item enqueued
        self._done = 0  # every item up to here is written (or dropped and counted)
        self._urgent = 0  # a flush waits: skip the batch fill wait
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._tracings: dict[str, Tracing] = {}
        self._projects: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- producers -----------------------------------------------------------------------------

    def tracing(self, project: str) -> Tracing:
        """The :class:`Tracing` of ``project`` (one per project, cached); its finished spans
        are queued for the writer, never blocking the caller."""
        with self._lock:
            tracing = self._tracings.get(project)
            if tracing is None:
                project_id = self.project_id(project)
                tracing = Tracing(lambda spans: self._enqueue_spans(project_id, spans), project=project)
                self._tracings[project] = tracing
            return tracing

    def project_id(self, project: str | int) -> int:
        """The id of project ``project`` (a name; an int is taken as the id)."""
        if isinstance(project, int):
            return project
        found = self._projects.get(project)
        if found is None:
            with self.db.reading() as s:
                found = s.execute(select(Project.id).where(Project.name == project)).scalar_one_or_none()
            if found is None:
                raise NotFoundError(
                    f"project {project!r} does not exist; create it with `ripple project create {project}`"
                )
            self._projects[project] = found
        return found

    def ingest(self, project: str | int, rows: list[dict[str, Any]]) -> None:
        """Queue span rows (from :mod:`rippleops.domain.otlp`) of ``project`` (a name or an
        id) for writing. Raises :class:`BusyError` when the queue has no room for them."""
        self.ingest_many([(project, rows)])

    def ingest_many(
        self, parts: Sequence[tuple[str | int, list[dict[str, Any]]]], *, spool: bytes | None = None
    ) -> None:
        """:meth:`ingest` for the rows of several projects at once, all or none.

        ``spool`` is the export to append to the spool first (the OTLP route passes the
        request, see :func:`rippleops.domain.otlp.spool_record`): once this returns, the
        rows survive a crash of the process."""
        items = [(self.project_id(project), rows) for project, rows in parts if rows]
        n = sum(len(rows) for _, rows in items)
        if not n:
            return
        with self._cond:
            if self._stopping:
                raise UnavailableError("the server is stopping; send the spans again when it is back")
            if self._queued_spans + n > self.capacity:
                self.stats.rejected += n
                raise BusyError(
                    f"the trace queue is full ({self._queued_spans} of {self.capacity} spans waiting to be written); "
                    f"retry in {RETRY_AFTER_S} s (RIPPLE_TRACE_QUEUE_SPANS sets the size)",
                    retry_after_s=RETRY_AFTER_S,
                )
            ticket = None
            if self.spool is not None and spool is not None:
                ticket = self.spool.append(spool, holders=len(items))
            self.stats.received["otlp"] += n
            for project_id, rows in items:
                self._put(_Item(0, project_id, len(rows), rows=rows, ticket=ticket))

    def export(
        self, principal: Principal, content_type: str, body: bytes, header_project: str | None = None
    ) -> ExportResult:
        """Accept an OTLP trace export (``body`` in ``content_type``, already decompressed).

        Each resource's spans go to ``header_project`` (``X-Ripple-Project``), else the
        resource's ``ripple.project``, else ``default``; the caller needs write access to
        each. Spans with bad ids are rejected (counted in the result), the others queued
        (and spooled) before this returns. Raises :class:`MalformedPayloadError` for a body
        that is not an export, :class:`BusyError` when the queue is full."""
        try:
            batch = decode(content_type, body)
        except OtlpError as exc:
            raise MalformedPayloadError(str(exc)) from exc
        by_project: dict[str, list[dict[str, Any]]] = {}
        for resource_project, rows in batch.rows.items():
            by_project.setdefault(project_of(header_project, resource_project, DEFAULT_PROJECT), []).extend(rows)
        with self.db.reading() as s:
            parts = [
                (self.access.authorize(s, principal, project, Action.WRITE).id, rows)
                for project, rows in by_project.items()
            ]
        self.ingest_many(parts, spool=spool_record(content_type, header_project, body))
        return ExportResult(batch.span_count, batch.rejected, "; ".join(batch.errors))

    # -- the spool -----------------------------------------------------------------------------

    def open_spool(self) -> int:
        """Replay the spool segments a killed process left (before anything else is taken),
        then spool every OTLP export accepted from now on. Returns the spans replayed."""
        folder = self.settings.trace_spool_dir
        replayed = 0
        for path, file in orphan_segments(folder):
            try:
                for record in read_segment(file, path.name):
                    replayed += self._replay(record)
                path.unlink()
            finally:
                file.close()
        if replayed:
            log.warning("replayed %d spans from the trace spool of a process that stopped unexpectedly", replayed)
        self.spool = Spool(folder)
        return replayed

    def _replay(self, record: bytes) -> int:
        content_type, header, body = unspool_record(record)
        batch = decode(content_type, body)
        n = 0
        for resource_project, rows in batch.rows.items():
            project = project_of(header, resource_project, DEFAULT_PROJECT)
            try:
                project_id = self.project_id(project)
            except NotFoundError as exc:
                log.error("trace spool: %d spans dropped: %s", len(rows), exc.message)
                self.stats.dropped["write_failed"] += len(rows)
                continue
            for row in rows:
                row["project_id"] = project_id
            for start in range(0, len(rows), self.batch_spans):
                self.stats.written += self._write_rows(rows[start : start + self.batch_spans])
            n += len(rows)
        return n

    def _enqueue_spans(self, project_id: int, spans: Sequence[ReadableSpan]) -> None:
        """The in-process sink: never blocks, never raises; a full queue drops and counts."""
        n = len(spans)
        with self._cond:
            self.stats.received["process"] += n
            if self._stopping or self._queued_spans + n > self.capacity:
                self.stats.dropped["queue_full"] += n
                return
            self._put(_Item(0, project_id, n, readable=spans))

    def _put(self, item: _Item) -> None:
        """Append under ``self._cond``; starts the writer on first use."""
        self._seq += 1
        item.seq = self._seq
        self._queue.append(item)
        self._queued_spans += item.spans
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ripple-trace-writer", daemon=True)
            self._thread.start()
        # Only a full batch wakes the writer: it polls an idle queue on its own clock, so a
        # request that ends a span never hands the GIL to the writer on its way out.
        if self._queued_spans >= self.batch_spans:
            self._cond.notify_all()

    # -- waiting -------------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Spans queued or being written."""
        return self._queued_spans

    def flush(self, timeout_s: float = 10.0) -> None:
        """Return once every span queued before the call is written (or dropped and counted).

        Raises :class:`UnavailableError` when that takes longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._seq
            self._urgent += 1
            self._cond.notify_all()
            try:
                while self._done < target:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise UnavailableError(
                            f"{self._queued_spans} spans are still waiting to be written after {timeout_s} s; "
                            "is the database reachable?"
                        )
                    self._cond.wait(left)
            finally:
                self._urgent -= 1

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking spans, write what is queued (a graceful stop loses nothing), stop the
        writer. Spans still queued after ``timeout_s`` stay in the spool (OTLP) or are logged."""
        with self._lock:
            for tracing in self._tracings.values():
                tracing.shutdown()
            self._tracings.clear()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.error(
                    "the trace writer did not finish in %s s; %d spans not written", timeout_s, self._queued_spans
                )
        if self.spool is not None:
            self.spool.close()

    # -- the writer ----------------------------------------------------------------------------

    def _take(self) -> list[_Item] | None:
        """The next batch: waits for spans, then up to ``batch_wait_s`` for a full batch."""
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait(self._idle_poll_s)
            deadline = time.monotonic() + self.batch_wait_s
            while self._queued_spans < self.batch_spans and not self._urgent and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = [self._queue.popleft()]
            size = batch[0].spans
            while self._queue and size + self._queue[0].spans <= self.batch_spans:
                item = self._queue.popleft()
                batch.append(item)
                size += item.spans
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            self._write(batch)
            with self._cond:
                self._done = batch[-1].seq
                self._queued_spans -= sum(item.spans for item in batch)
                self._cond.notify_all()
            if self.spool is not None:
                for item in batch:
                    if item.ticket is not None:
                        self.spool.done(item.ticket)

    def _write(self, batch: list[_Item]) -> None:
        rows: list[dict[str, Any]] = []
        for item in batch:
            rows.extend(_rows(item))
        self.settings.fault("trace.before_write")
        delay = 0.05
        while True:
            started = time.perf_counter()
            try:
                written = self._write_rows(rows)
            except UnavailableError as exc:
                # the database is down or busy: keep the batch and retry; the queue fills and
                # OTLP clients get 429s meanwhile. A stop gives up (the spool keeps OTLP spans).
                if self._stopping:
                    log.error("trace writer stopping with the database unavailable: %s", exc.message)
                    self._count_failed(batch)
                    return
                log.warning("trace writer: %s; retrying in %.1f s", exc.message, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Exception:  # boundary: a batch the database refuses must not stop the writer
                if len(batch) > 1:
                    log.warning("trace writer: a batch of %d items failed; writing them one by one", len(batch))
                    for item in batch:
                        self._write([item])
                    return
                log.exception("trace writer: dropped %d spans the database refused", batch[0].spans)
                self._count_failed(batch)
                return
            with self._cond:
                self.stats.observe_batch(time.perf_counter() - started)
                self.stats.written += written
                self.stats.duplicates += len(rows) - written
            return

    def _write_rows(self, rows: list[dict[str, Any]]) -> int:
        return self.db.write(lambda s: write_batch(s, self.db.dialect, rows))

    def _count_failed(self, batch: list[_Item]) -> None:
        with self._cond:
            self.stats.dropped["write_failed"] += sum(item.spans for item in batch)


def _rows(item: _Item) -> list[dict[str, Any]]:
    rows = item.rows if item.rows is not None else [readable_row(s) for s in item.readable or ()]
    for row in rows:
        row["project_id"] = item.project_id
    return rows


def readable_row(span: ReadableSpan) -> dict[str, Any]:
    """An OpenTelemetry SDK span as a ``spans`` row (without ``project_id``)."""
    ctx = span.context
    assert ctx is not None  # a span the SDK ended always has its context
    parent = span.parent
    attributes = {k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()}
    events = [
        {
            "name": e.name,
            "time_ns": e.timestamp,
            "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in (e.attributes or {}).items()},
        }
        for e in span.events
    ]
    status = span.status
    return span_row(
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
        format(parent.span_id, "016x") if parent is not None else None,
        span.name,
        span.start_time or 0,
        span.end_time or span.start_time or 0,
        _STATUS.get(status.status_code, "unset"),
        status.description or "",
        str(span.resource.attributes.get("service.name", "")),
        attributes,
        events,
    )
