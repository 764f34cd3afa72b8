"""Traces over REST (both databases): the list with every filter as query parameters,
relative and ISO times, repeatable ``attr``, cursor pages, one trace, errors, auth."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from rippleops.services import Services
from trace_rows import SEC, SpanRow, insert_trace

P = "/api/v1/projects/default"


def _ids(client: TestClient, **params: Any) -> list[str]:
    r = client.get(f"{P}/traces", params=params)
    assert r.status_code == 200, r.text
    return [t["trace_id"] for t in r.json()["items"]]


def test_list_filters_pages_and_show(client: TestClient, services: Services) -> None:
    now = time.time_ns()
    db = services.db
    old = insert_trace(db, start_ns=now - 3 * 3600 * SEC, app="support-bot", app_version=1, duration_ms=40)
    slow = insert_trace(
        db,
        start_ns=now - 1800 * SEC,
        app="support-bot",
        app_version=2,
        duration_ms=1500,
        spans=[
            SpanRow("app/support-bot:2", parent=None),
            SpanRow("generate", kind="LLM", attributes={"llm.model_name": "smollm2", "ripple.cached": False}),
        ],
        prompt_tokens=10,
        completion_tokens=5,
        cost=0.25,
        input_preview="hello",
    )
    failed = insert_trace(
        db,
        start_ns=now - 60 * SEC,
        app="triage",
        app_version=1,
        spans=[SpanRow("app/triage:1", parent=None), SpanRow("tool", kind="TOOL", status="error")],
    )

    body = client.get(f"{P}/traces").json()
    assert [t["trace_id"] for t in body["items"]] == [failed, slow, old] and body["next_cursor"] is None
    first = body["items"][1]
    assert first["app"] == "app/support-bot:2" and first["total_tokens"] == 15 and first["cost"] == 0.25
    assert first["input_preview"] == "hello" and datetime.fromisoformat(first["start_time"]).tzinfo is not None

    assert _ids(client, app="support-bot") == [slow, old]
    assert _ids(client, app="app/support-bot:1") == [old]
    assert _ids(client, app="support-bot", version=2) == [slow]
    assert _ids(client, status="error") == [failed]
    assert _ids(client, min_latency_ms=1000) == [slow]
    assert _ids(client, max_latency_ms=100) == [failed, old]
    assert _ids(client, since="2h") == [failed, slow]
    assert _ids(client, until="10m") == [slow, old]
    iso = datetime.fromtimestamp((now - 2 * 3600 * SEC) / SEC, UTC).isoformat()
    assert _ids(client, since=iso, until="10m") == [slow]
    assert _ids(client, attr="llm.model_name=smollm2") == [slow]
    assert _ids(client, attr=["llm.model_name=smollm2", "ripple.cached=false"]) == [slow]
    assert _ids(client, attr=["llm.model_name=smollm2", "ripple.cached=true"]) == []

    page1 = client.get(f"{P}/traces", params={"limit": 2}).json()
    page2 = client.get(f"{P}/traces", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    assert [t["trace_id"] for t in page1["items"] + page2["items"]] == [failed, slow, old]
    assert page2["next_cursor"] is None

    r = client.get(f"{P}/traces/{slow}")
    assert r.status_code == 200, r.text
    trace = r.json()
    assert [s["name"] for s in trace["spans"]] == ["app/support-bot:2", "generate"]
    assert trace["spans"][1]["parent_id"] == trace["spans"][0]["span_id"]
    assert trace["spans"][1]["attributes"]["llm.model_name"] == "smollm2"
    assert trace["spans"][1]["kind"] == "LLM" and isinstance(trace["spans"][1]["start_ns"], int)


def test_errors_name_the_problem(client: TestClient) -> None:
    def error(path: str, **params: Any) -> tuple[int, str]:
        r = client.get(f"{P}{path}", params=params)
        return r.status_code, r.json()["error"]["message"]

    code, msg = error("/traces", since="yesterday")
    assert code == 422 and "since 'yesterday' is not a duration or a time" in msg
    code, msg = error("/traces", status="meh")
    assert code == 422 and "ok, error, unset" in msg
    code, msg = error("/traces", attr="novalue")
    assert code == 422 and "not key=value" in msg
    code, msg = error("/traces", cursor="zzz")
    assert code == 422 and "cursor is not valid" in msg
    assert error("/traces", limit=0)[0] == 422
    code, msg = error("/traces/xyz")
    assert code == 422 and "32 hexadecimal" in msg
    code, msg = error("/traces/" + "a" * 32)
    assert code == 404 and "ripple trace list" in msg
    assert client.get("/api/v1/projects/nope/traces").status_code == 404


def test_auth_is_required_when_on(auth_client: TestClient, admin_token: str) -> None:
    assert auth_client.get(f"{P}/traces").status_code == 401
    r = auth_client.get(f"{P}/traces", headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200 and r.json()["items"] == []
