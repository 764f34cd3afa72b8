"""Trace queries in the service layer (both databases): every filter, combined filters,
keyset pages, the attribute filter in SQL, tree order, and authorisation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rippleops.domain.access import Principal
from rippleops.errors import ForbiddenError, InvalidError, NotFoundError
from rippleops.services import Services
from trace_rows import SEC, SpanRow, insert_trace

T0 = 1_700_000_000 * SEC  # 2023-11-14T22:13:20Z, a fixed clock for the rows


def _ids(page: object) -> list[str]:
    return [t.trace_id for t in page.items]  # type: ignore[attr-defined]


@pytest.fixture
def corpus(services: Services) -> dict[str, str]:
    """Six traces a minute apart (t0 oldest): two apps, versions, statuses, latencies, attributes."""
    db = services.db
    llm = {"llm.model_name": "smollm2", "llm.token_count.prompt": 12, "llm.cost.total": 0.5, "ripple.cached": True}
    out = {
        "t0": insert_trace(db, start_ns=T0, app="support-bot", app_version=1, duration_ms=50.0),
        "t1": insert_trace(
            db,
            start_ns=T0 + 60 * SEC,
            app="support-bot",
            app_version=2,
            duration_ms=900.0,
            spans=[
                SpanRow("app/support-bot:2", parent=None),
                SpanRow("generate", kind="LLM", attributes=llm),
            ],
            prompt_tokens=12,
            completion_tokens=30,
            cost=0.5,
            input_preview="how do I roll back?",
        ),
        "t2": insert_trace(
            db,
            start_ns=T0 + 120 * SEC,
            app="support-bot",
            app_version=2,
            duration_ms=300.0,
            spans=[
                SpanRow("app/support-bot:2", parent=None),
                SpanRow("search", kind="RETRIEVER", attributes={"ripple.index": "index/docs:3"}),
                SpanRow("lookup", kind="TOOL", status="error", status_message="ValueError: boom", parent=1),
            ],
        ),
        "t3": insert_trace(db, start_ns=T0 + 180 * SEC, app="triage", app_version=1, duration_ms=20.0),
        "t4": insert_trace(
            db,
            start_ns=T0 + 240 * SEC,
            duration_ms=5.0,
            spans=[SpanRow("batch", parent=None, attributes={"llm.model_name": "other", "ripple.items": 3})],
        ),
        "t5": insert_trace(db, start_ns=T0 + 300 * SEC, app="support-bot", app_version=3, duration_ms=120.0),
    }
    return out


def test_latest_first_with_summary_fields(services: Services, admin: Principal, corpus: dict[str, str]) -> None:
    page = services.traces.list(admin, "default")
    assert _ids(page) == [corpus[f"t{i}"] for i in (5, 4, 3, 2, 1, 0)]
    assert page.next_cursor is None
    t1 = next(t for t in page.items if t.trace_id == corpus["t1"])
    assert (t1.app, t1.app_name, t1.app_version) == ("app/support-bot:2", "support-bot", 2)
    assert (t1.prompt_tokens, t1.completion_tokens, t1.total_tokens, t1.cost) == (12, 30, 42, 0.5)
    assert t1.input_preview == "how do I roll back?" and t1.span_count == 2 and t1.complete
    assert t1.start_time == datetime.fromtimestamp((T0 + 60 * SEC) / SEC, UTC)
    assert t1.duration_ms == 900.0 and t1.status == "ok"
    plain = next(t for t in page.items if t.trace_id == corpus["t4"])
    assert plain.app is None and plain.name == "batch"


def test_each_filter(services: Services, admin: Principal, corpus: dict[str, str]) -> None:
    def ids(**kw: object) -> list[str]:
        return _ids(services.traces.list(admin, "default", **kw))  # type: ignore[arg-type]

    c = corpus
    assert ids(app="support-bot") == [c["t5"], c["t2"], c["t1"], c["t0"]]
    assert ids(app="app/support-bot") == ids(app="support-bot")
    assert ids(app="support-bot:2") == [c["t2"], c["t1"]]
    assert ids(app="support-bot", version=1) == [c["t0"]]
    assert ids(app="triage") == [c["t3"]]
    assert ids(app="nobody") == []
    assert ids(status="error") == [c["t2"]]
    assert ids(status="OK") == [c["t5"], c["t4"], c["t3"], c["t1"], c["t0"]]
    assert ids(min_latency_ms=120) == [c["t5"], c["t2"], c["t1"]]
    assert ids(max_latency_ms=20) == [c["t4"], c["t3"]]
    assert ids(min_latency_ms=50, max_latency_ms=300) == [c["t5"], c["t2"], c["t0"]]
    start = datetime.fromtimestamp(T0 / SEC, UTC)
    assert ids(since=start + timedelta(seconds=200)) == [c["t5"], c["t4"]]
    assert ids(until=start + timedelta(seconds=60)) == [c["t1"], c["t0"]]
    assert ids(since=start + timedelta(seconds=60), until=start + timedelta(seconds=120)) == [c["t2"], c["t1"]]


def test_attribute_filter_runs_in_sql_on_both_databases(
    services: Services, admin: Principal, corpus: dict[str, str]
) -> None:
    def ids(attributes: dict[str, object]) -> list[str]:
        return _ids(services.traces.list(admin, "default", attributes=attributes))  # type: ignore[arg-type]

    c = corpus
    assert ids({"llm.model_name": "smollm2"}) == [c["t1"]]
    assert ids({"llm.model_name": "other"}) == [c["t4"]]
    assert ids({"ripple.index": "index/docs:3"}) == [c["t2"]]  # a child span matches for its trace
    assert ids({"llm.token_count.prompt": 12}) == [c["t1"]]  # numbers compare as text
    assert ids({"llm.token_count.prompt": "12"}) == [c["t1"]]
    assert ids({"llm.cost.total": "0.5"}) == [c["t1"]]
    assert ids({"ripple.cached": True}) == [c["t1"]]  # booleans as true/false on both
    assert ids({"ripple.cached": "true"}) == [c["t1"]]
    assert ids({"ripple.items": 3}) == [c["t4"]]
    assert ids({"openinference.span.kind": "TOOL"}) == [c["t2"]]
    assert ids({"llm.model_name": "smollm2", "ripple.cached": "false"}) == []  # every filter must hold
    assert ids({"no.such.key": "x"}) == []
    assert services.traces.list(admin, "default", attributes=["llm.model_name=smollm2"]).items  # type: ignore[arg-type]


def test_combined_filters(services: Services, admin: Principal, corpus: dict[str, str]) -> None:
    page = services.traces.list(
        admin,
        "default",
        app="support-bot",
        version=2,
        status="ok",
        min_latency_ms=500,
        since=datetime.fromtimestamp(T0 / SEC, UTC),
        attributes={"llm.model_name": "smollm2"},
    )
    assert _ids(page) == [corpus["t1"]]
    assert not services.traces.list(admin, "default", app="triage", attributes={"llm.model_name": "smollm2"}).items


def test_label_resolves_to_the_app_version(services: Services, admin: Principal, corpus: dict[str, str]) -> None:
    for n in (1, 2):
        services.assets.register(admin, "default", "app", "support-bot", {"steps": [n]})
    services.labels.set(admin, "default", "app/support-bot", "production", 2)
    assert _ids(services.traces.list(admin, "default", app="support-bot@production")) == [corpus["t2"], corpus["t1"]]
    with pytest.raises(NotFoundError, match="no label 'staging'"):
        services.traces.list(admin, "default", app="support-bot@staging")


@pytest.mark.parametrize("filtered", [False, True])
def test_cursor_pages_cover_everything_once(services: Services, admin: Principal, filtered: bool) -> None:
    # ties on the start time too: the cursor breaks them by row id
    made = [insert_trace(services.db, start_ns=T0 + (i // 3) * SEC, app="bot", app_version=1) for i in range(23)]
    kw = {"app": "bot", "status": "ok"} if filtered else {}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = services.traces.list(admin, "default", limit=5, cursor=cursor, **kw)  # type: ignore[arg-type]
        seen += _ids(page)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 5 and sorted(seen) == sorted(made) and len(seen) == 23
    starts = [t.start_ns for t in services.traces.list(admin, "default", limit=23).items]
    assert starts == sorted(starts, reverse=True)


def test_get_returns_every_span_in_tree_order(services: Services, admin: Principal) -> None:
    spans = [
        SpanRow("app/support-bot:2", parent=None),
        SpanRow("retrieve", kind="RETRIEVER", offset_ms=1, attributes={"retrieval.documents": '[{"id": 1}]'}),
        SpanRow("generate", kind="LLM", offset_ms=5, attributes={"llm.token_count.prompt": 7}),
        SpanRow("embed", kind="EMBEDDING", offset_ms=2, parent=1),
        SpanRow("tool", kind="TOOL", offset_ms=0, status="error", status_message="KeyError: 'x'", parent=2),
    ]
    spans[4].events = [{"name": "exception", "time_ns": 1, "attributes": {"exception.type": "KeyError"}}]
    tid = insert_trace(services.db, start_ns=T0, app="support-bot", app_version=2, spans=spans, duration_ms=40)
    trace = services.traces.get(admin, "default", tid.upper())  # ids are case-insensitive
    assert trace.trace_id == tid and trace.app == "app/support-bot:2" and trace.status == "error"
    assert [s.name for s in trace.spans] == ["app/support-bot:2", "retrieve", "embed", "generate", "tool"]
    root = trace.spans[0]
    assert root.parent_id is None and root.kind == "CHAIN" and root.duration_ms == 40
    by_name = {s.name: s for s in trace.spans}
    assert by_name["embed"].parent_id == by_name["retrieve"].span_id
    assert by_name["tool"].status == "error" and by_name["tool"].status_message == "KeyError: 'x'"
    assert by_name["tool"].events[0]["attributes"]["exception.type"] == "KeyError"
    assert by_name["generate"].attributes["llm.token_count.prompt"] == 7
    assert by_name["retrieve"].start_ns == T0 + 1_000_000
    assert by_name["retrieve"].end_time - by_name["retrieve"].start_time == timedelta(milliseconds=1)
    assert trace.model_dump(mode="json")["spans"][0]["start_time"].startswith("2023-11-14T22:13:20")


def test_bad_input_is_refused_clearly(services: Services, admin: Principal) -> None:
    t = services.traces
    with pytest.raises(InvalidError, match="32 hexadecimal"):
        t.get(admin, "default", "not-a-trace")
    with pytest.raises(NotFoundError, match="ripple trace list"):
        t.get(admin, "default", "0" * 32)
    with pytest.raises(InvalidError, match=r"status 'broken'.*ok, error, unset"):
        t.list(admin, "default", status="broken")
    with pytest.raises(InvalidError, match="give the app too"):
        t.list(admin, "default", version=2)
    with pytest.raises(InvalidError, match="names version 2 but version=3"):
        t.list(admin, "default", app="bot:2", version=3)
    with pytest.raises(InvalidError, match="limit must be between 1 and 500"):
        t.list(admin, "default", limit=0)
    with pytest.raises(InvalidError, match="page cursor is not valid"):
        t.list(admin, "default", cursor="garbage!")
    with pytest.raises(InvalidError, match="above max_latency_ms"):
        t.list(admin, "default", min_latency_ms=10, max_latency_ms=5)
    with pytest.raises(InvalidError, match=r"since .* is after until"):
        now = datetime.now(UTC)
        t.list(admin, "default", since=now, until=now - timedelta(hours=1))
    with pytest.raises(InvalidError, match="not key=value"):
        t.list(admin, "default", attributes=["llm.model_name"])  # type: ignore[arg-type]
    with pytest.raises(InvalidError, match="without double quotes"):
        t.list(admin, "default", attributes={'a"b': "x"})
    with pytest.raises(InvalidError, match="malformed"):
        t.list(admin, "default", app="a/b/c")
    with pytest.raises(NotFoundError, match="project 'nope' does not exist"):
        t.list(admin, "nope")


def test_a_trace_is_found_by_an_unambiguous_prefix(services: Services, admin: Principal) -> None:
    a = insert_trace(services.db, trace_id="abcdef0123456789" + "0" * 16)
    insert_trace(services.db, trace_id="abcdef0199999999" + "0" * 16)
    t = services.traces
    assert t.get(admin, "default", "abcdef0123").trace_id == a
    assert t.get(admin, "default", a.upper()).trace_id == a
    with pytest.raises(InvalidError, match="starts more than one trace id"):
        t.get(admin, "default", "abcdef01")
    with pytest.raises(NotFoundError, match="no trace id in project 'default' starts with 12345678"):
        t.get(admin, "default", "12345678")
    with pytest.raises(InvalidError, match="at least its first 8"):
        t.get(admin, "default", "abcdef0")


def test_a_project_the_caller_cannot_read(services: Services, admin: Principal) -> None:
    services.projects.create(admin, "secret-lab")
    tid = insert_trace(services.db, "secret-lab", start_ns=T0, app="bot", app_version=1)
    insert_trace(services.db, "default", start_ns=T0, app="bot", app_version=1)
    services.access.create_user(admin, "oscar")
    services.access.grant(admin, "default", "oscar", "viewer")
    oscar = services.access.authenticate(services.access.create_token(admin, user="oscar").token or "")
    assert len(services.traces.list(oscar, "default").items) == 1  # a viewer reads traces
    with pytest.raises(ForbiddenError, match="oscar has no role in project 'secret-lab'"):
        services.traces.list(oscar, "secret-lab")
    with pytest.raises(ForbiddenError):
        services.traces.get(oscar, "secret-lab", tid)
    with pytest.raises(NotFoundError):  # a trace of another project is not found here
        services.traces.get(admin, "default", tid)
    assert _ids(services.traces.list(admin, "secret-lab")) == [tid]
