"""``POST /v1/traces`` in-process (TestClient, lifespan included), on SQLite and PostgreSQL:
OTLP/protobuf and OTLP/JSON, gzip, the project rules, partial success, duplicates, the
errors (400, 401, 404, 413, 415, 429 + Retry-After) and the ingest counters on /metrics."""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import func, select

from otlp_data import json_export, json_span, protobuf_export, sdk_spans, trace_ids
from rippleops.server import create_app
from rippleops.services import Services
from rippleops.settings import Settings, get_settings
from rippleops.store.models import Project, Span, Trace

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


def stored(services: Services, model: type[Any] = Span, **where: Any) -> int:
    with services.db.reading() as s:
        q = select(func.count()).select_from(model)
        for key, value in where.items():
            q = q.where(getattr(model, key) == value)
        return int(s.execute(q).scalar_one())


def project_id(services: Services, name: str) -> int:
    with services.db.reading() as s:
        return int(s.execute(select(Project.id).where(Project.name == name)).scalar_one())


def test_protobuf_export_plain_and_gzip_lands_in_the_tables(client: TestClient, services: Services) -> None:
    spans = sdk_spans(traces=2, children=2)
    r = client.post("/v1/traces", content=protobuf_export(spans), headers=PB)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse()
    response.ParseFromString(r.content)
    assert not response.HasField("partial_success")

    more = sdk_spans(traces=1, children=3)
    r = client.post(
        "/v1/traces", content=gzip.compress(protobuf_export(more)), headers={**PB, "Content-Encoding": "gzip"}
    )
    assert r.status_code == 200, r.text
    services.trace_ingest.flush()
    assert stored(services) == 6 + 4 and stored(services, Trace) == 3
    with services.db.reading() as s:
        traces = {t.trace_id: t for t in s.execute(select(Trace)).scalars()}
        assert set(traces) == trace_ids(spans) | trace_ids(more)
        t = traces[next(iter(trace_ids(more)))]
        assert (t.name, t.span_count, t.service_name, t.prompt_tokens, t.completion_tokens) == (
            "root-0",
            4,
            "test-svc",
            30,
            6,
        )
        assert (t.input_preview, t.output_preview) == ("question 0", "answer 0")


def test_json_export_maps_genai_and_openinference_spans(client: TestClient, services: Services) -> None:
    trace = "0af7651916cd43dd8448eb211c80319c"
    genai = json_span(
        trace, "b7ad6b7169203331", "chat gpt-4o",
        {
            "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
        },
        parentSpanId="00f067aa0ba902b7",
        events=[
            {"timeUnixNano": "1700000000100000000", "name": "gen_ai.user.message",
             "attributes": [{"key": "content", "value": {"stringValue": "What is Ripple?"}}]},
            {"timeUnixNano": "1700000000200000000", "name": "gen_ai.choice",
             "attributes": [{"key": "message", "value": {"stringValue": "A platform."}}]},
        ],
    )  # fmt: skip
    openinference = json_span(
        trace, "00f067aa0ba902b7", "agent",
        {
            "openinference.span.kind": "AGENT", "input.value": "What is Ripple?", "output.value": "A platform.",
            "llm.model_name": "ignored-for-kind", "llm.token_count.prompt": 5, "llm.cost.total": 0.5,
        },
    )  # fmt: skip
    r = client.post("/v1/traces", content=json_export([genai, openinference]), headers=JS)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.json() == {}
    services.trace_ingest.flush()
    with services.db.reading() as s:
        rows = {x.span_id: x for x in s.execute(select(Span)).scalars()}
        llm, agent = rows["b7ad6b7169203331"], rows["00f067aa0ba902b7"]
        assert llm.kind == "LLM" and llm.parent_id == "00f067aa0ba902b7" and llm.service_name == "json-svc"
        a = llm.attributes
        assert a["llm.model_name"] == "gpt-4o-2024-08-06" and a["gen_ai.request.model"] == "gpt-4o"  # raw kept
        assert (a["llm.token_count.prompt"], a["llm.token_count.completion"], a["llm.system"]) == (120, 30, "openai")
        assert (a["input.value"], a["output.value"]) == ("What is Ripple?", "A platform.")
        assert llm.events[0]["name"] == "gen_ai.user.message" and llm.duration_ms == pytest.approx(250.0)
        assert agent.kind == "AGENT" and agent.parent_id is None and agent.status == "ok"
        t = s.execute(select(Trace)).scalar_one()
        # tokens and cost are summed over LLM spans only (the agent's are its children's)
        assert (t.name, t.prompt_tokens, t.completion_tokens, t.cost, t.status) == ("agent", 120, 30, 0.0, "ok")
        assert (t.input_preview, t.output_preview) == ("What is Ripple?", "A platform.")


