"""The apps REST API on SQLite and PostgreSQL: create, get, versions, invoke (JSON and SSE),
the header-scoped ``/api/v1/apps/{ref}/invoke``, error bodies, and a real client that hangs
up mid-stream on a real server (the app's stream is closed, the trace says cancelled)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app_support import BadChatServer
from rippleops.services import Services
from rippleops.settings import Settings
from rippleops.store.models import Span
from support import start_server

BASE = "/api/v1/projects/default"


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _setup(client: TestClient, services: Services, model_url: str) -> dict[str, Any]:
    policy = {"input": [{"type": "deny", "words": ["password"]}], "safe_answer": "No."}
    services.policies.create(services.access.local_admin(), "default", "strict", policy)
    for path, body in [
        (f"{BASE}/models/remote", {"provider": "openai", "base_url": model_url, "model": "m", "retries": 0}),
        (f"{BASE}/prompts/ask", {"template": "Q: {{ question }}"}),
    ]:
        r = client.post(path, json=body)
        assert r.status_code == 201, r.text
    spec = {"steps": [{"guard_input": "policy/strict"}, {"render": "prompt/ask"}, {"generate": "model/remote"}]}
    r = client.post(f"{BASE}/apps/bot", json=spec)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_get_invoke_and_errors(client: TestClient, services: Services, refused_url: str) -> None:
    created = _setup(client, services, refused_url)
    assert created["ref"] == "app/bot:1" and [i["resolved"] for i in created["inputs"]] == [
        "policy/strict:1", "prompt/ask:1", "model/remote:1"
    ]  # fmt: skip
    same = client.post(f"{BASE}/apps/bot", json=created["content"])
    assert same.status_code == 200 and same.json()["ref"] == "app/bot:1"
    assert client.get(f"{BASE}/apps/bot@latest").json()["ref"] == "app/bot:1"
    assert [v["version"] for v in client.get(f"{BASE}/apps/bot/versions").json()] == [1]

    r = client.post(f"{BASE}/apps/bot/invoke", json={"input": "my password?", "metadata": {"user_id": "u"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["output"], body["finish_reason"], body["blocked"], len(body["trace_id"])) == (
        "No.",
        "blocked",
        True,
        32,
    )
    # the path: the project from X-Ripple-Project (default: default)
    r = client.post("/api/v1/apps/bot/invoke", json={"messages": [{"role": "user", "content": "password"}]})
    assert r.status_code == 200 and r.json()["app"] == "app/bot:1"
    r = client.post("/api/v1/apps/bot/invoke", json={"input": "x"}, headers={"X-Ripple-Project": "nope"})
    assert r.status_code == 404 and "project 'nope' does not exist" in r.json()["error"]["message"]

    for body, status, text in [
        ({"input": "hi", "extra": 1}, 422, "extra"),
        ({}, 422, "give exactly one of"),
        ({"input": "How do I roll back?"}, 503, "model/remote:1"),
    ]:
        r = client.post(f"{BASE}/apps/bot/invoke", json=body)
        assert r.status_code == status and text in r.text, r.text
    r = client.post(f"{BASE}/apps/ghost/invoke", json={"input": "hi"})
    assert r.status_code == 404 and r.json()["error"]["type"] == "NotFoundError"
    r = client.post(f"{BASE}/apps/bad", json={"steps": [{"retrieve": "index/nope"}, {"generate": "model/remote"}]})
    assert r.status_code == 404 and "steps[0] (retrieve) refers to index/nope" in r.json()["error"]["message"]
    r = client.post(f"{BASE}/apps/bad", json={"steps": [{"generate": "model/remote"}], "x": 1})
    assert r.status_code == 422 and "unknown fields: x" in r.json()["error"]["message"]
    # a stream that cannot start is an ordinary error response
    r = client.post(f"{BASE}/apps/bot/invoke", json={"input": "How do I roll back?", "stream": True})
    assert r.status_code == 503


def test_sse_stream_and_a_stream_that_fails_midway(client: TestClient, services: Services) -> None:
    server = BadChatServer("garbage")
    try:
        _setup(client, services, server.url)
        with client.stream("POST", f"{BASE}/apps/bot/invoke", json={"input": "the password", "stream": True}) as r:
            events = _events(r.iter_lines())
        assert [e for e, _ in events] == ["delta", "done"] and events[1][1]["blocked"] is True
        with client.stream("POST", f"{BASE}/apps/bot/invoke", json={"input": "hello", "stream": True}) as r:
            assert r.status_code == 200
            events = _events(r.iter_lines())
        assert events[0] == ("delta", {"text": "Hello"}) and events[-1][0] == "error"
        assert "not JSON" in events[-1][1]["error"]["message"]
    finally:
        server.stop()


def test_a_client_that_hangs_up_mid_stream_cancels_the_call(settings: Settings) -> None:
    chat = BadChatServer("drip")
    srv = start_server(settings)
    services = Services(settings)
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            assert http.post(f"{BASE}/models/slow", json={"provider": "openai", "base_url": chat.url,
                                                          "model": "m"}).status_code == 201  # fmt: skip
            assert http.post(f"{BASE}/apps/bot", json={"steps": [{"generate": "model/slow"}]}).status_code == 201
            with http.stream("POST", f"{BASE}/apps/bot/invoke", json={"input": "hi", "stream": True}) as r:
                lines = r.iter_lines()
                assert next(lines) == "event: delta"
            # the response is closed: the server notices, closes the app's stream and ends the trace
        deadline, root = time.monotonic() + 20, None
        while time.monotonic() < deadline and root is None:
            with services.db.reading() as s:
                root = s.execute(select(Span).where(Span.parent_id.is_(None))).scalar_one_or_none()
                if root is not None:
                    s.expunge(root)
            time.sleep(0.2)
        assert root is not None, "the trace of the cancelled call was not written"
        assert root.status == "error" and root.status_message.startswith("cancelled")
        assert root.attributes["ripple.cancelled"] is True
    finally:
        services.close()
        srv.stop()
        chat.stop()


def _events(lines: Iterator[str]) -> list[tuple[str, Any]]:
    out, event = [], "message"
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            out.append((event, json.loads(line[5:])))
    return out
