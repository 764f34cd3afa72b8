"""``rp.traces`` and ``rp.trace`` on both transports (embedded, and remote against a real
server whose spans arrive over OTLP/HTTP), on SQLite and PostgreSQL.

Spans of ``rp.trace`` go through the real path each time: the ingest queue and batched
writer (embedded), or OpenTelemetry's OTLP exporter to ``POST /v1/traces`` (remote); the
tests then read them back through the query API."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from rippleops import Client, ForbiddenError, InvalidError, NotFoundError
from rippleops.domain.records import SpanRecord, TraceRecord
from rippleops.settings import Settings
from rippleops.store.db import Database
from trace_rows import SEC, SpanRow, insert_trace


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    d = Database(settings.resolved_database_url)
    yield d
    d.dispose()


def _stored(rp: Client, trace_id: str | None, spans: int, timeout: float = 15.0) -> TraceRecord:
    """The trace once ``spans`` of it are stored. Embedded, ``flush`` waits for the writer;
    remote, it waits until the server has the spans, which it then writes in its next batch."""
    assert trace_id is not None
    rp.traces.flush()
    deadline = time.monotonic() + timeout
    while True:
        try:
            trace = rp.traces.get(trace_id)
            if len(trace.spans) >= spans and trace.complete:
                return trace
        except NotFoundError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"trace {trace_id} has {len(trace.spans)} spans, expected {spans}")
        time.sleep(0.05)


def _by_name(trace: TraceRecord) -> dict[str, SpanRecord]:
    return {s.name: s for s in trace.spans}


def test_list_and_get(rp: Client, db: Database) -> None:
    t0 = 1_700_000_000 * SEC  # 2023-11-14T22:13:20Z
    a = insert_trace(db, start_ns=t0, app="bot", app_version=1, duration_ms=10)
    b = insert_trace(
        db,
        start_ns=t0 + SEC,
        app="bot",
        app_version=2,
        duration_ms=800,
        spans=[
            SpanRow("app/bot:2", parent=None),
            SpanRow("gen", kind="LLM", attributes={"llm.model_name": "m", "ripple.cached": True}),
        ],
    )
    c = insert_trace(db, start_ns=t0 + 2 * SEC, duration_ms=5)
    page = rp.traces.list()
    assert [t.trace_id for t in page.items] == [c, b, a]
    assert page.items[1].app == "app/bot:2" and page.items[1].span_count == 2
    assert [t.trace_id for t in rp.traces.list(app="bot:1").items] == [a]
    assert [t.trace_id for t in rp.traces.list(app="bot", version=2).items] == [b]
    assert [t.trace_id for t in rp.traces.list(min_latency_ms=100).items] == [b]
    assert [t.trace_id for t in rp.traces.list(attributes={"llm.model_name": "m"}).items] == [b]
    assert [t.trace_id for t in rp.traces.list(attributes={"ripple.cached": True}).items] == [b]
    assert rp.traces.list(attributes={"ripple.cached": False}).items == []
    assert [t.trace_id for t in rp.traces.list(since="2023-11-14T22:13:21Z").items] == [c, b]
    assert rp.traces.list(since="1h").items == []  # the rows are from 2023
    first = rp.traces.list(limit=2)
    rest = rp.traces.list(limit=2, cursor=first.next_cursor)
    assert [t.trace_id for t in first.items + rest.items] == [c, b, a] and rest.next_cursor is None
    assert [t.trace_id for t in rp.traces.iter(page_size=1)] == [c, b, a]
    trace = rp.traces.get(b)
    assert [s.name for s in trace.spans] == ["app/bot:2", "gen"] and trace.spans[1].attributes["llm.model_name"] == "m"
    with pytest.raises(NotFoundError, match="ripple trace list"):
        rp.traces.get("f" * 32)
    with pytest.raises(InvalidError, match="32 hexadecimal"):
        rp.traces.get("nope")
    with pytest.raises(InvalidError, match="status 'bad'"):
        rp.traces.list(status="bad")
    with pytest.raises(InvalidError, match="not a duration or a time"):
        rp.traces.list(since="last tuesday")


def test_decorator_inside_context_manager(rp: Client) -> None:
    @rp.trace(kind="TOOL")
    def lookup(query: str) -> str:
        return query.upper()

    @rp.trace(name="count", attributes={"ripple.step": "count"})
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    with rp.trace("answer", attributes={"user.id": "u-1"}) as span:
        span.set_attribute("input.value", "hi")
        assert lookup("hi") == "HI"
        assert list(numbers(3)) == [0, 1, 2]
        rp.trace.set_attributes(span, {"ripple.meta": {"k": [1, 2]}})
    trace = _stored(rp, rp.trace.trace_id(span), 3)
    spans = _by_name(trace)
    root, tool, gen = spans["answer"], spans["test_decorator_inside_context_manager.<locals>.lookup"], spans["count"]
    assert root.parent_id is None and trace.spans[0] is not None and trace.spans[0].name == "answer"
    assert tool.parent_id == root.span_id and gen.parent_id == root.span_id
    assert tool.kind == "TOOL" and tool.attributes["input.value"] == "hi" and tool.attributes["output.value"] == "HI"
    assert gen.attributes["ripple.items"] == 3 and gen.attributes["ripple.step"] == "count"
    assert root.attributes["user.id"] == "u-1" and root.attributes["ripple.meta"] == '{"k":[1,2]}'
    assert trace.status != "error" and trace.input_preview == "hi"
    listed = rp.traces.list(attributes={"user.id": "u-1"}).items
    assert [t.trace_id for t in listed] == [trace.trace_id]


def test_spans_nest_across_asyncio_tasks(rp: Client) -> None:
    @rp.trace
    async def step(i: int) -> int:
        await asyncio.sleep(0.01 * (3 - i))  # finish in reverse order
        with rp.trace(f"inner-{i}"):
            await asyncio.sleep(0)
        return i * 2

    async def main() -> tuple[list[int], str | None]:
        async with rp.trace("fan-out") as span:
            results = await asyncio.gather(*(step(i) for i in range(3)))
        return list(results), rp.trace.trace_id(span)

    results, tid = asyncio.run(main())
    assert results == [0, 2, 4]
    trace = _stored(rp, tid, 7)
    root = _by_name(trace)["fan-out"]
    steps = [s for s in trace.spans if s.name.endswith("step")]
    assert len(steps) == 3 and all(s.parent_id == root.span_id for s in steps)
    by_input = {s.attributes["input.value"]: s for s in steps}
    for i in range(3):
        inner = _by_name(trace)[f"inner-{i}"]
        assert inner.parent_id == by_input[i].span_id  # each task's inner span under its own step
        assert by_input[i].attributes["output.value"] == i * 2


def test_spans_nest_across_threads_with_propagate(rp: Client) -> None:
    @rp.trace(kind="TOOL")
    def work(i: int) -> str:
        return f"{threading.current_thread().name}:{i}"

    with rp.trace("pool") as span, ThreadPoolExecutor(2) as pool:
        done = list(pool.map(rp.trace.propagate(work), range(4)))
    assert len(done) == 4
    trace = _stored(rp, rp.trace.trace_id(span), 5)
    root = _by_name(trace)["pool"]
    workers = [s for s in trace.spans if s.kind == "TOOL"]
    assert len(workers) == 4 and {s.parent_id for s in workers} == {root.span_id}
    assert sorted(s.attributes["input.value"] for s in workers) == [0, 1, 2, 3]

    # without propagate a thread starts from an empty context: its span is a trace of its own
    with rp.trace("lonely") as alone, ThreadPoolExecutor(1) as pool:
        pool.submit(work, 9).result()
    trace = _stored(rp, rp.trace.trace_id(alone), 1)
    assert [s.name for s in trace.spans] == ["lonely"]


def test_exceptions_are_recorded_as_errors(rp: Client) -> None:
    @rp.trace
    def explode(x: int) -> int:
        raise ValueError(f"bad value {x}")

    # the with block records the exception and re-raises it
    with pytest.raises(RuntimeError, match="stop"), rp.trace("outer") as span:
        with pytest.raises(ValueError, match="bad value 3"):
            explode(3)
        raise RuntimeError("stop")
    trace = _stored(rp, rp.trace.trace_id(span), 2)
    assert trace.status == "error"
    outer = _by_name(trace)["outer"]
    child = next(s for s in trace.spans if s.name.endswith("explode"))
    assert child.status == "error" and "ValueError: bad value 3" in child.status_message
    assert any(e.get("name") == "exception" for e in child.events)
    assert outer.status == "error" and "RuntimeError: stop" in outer.status_message
    assert [t.trace_id for t in rp.traces.list(status="error").items] == [trace.trace_id]


def test_bad_use_of_rp_trace_is_refused(rp: Client) -> None:
    with pytest.raises(InvalidError, match="span kind 'WIDGET' is not known"):
        rp.trace("x", kind="WIDGET")
    with pytest.raises(InvalidError, match="a function or a span name"):
        rp.trace(42)  # type: ignore[call-overload]
    assert rp.trace.trace_id() is None  # outside any span


def test_spans_go_to_the_client_project(rp: Client) -> None:
    rp.projects.create("lab")
    with rp.trace("here") as span:
        pass
    tid = rp.trace.trace_id(span)
    assert _stored(rp, tid, 1).project == "default"
    assert rp.traces.list(project="lab").items == []
    with pytest.raises(NotFoundError):
        rp.traces.get(tid or "", project="lab")


def test_a_viewer_reads_traces_but_cannot_trace_embedded(rp: Client, settings: Settings) -> None:
    rp.users.create("vera")
    rp.roles.grant("vera", "viewer")
    token = rp.tokens.create(user="vera").token
    assert token
    vera = (
        Client(url=rp.transport.url, token=token, settings=settings)
        if rp.is_remote
        else Client(settings=settings, token=token)
    )
    try:
        with rp.trace("by alice") as span:
            pass
        tid = rp.trace.trace_id(span)
        _stored(rp, tid, 1)
        assert vera.traces.get(tid or "").name == "by alice"  # viewers read traces
        if not rp.is_remote:  # embedded refuses at once; remote spans are refused by the server (403)
            with pytest.raises(ForbiddenError, match="needs engineer"), vera.trace("by vera"):
                pass
    finally:
        vera.close()


def test_an_app_root_span_is_found_by_app_and_version(rp: Client) -> None:
    root = rp.trace("app/helper:2", attributes={"ripple.app": "app/helper:2", "input.value": "hello"})
    with root as span, rp.trace("generate", kind="LLM") as llm:
        rp.trace.set_attributes(llm, {"llm.token_count.prompt": 7, "llm.token_count.completion": 3})
    tid = rp.trace.trace_id(span)
    _stored(rp, tid, 2)
    found = rp.traces.list(app="helper:2").items
    assert [t.trace_id for t in found] == [tid]
    assert (found[0].app, found[0].total_tokens, found[0].input_preview) == ("app/helper:2", 10, "hello")
    assert rp.traces.list(app="helper", version=1).items == []