def test_the_project_comes_from_the_header_then_the_resource_then_default(
    client: TestClient, services: Services, admin_token: str
) -> None:
    assert client.post("/api/v1/projects", json={"name": "support"}).status_code in (200, 201)
    assert client.post("/api/v1/projects", json={"name": "other"}).status_code in (200, 201)
    export = protobuf_export(sdk_spans(resource={"ripple.project": "support"}))
    assert client.post("/v1/traces", content=export, headers=PB).status_code == 200
    export = protobuf_export(sdk_spans(resource={"ripple.project": "support"}))
    assert client.post("/v1/traces", content=export, headers={**PB, "X-Ripple-Project": "other"}).status_code == 200
    assert client.post("/v1/traces", content=protobuf_export(sdk_spans()), headers=PB).status_code == 200
    services.trace_ingest.flush()
    for name in ("support", "other", "default"):
        assert stored(services, project_id=project_id(services, name)) == 3, name

    r = client.post("/v1/traces", content=protobuf_export(sdk_spans(resource={"ripple.project": "nope"})), headers=PB)
    assert r.status_code == 404 and "project 'nope' does not exist" in r.json()["error"]["message"]
    r = client.post("/v1/traces", content=export, headers={**PB, "X-Ripple-Project": "Bad Name!"})
    assert r.status_code == 422 and "X-Ripple-Project" in r.json()["error"]["message"]


def test_bad_ids_are_rejected_in_a_partial_success(client: TestClient, services: Services) -> None:
    good = json_span("1" * 32, "2" * 16, "good", {})
    zero = json_span("0" * 32, "3" * 16, "zero trace", {})
    short = json_span("4" * 32, "55", "short span", {})
    r = client.post("/v1/traces", content=json_export([good, zero, short]), headers=JS)
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2" and "'zero trace': traceId must be 16 bytes" in partial["errorMessage"]
    spans = sdk_spans(traces=1, children=0)
    r = client.post("/v1/traces", content=protobuf_export(spans), headers=PB)
    services.trace_ingest.flush()
    assert stored(services) == 2


def test_a_duplicate_delivery_is_stored_once(client: TestClient, services: Services) -> None:
    export = protobuf_export(sdk_spans(traces=3, children=1))
    for _ in range(3):
        assert client.post("/v1/traces", content=export, headers=PB).status_code == 200
        services.trace_ingest.flush()
    assert stored(services) == 6
    with services.db.reading() as s:
        assert {t.span_count for t in s.execute(select(Trace)).scalars()} == {2}
    metrics = client.get("/metrics").text
    assert "ripple_trace_spans_written_total 6.0" in metrics
    assert "ripple_trace_spans_duplicate_total 12.0" in metrics
    assert 'ripple_trace_spans_received_total{source="otlp"} 18.0' in metrics


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"\xff\xff\xff\xff not protobuf", PB, 400, "not an OTLP ExportTraceServiceRequest in protobuf"),
        (b'{"resourceSpans": [', JS, 400, "the body is not valid JSON"),
        (b'{"resourceSpans": {}}', JS, 400, '"resourceSpans" list'),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + b"1" * 32 + b'", "spanId": "'
         + b"2" * 16 + b'", "startTimeUnixNano": "soon"}]}]}]}', JS, 400, "'soon' is not an integer"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "takes application/x-protobuf or application/json"),
        (b"{}", {**JS, "Content-Encoding": "br"}, 415, "Content-Encoding 'br' is not taken"),
        (b"not gzip at all", {**PB, "Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (gzip.compress(b"x" * 100)[:-10], {**PB, "Content-Encoding": "gzip"}, 400, "truncated"),
    ],
)  # fmt: skip
def test_malformed_payloads_get_a_clear_error(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    r = client.post("/v1/traces", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]


@pytest.fixture
def small_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """An app whose trace payload limit is 4 KiB and whose queue holds 4 spans."""
    monkeypatch.setenv("RIPPLE_MAX_TRACE_PAYLOAD_BYTES", "4096")
    monkeypatch.setenv("RIPPLE_TRACE_QUEUE_SPANS", "4")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings())) as c:
        yield c


