"""OTLP against the real server, on SQLite and PostgreSQL: the real OpenTelemetry OTLP/HTTP
exporter (protobuf, gzip on and off) and OTLP/JSON over httpx to uvicorn on a free port; a
full queue answers 429 and the exporter's own retries land everything; a graceful stop
drains the queue; and ``kill -9`` of a server process holding acknowledged but unwritten
spans (the ``trace.before_write`` fault point, and a kill from outside) loses none of them."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import func, select

from otlp_data import json_export, json_span, protobuf_export, sdk_spans, trace_ids
from rippleops.services import Services
from rippleops.settings import Settings, get_settings
from rippleops.store.models import Span, Trace
from support import RunningServer, ServerProcess, start_server

PB = {"Content-Type": "application/x-protobuf"}


def stored(settings: Settings, model: type[Span] | type[Trace] = Span) -> int:
    services = Services(settings)
    try:
        with services.db.reading() as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        services.close()


def wait_stored(settings: Settings, n: int, timeout: float = 20.0) -> int:
    """Poll the database (as a reader would) until ``n`` spans are there."""
    deadline = time.monotonic() + timeout
    while (found := stored(settings)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


@pytest.fixture
def server(settings: Settings) -> Iterator[RunningServer]:
    running = start_server(settings)
    yield running
    running.stop()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_real_otlp_exporter_lands_spans(
    settings: Settings, server: RunningServer, compression: Compression
) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", compression=compression, timeout=10)
    spans = sdk_spans(traces=20, children=4)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    assert wait_stored(settings, 100) == 100
    assert stored(settings, Trace) == 20


def test_otlp_json_over_http(settings: Settings, server: RunningServer) -> None:
    body = json_export([json_span("ab" * 16, "cd" * 8, "json span", {"gen_ai.request.model": "m"})])
    r = httpx.post(f"{server.url}/v1/traces", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {}
    assert wait_stored(settings, 1) == 1


def test_a_full_queue_gets_429_and_the_exporter_retries_until_all_land(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the writer waits 500 ms for a batch to fill, so a second export right after the first
    # finds the 10-span queue full
    monkeypatch.setenv("RIPPLE_TRACE_QUEUE_SPANS", "10")
    monkeypatch.setenv("RIPPLE_TRACE_BATCH_WAIT_MS", "500")
    get_settings.cache_clear()
    running = start_server(get_settings())
    try:
        exporter = OTLPSpanExporter(endpoint=f"{running.url}/v1/traces", timeout=20)
        first, second = sdk_spans(traces=2, children=3), sdk_spans(traces=2, children=3)
        assert exporter.export(first) == SpanExportResult.SUCCESS
        assert exporter.export(second) == SpanExportResult.SUCCESS  # after a 429 and a retry
        assert wait_stored(settings, 16) == 16
        metrics = httpx.get(f"{running.url}/metrics").text
        assert "ripple_trace_spans_rejected_total 8.0" in metrics
        assert 'ripple_http_requests_total{method="POST",route="/v1/traces",status="429"} 1.0' in metrics
        assert 'ripple_trace_spans_dropped_total{reason="queue_full"} 0.0' in metrics
    finally:
        running.stop()


def test_a_graceful_stop_drains_the_queue(settings: Settings, tmp_path: Path) -> None:
    # no spool, and a writer that would wait a minute for a batch: only the drain can store them
    proc = ServerProcess(
        tmp_path / "server.log", RIPPLE_TRACE_SPOOL="false", RIPPLE_TRACE_BATCH_WAIT_MS="60000"
    ).wait_healthy()
    try:
        spans = sdk_spans(traces=10, children=2)
        assert httpx.post(f"{proc.url}/v1/traces", content=protobuf_export(spans), headers=PB).status_code == 200
        assert stored(settings) == 0
    finally:
        proc.stop()  # SIGTERM: uvicorn's graceful shutdown runs the lifespan's close
    assert proc.proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its shutdown
    assert "Application shutdown complete" in (tmp_path / "server.log").read_text()
    assert stored(settings) == 30 and stored(settings, Trace) == 10


def send_then_die(url: str, spans_per_export: int = 15, exports: int = 4) -> set[str]:
    """Exports the server acknowledged (200) before it died; returns their trace ids."""
    acknowledged: set[str] = set()
    for _ in range(exports):
        spans = sdk_spans(traces=spans_per_export // 3, children=2)
        try:
            r = httpx.post(f"{url}/v1/traces", content=protobuf_export(spans), headers=PB, timeout=5)
        except httpx.TransportError:
            break  # the server is gone: this export was never acknowledged
        if r.status_code == 200:
            acknowledged |= trace_ids(spans)
    return acknowledged


def assert_all_present(settings: Settings, acknowledged: set[str]) -> None:
    services = Services(settings)
    try:
        with services.db.reading() as s:
            traces = {t.trace_id: t.span_count for t in s.execute(select(Trace)).scalars()}
    finally:
        services.close()
    assert acknowledged <= set(traces)
    assert all(traces[t] == 3 for t in acknowledged)


def test_kill_9_at_the_write_fault_point_loses_no_acknowledged_span(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    proc = ServerProcess(log, RIPPLE_FAULTS="trace.before_write", RIPPLE_TRACE_BATCH_WAIT_MS="200").wait_healthy()
    acknowledged = send_then_die(proc.url)
    assert proc.proc.wait(20) == -signal.SIGKILL  # the writer killed it before its first batch
    assert acknowledged, "the server acknowledged nothing before the fault"
    assert stored(settings) == 0
    assert list(settings.trace_spool_dir.glob("*.seg"))

    again = ServerProcess(log).wait_healthy()  # replays the spool before it serves
    try:
        assert_all_present(settings, acknowledged)
        assert not list(settings.trace_spool_dir.glob("*.seg"))
    finally:
        again.stop()


def test_kill_9_from_outside_with_spans_queued_loses_none(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    proc = ServerProcess(log, RIPPLE_TRACE_BATCH_WAIT_MS="60000").wait_healthy()
    acknowledged = send_then_die(proc.url, exports=3)
    proc.proc.send_signal(signal.SIGKILL)
    proc.proc.wait(10)
    assert len(acknowledged) == 15 and stored(settings) == 0

    again = ServerProcess(log).wait_healthy()
    try:
        assert_all_present(settings, acknowledged)
        # a second delivery of the same spans (the client never heard back) changes nothing
        more = sdk_spans(traces=1, children=2)
        assert httpx.post(f"{again.url}/v1/traces", content=protobuf_export(more), headers=PB).status_code == 200
        assert wait_stored(settings, 48) == 48
    finally:
        again.stop()
