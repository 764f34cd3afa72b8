"""The trace operations of both SDK transports, mixed into
:class:`~rippleops.sdk.embedded.EmbeddedTransport` and :class:`~rippleops.sdk.remote.RemoteTransport`.

Queries: the traces service in-process, or ``GET …/traces`` over HTTP.

Spans of user code (``rp.trace``) go to a :class:`~rippleops.runtime.tracing.Tracing` per
project. Embedded, its sink is the ingest queue of the services
(``services.trace_ingest.tracing(project)``): the batched writer stores them. Remote, they
are exported in the background to the server's ``POST /v1/traces`` over OTLP/HTTP
(protobuf) by OpenTelemetry's own exporter behind a ``BatchSpanProcessor``: the caller
never waits (a full queue drops spans rather than block), the exporter retries 429, 502,
503 and 504 answers with backoff (honouring ``Retry-After``), and ``close`` flushes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from rippleops.domain.access import Action
from rippleops.domain.records import Page, TraceRecord, TraceSummaryRecord
from rippleops.domain.traces import parse_attribute_filters
from rippleops.runtime.tracing import Tracing
from rippleops.sdk._http import quote_part

if TYPE_CHECKING:
    from rippleops.sdk.embedded import EmbeddedTransport
    from rippleops.sdk.remote import RemoteTransport

#: the OTLP/HTTP route of a Ripple server, and the header naming the project spans go to
OTLP_PATH = "/v1/traces"
PROJECT_HEADER = "X-Ripple-Project"
#: how often the background exporter sends what it has (ms), and at most how many per request
EXPORT_DELAY_MS = 500
EXPORT_BATCH = 512
EXPORT_QUEUE = 8192  # spans held while the server is slow; beyond this new spans are dropped
EXPORT_TIMEOUT_S = 10.0
SDK_SERVICE_NAME = "ripple-sdk"


def _filter_params(filters: dict[str, Any], limit: int, cursor: str | None) -> dict[str, Any]:
    """The list filters as the REST API's query parameters."""
    params: dict[str, Any] = {k: filters.get(k) for k in ("app", "version", "status")}
    params["min_latency_ms"] = filters.get("min_latency_ms")
    params["max_latency_ms"] = filters.get("max_latency_ms")
    for key in ("since", "until"):
        value = filters.get(key)
        params[key] = value.isoformat() if value is not None else None
    attributes = parse_attribute_filters(filters.get("attributes") or {})  # True -> "true", as embedded
    params["attr"] = [f"{k}={v}" for k, v in attributes.items()] or None
    params["limit"] = limit
    params["cursor"] = cursor
    return params


class EmbeddedTraces:
    """Trace calls on the services (mixed into the embedded transport)."""

    def _e(self) -> EmbeddedTransport:
        return cast("EmbeddedTransport", self)

    def list_traces(self, project: str, filters: dict[str, Any], limit: int, cursor: str | None) -> Page:
        t = self._e()
        return t.services.traces.list(t.principal, project, limit=limit, cursor=cursor, **filters)

    def get_trace(self, project: str, trace_id: str) -> TraceRecord:
        t = self._e()
        return t.services.traces.get(t.principal, project, trace_id)

    def tracing(self, project: str) -> Tracing:
        t = self._e()
        allowed: set[str] = self.__dict__.setdefault("_tracing_allowed", set())
        if project not in allowed:  # checked once per project: rp.trace runs on the app's hot path
            with t.services.db.reading() as s:  # a project the caller cannot write to is refused up front
                t.services.access.authorize(s, t.principal, project, Action.WRITE)
            allowed.add(project)
        return t.services.trace_ingest.tracing(project)

    def flush_traces(self, timeout_s: float = 10.0) -> None:
        self._e().services.trace_ingest.flush(timeout_s)


class _Exporting:
    """One project's remote tracing: its ``Tracing`` and the batch processor behind it."""

    def __init__(self, tracing: Tracing, processor: BatchSpanProcessor) -> None:
        self.tracing = tracing
        self.processor = processor


class RemoteTraces:
    """Trace calls over HTTP (mixed into the remote transport)."""

    _exports: dict[str, _Exporting]
    _exports_lock: threading.Lock

    def _r(self) -> RemoteTransport:
        return cast("RemoteTransport", self)

    def list_traces(self, project: str, filters: dict[str, Any], limit: int, cursor: str | None) -> Page:
        r = self._r()
        page = r._record(Page, "GET", f"{r._p(project)}/traces", params=_filter_params(filters, limit, cursor))
        page.items = [TraceSummaryRecord.model_validate(item) for item in page.items]
        return page

    def get_trace(self, project: str, trace_id: str) -> TraceRecord:
        r = self._r()
        return r._record(TraceRecord, "GET", f"{r._p(project)}/traces/{quote_part(trace_id.strip())}")

    def tracing(self, project: str) -> Tracing:
        if "_exports" not in self.__dict__:
            self._exports = {}
            self._exports_lock = threading.Lock()
        with self._exports_lock:
            found = self._exports.get(project)
            if found is None:
                found = self._exports[project] = self._start_export(project)
            return found.tracing

    def flush_traces(self, timeout_s: float = 10.0) -> None:
        for exporting in list(self.__dict__.get("_exports", {}).values()):
            exporting.processor.force_flush(int(timeout_s * 1000))

    def close_traces(self) -> None:
        """Send what is queued, then stop the exporters (``rp.close()`` calls this)."""
        exports = self.__dict__.get("_exports", {})
        for exporting in list(exports.values()):
            exporting.processor.force_flush(int(EXPORT_TIMEOUT_S * 1000))
            exporting.processor.shutdown()
            exporting.tracing.shutdown()
        exports.clear()

    def _start_export(self, project: str) -> _Exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        r = self._r()
        headers = {PROJECT_HEADER: project, "User-Agent": "rippleops-sdk"}
        if "Authorization" in r._headers:
            headers["Authorization"] = r._headers["Authorization"]
        exporter = OTLPSpanExporter(endpoint=r.url + OTLP_PATH, headers=headers, timeout=EXPORT_TIMEOUT_S)
        processor = BatchSpanProcessor(
            exporter,
            max_queue_size=EXPORT_QUEUE,
            schedule_delay_millis=EXPORT_DELAY_MS,
            max_export_batch_size=EXPORT_BATCH,
            export_timeout_millis=int(EXPORT_TIMEOUT_S * 1000),
        )

        def sink(spans: Sequence[ReadableSpan]) -> None:
            for span in spans:
                processor.on_end(span)  # enqueues; never blocks

        return _Exporting(Tracing(sink, service_name=SDK_SERVICE_NAME, project=project), processor)