def test_oversize_payloads_get_413_compressed_or_not(small_client: TestClient) -> None:
    big = json_export([json_span("1" * 32, "2" * 16, "big", {"input.value": "x" * 8000})])
    r = small_client.post("/v1/traces", content=big, headers=JS)
    assert r.status_code == 413 and "RIPPLE_MAX_TRACE_PAYLOAD_BYTES" in r.json()["error"]["message"]
    bomb = gzip.compress(big)  # small on the wire, over the limit once inflated
    assert len(bomb) < 4096
    r = small_client.post("/v1/traces", content=bomb, headers={**JS, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "decompressed body is over 4096 bytes" in r.json()["error"]["message"]
    # the rest of the API keeps its own limit (1 MiB), so a 8 KB prompt is fine there
    r = small_client.post("/api/v1/projects/default/prompts/p", json={"template": "y" * 8000})
    assert r.status_code in (200, 201)


def test_a_full_queue_answers_429_with_retry_after_and_counts_it(small_client: TestClient) -> None:
    services: Services = small_client.app.state.services  # type: ignore[attr-defined]
    release = __import__("threading").Event()
    original = services.trace_ingest._write
    services.trace_ingest._write = lambda batch: (release.wait(30), original(batch))[1]  # type: ignore[method-assign]
    assert small_client.post("/v1/traces", content=protobuf_export(sdk_spans(1, 2)), headers=PB).status_code == 200
    r = small_client.post("/v1/traces", content=protobuf_export(sdk_spans(1, 2)), headers=PB)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["type"] == "BusyError" and "the trace queue is full (3 of 4 spans" in r.text
    metrics = small_client.get("/metrics").text
    assert "ripple_trace_spans_rejected_total 3.0" in metrics and "ripple_trace_queue_spans 3.0" in metrics
    assert "ripple_trace_queue_capacity_spans 4.0" in metrics
    release.set()
    services.trace_ingest.flush()
    assert small_client.post("/v1/traces", content=protobuf_export(sdk_spans(1, 2)), headers=PB).status_code == 200
    services.trace_ingest.flush()
    metrics = small_client.get("/metrics").text
    assert "ripple_trace_spans_written_total 6.0" in metrics and "ripple_trace_batch_write_seconds_count" in metrics


def test_auth_applies_as_on_the_rest_of_the_api(auth_client: TestClient, admin_token: str) -> None:
    export = protobuf_export(sdk_spans())
    r = auth_client.post("/v1/traces", content=export, headers=PB)
    assert r.status_code == 401 and "requires an API token" in r.json()["error"]["message"]
    r = auth_client.post("/v1/traces", content=export, headers={**PB, "Authorization": "Bearer rpl_nope"})
    assert r.status_code == 401
    r = auth_client.post("/v1/traces", content=export, headers={**PB, "Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200


def test_a_viewer_cannot_send_traces(client: TestClient, services: Services) -> None:
    assert client.post("/api/v1/users", json={"name": "vic"}).status_code in (200, 201)
    assert client.put("/api/v1/projects/default/members/vic", json={"role": "viewer"}).status_code in (200, 201)
    token = client.post("/api/v1/tokens", json={"user": "vic"}).json()["token"]
    r = client.post(
        "/v1/traces", content=protobuf_export(sdk_spans()), headers={**PB, "Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 403 and "needs engineer" in r.json()["error"]["message"]
    assert json.loads(client.get("/healthz").text)["status"] == "ok"
