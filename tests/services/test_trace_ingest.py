"""The trace ingest queue and its batched writer, on SQLite and PostgreSQL: spans from the
in-process ``Tracing`` land in ``spans`` and ``traces`` after ``flush``; duplicates are
stored once; a full queue refuses OTLP rows and drops (and counts) in-process spans; a
graceful close drains the queue; the spool is replayed after a crash."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from rippleops.domain.otlp import span_row, spool_record
from rippleops.errors import BusyError, NotFoundError
from rippleops.runtime.tracing import (
    APP,
    COST_TOTAL,
    INPUT_VALUE,
    LLM,
    OUTPUT_VALUE,
    TOKENS_COMPLETION,
    TOKENS_PROMPT,
)
from rippleops.services import Services
from rippleops.settings import Settings, get_settings
from rippleops.store.models import Span, Trace


def spans_of(services: Services, trace_id: str | None = None) -> list[Span]:
    with services.db.reading() as s:
        q = select(Span).order_by(Span.start_ns)
        if trace_id:
            q = q.where(Span.trace_id == trace_id)
        found = list(s.execute(q).scalars())
        s.expunge_all()  # keep them loaded after the read session's rollback
        return found


def trace_of(services: Services, trace_id: str) -> Trace:
    with services.db.reading() as s:
        found = s.execute(select(Trace).where(Trace.trace_id == trace_id)).scalar_one()
        s.expunge_all()
        return found


def count(services: Services, model: type[Any]) -> int:
    with services.db.reading() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def row(trace: str, span: str, parent: str | None = None, **attrs: Any) -> dict[str, Any]:
    status = attrs.pop("_status", "ok")
    start = attrs.pop("_start", 1_000_000_000)
    return span_row(trace, span, parent, f"span-{span[-2:]}", start, start + 2_000_000, status, "", "svc", attrs, [])


def test_in_process_spans_land_in_the_tables_after_flush(services: Services) -> None:
    tracing = services.trace_ingest.tracing("default")
    assert services.trace_ingest.tracing("default") is tracing  # cached per project
    with tracing.span("app/support-bot:3", attributes={APP: "app/support-bot:3", INPUT_VALUE: "hi"}) as root:
        with tracing.span("generate", kind=LLM, attributes={TOKENS_PROMPT: 12, TOKENS_COMPLETION: 5}) as llm:
            llm.set_attribute(COST_TOTAL, 0.25)
        with tracing.span("generate again", kind=LLM, attributes={TOKENS_PROMPT: 3, TOKENS_COMPLETION: 1}):
            pass
        root.set_attribute(OUTPUT_VALUE, "hello")
    services.trace_ingest.flush()

    trace_id = format(root.get_span_context().trace_id, "032x")
    spans = spans_of(services, trace_id)
    assert [s.name for s in spans] == ["app/support-bot:3", "generate", "generate again"]
    assert spans[0].parent_id is None and spans[1].parent_id == spans[0].span_id
    assert spans[0].kind == "CHAIN" and spans[1].kind == "LLM"
    assert spans[0].attributes[INPUT_VALUE] == "hi" and spans[0].attributes["ripple.project"] == "default"
    assert spans[0].service_name == "ripple" and spans[0].status == "unset"
    assert spans[0].duration_ms == pytest.approx((spans[0].end_ns - spans[0].start_ns) / 1e6)

    t = trace_of(services, trace_id)
    assert (t.name, t.app, t.app_version, t.span_count, t.has_root) == ("app/support-bot:3", "support-bot", 3, 3, 1)
    assert (t.prompt_tokens, t.completion_tokens, t.cost) == (15, 6, 0.25)
    assert (t.input_preview, t.output_preview, t.status) == ("hi", "hello", "unset")
    assert t.start_ns == spans[0].start_ns and t.end_ns == spans[0].end_ns
    assert t.duration_ms == pytest.approx(spans[0].duration_ms)


def test_a_failed_child_marks_the_trace_error_and_late_roots_fill_the_summary(services: Services) -> None:
    ingest = services.trace_ingest
    trace = "a1" * 16
    # the children first, in two batches, then the root: the summary merges them all
    ingest.ingest(
        "default", [row(trace, "00000000000000c1", "00000000000000r0".replace("r", "f"), _start=2_000_000_000)]
    )
    ingest.flush()
    t = trace_of(services, trace)
    assert (t.span_count, t.has_root, t.name, t.status) == (1, 0, "", "unset")
    assert t.duration_ms == pytest.approx(2.0)
    ingest.ingest(
        "default", [row(trace, "00000000000000c2", "00000000000000f0", _status="error", _start=3_000_000_000)]
    )
    ingest.flush()
    t = trace_of(services, trace)
    assert (t.span_count, t.status) == (2, "error")
    assert t.duration_ms == pytest.approx(1002.0)  # end - start while the root is missing
    ingest.ingest("default", [row(trace, "00000000000000f0", None, _start=1_000_000_000, **{INPUT_VALUE: "q" * 900})])
    ingest.flush()
    t = trace_of(services, trace)
    assert (t.span_count, t.has_root, t.name, t.status) == (3, 1, "span-f0", "error")  # error stays
    assert t.duration_ms == pytest.approx(2.0)  # the root's own duration
    assert t.start_ns == 1_000_000_000 and t.end_ns == 3_002_000_000
    assert t.input_preview == "q" * 500


def test_duplicates_are_stored_once_and_counted_once(services: Services) -> None:
    ingest = services.trace_ingest
    trace = "b2" * 16
    rows = [row(trace, "00000000000000a1", **{TOKENS_PROMPT: 4, "openinference.span.kind": "LLM"})]
    ingest.ingest("default", [*rows, dict(rows[0], attributes=dict(rows[0]["attributes"]))])  # twice in one batch
    ingest.flush()
    ingest.ingest("default", [row(trace, "00000000000000a1", **{TOKENS_PROMPT: 4, "openinference.span.kind": "LLM"})])
    ingest.flush()
    assert len(spans_of(services, trace)) == 1
    t = trace_of(services, trace)
    assert (t.span_count, t.prompt_tokens) == (1, 4)
    assert ingest.stats.written == 1 and ingest.stats.duplicates == 2


def test_an_unknown_project_is_a_clear_error(services: Services) -> None:
    with pytest.raises(NotFoundError, match="project 'nope' does not exist; create it with `ripple project create"):
        services.trace_ingest.tracing("nope")
    with pytest.raises(NotFoundError, match="nope"):
        services.trace_ingest.ingest("nope", [row("c3" * 16, "00000000000000a1")])


def full_queue_services(monkeypatch: pytest.MonkeyPatch, settings: Settings, size: int) -> Services:
    """Services whose queue holds ``size`` spans, with the writer held until released."""
    monkeypatch.setenv("RIPPLE_TRACE_QUEUE_SPANS", str(size))
    get_settings.cache_clear()
    return Services(get_settings())


def hold_writer(services: Services) -> threading.Event:
    """Block the writer inside its next batch (a real lock on the real database) until set."""
    release = threading.Event()
    original = services.trace_ingest._write

    def slow(batch: Any) -> None:
        release.wait(30)
        original(batch)

    services.trace_ingest._write = slow  # type: ignore[method-assign]
    return release


def test_a_full_queue_refuses_otlp_rows_and_counts_dropped_process_spans(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = full_queue_services(monkeypatch, settings, 3)
    try:
        release = hold_writer(services)
        ingest = services.trace_ingest
        ingest.ingest("default", [row("d4" * 16, f"00000000000000a{i}") for i in range(3)])
        with pytest.raises(BusyError, match=r"the trace queue is full \(3 of 3 spans.*retry in 1 s") as exc:
            ingest.ingest("default", [row("d4" * 16, "00000000000000b1")])
        assert exc.value.http_status == 429 and exc.value.retry_after_s == 1
        tracing = ingest.tracing("default")
        with tracing.span("dropped"):  # the app path goes on; the span is counted as dropped
            pass
        assert ingest.stats.dropped["queue_full"] == 1 and ingest.stats.rejected == 1
        release.set()
        ingest.flush()
        assert count(services, Span) == 3
        with tracing.span("kept"):  # room again
            pass
        ingest.flush()
        assert count(services, Span) == 4
    finally:
        services.close()


def test_close_drains_the_queue(settings: Settings) -> None:
    services = Services(settings)
    release = hold_writer(services)
    tracing = services.trace_ingest.tracing("default")
    for i in range(50):
        with tracing.span(f"s{i}"):
            pass
    release.set()
    services.close()  # no flush: close itself writes what is queued
    again = Services(settings)
    try:
        assert count(again, Span) == 50 and count(again, Trace) == 50
    finally:
        again.close()


def test_the_spool_left_by_a_killed_process_is_replayed_once(settings: Settings) -> None:
    """A segment written as by a server that died before its writer committed: the next
    ``open_spool`` writes its spans, deletes it, and replaying it again changes nothing."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
        pass
    body = encode_spans(exporter.get_finished_spans()).SerializeToString()

    dead = Services(settings)
    dead.trace_ingest.open_spool()
    assert dead.trace_ingest.spool is not None
    ticket = dead.trace_ingest.spool.append(spool_record("application/x-protobuf", None, body))
    ticket.file.close()  # the process "dies": its lock goes, the segment stays
    dead.trace_ingest.spool = None
    dead.close()

    services = Services(settings)
    try:
        assert services.trace_ingest.open_spool() == 2
        assert count(services, Span) == 2 and count(services, Trace) == 1
        assert not list(settings.trace_spool_dir.glob("*.seg"))
        assert services.trace_ingest.open_spool() == 0
    finally:
        services.close()
