"""Models and prompt runs over REST, in-process (SQLite and PostgreSQL): create, fetch,
generate as JSON and as Server-Sent Events, errors before and during a stream."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from rippleops.domain.generation import parse_sse
from support import start_app

P = "/api/v1/projects/default"
POEM = "Write a long poem about the sea."


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """One CPU thread per local model: the same tokens (llama.cpp's results do not depend on
    the thread count), and several times faster on a machine whose cores are busy."""
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _breaks_midway() -> FastAPI:
    """An OpenAI-compatible stand-in whose stream breaks after one good chunk."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat() -> StreamingResponse:
        def events() -> Iterator[str]:
            yield f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': 'Hel'}, 'finish_reason': None}]})}\n\n"
            yield "data: {this is not json\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def breaks_midway() -> Iterator[str]:
    running = start_app(_breaks_midway())
    yield f"{running.url}/v1"
    running.stop()


def events(text: str) -> list[tuple[str, Any]]:
    return list(parse_sse(text.splitlines()))


def test_create_get_and_versions(client: TestClient, refused_url: str) -> None:
    spec = {"provider": "openai", "base_url": refused_url, "model": "m", "prices": {"input_per_1m": 1}}
    r = client.post(f"{P}/models/remote", json={**spec, "message": "first", "description": "an endpoint"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["ref"], body["kind"], body["created"], body["description"]) == (
        "model/remote:1",
        "model",
        True,
        "an endpoint",
    )
    assert body["content"]["prices"] == {"input_per_1m": 1.0, "output_per_1m": 0.0, "currency": "USD"}
    again = client.post(f"{P}/models/remote", json=spec)
    assert again.status_code == 200 and again.json()["created"] is False
    assert client.put(f"{P}/assets/model/remote/labels/production", json={"version": 1}).status_code == 200
    got = client.get(f"{P}/models/remote@production").json()
    assert (got["ref"], got["labels"]) == ("model/remote:1", ["production", "latest"])
    assert [v["version"] for v in client.get(f"{P}/models/remote/versions").json()] == [1]
    missing = client.get(f"{P}/models/ghost")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFoundError"


def test_bad_specs_and_bodies_are_422(client: TestClient, refused_url: str) -> None:
    r = client.post(f"{P}/models/x", json={"provider": "azure"})
    assert r.status_code == 422 and "provider 'azure' is not known" in r.json()["error"]["message"]
    r = client.post(
        f"{P}/models/x", json={"provider": "openai", "base_url": refused_url, "model": "m", "api_key": "sk"}
    )
    assert r.status_code == 422 and "api_key_secret" in r.json()["error"]["message"]
    client.post(f"{P}/models/remote", json={"provider": "openai", "base_url": refused_url, "model": "m"})
    r = client.post(f"{P}/models/remote/generate", json={"messages": "hi", "params": {"temperature": 9}})
    assert r.status_code == 422 and "params.temperature" in r.json()["error"]["message"]
    r = client.post(f"{P}/models/remote/generate", json={"messages": "hi", "colour": 1})
    assert r.status_code == 422 and "colour" in r.json()["error"]["message"]


def test_a_model_that_cannot_start_fails_with_a_status_even_when_streaming(
    client: TestClient, refused_url: str
) -> None:
    client.post(f"{P}/models/down", json={"provider": "openai", "base_url": refused_url, "model": "m"})
    for stream in (False, True):
        r = client.post(f"{P}/models/down/generate", json={"messages": "hi", "stream": stream})
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"]["message"].startswith("model/down:1: cannot reach the chat server")


def test_a_stream_that_breaks_midway_ends_with_an_error_event(client: TestClient, breaks_midway: str) -> None:
    client.post(f"{P}/models/flaky", json={"provider": "openai", "base_url": breaks_midway, "model": "m"})
    r = client.post(f"{P}/models/flaky/generate", json={"messages": "hi", "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r.text)
    assert got[0] == ("delta", {"text": "Hel"})
    assert got[-1][0] == "error" and got[-1][1]["error"]["type"] == "InvalidError"
    assert "model/flaky:1: the chat server" in got[-1][1]["error"]["message"]
    assert "not JSON" in got[-1][1]["error"]["message"]


@pytest.mark.slow
def test_generate_json_and_sse_agree(client: TestClient) -> None:
    client.post(f"{P}/models/local-smollm", json={"provider": "local", "prices": {"output_per_1m": 10}})
    r = client.post(f"{P}/models/local-smollm/generate", json={"messages": POEM, "params": {"max_tokens": 10}})
    assert r.status_code == 200, r.text
    whole = r.json()
    assert (whole["model"], whole["finish_reason"], whole["usage"]["completion_tokens"]) == (
        "model/local-smollm:1",
        "length",
        10,
    )
    assert whole["cost"]["output"] == 10 * 10 / 1e6
    r = client.post(
        f"{P}/models/local-smollm:1/generate",
        json={"messages": [{"role": "user", "content": POEM}], "params": {"max_tokens": 10}, "stream": True},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r.text)
    deltas = [data["text"] for event, data in got if event == "delta"]
    assert len(deltas) > 1 and "".join(deltas) == whole["text"]
    assert got[-1][0] == "done"
    done = got[-1][1]
    assert (done["text"], done["usage"], done["cost"]) == (whole["text"], whole["usage"], whole["cost"])


@pytest.mark.slow
def test_prompt_run_route(client: TestClient, make_prompt: Any) -> None:
    client.post(f"{P}/models/local-smollm", json={"provider": "local"})
    make_prompt(
        "answer", template="Answer briefly: {{ question }}", model="model/local-smollm", params={"max_tokens": 5}
    )
    r = client.post(f"{P}/prompts/answer/run", json={"variables": {"question": "Why?"}})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["prompt"], out["model"], out["usage"]["completion_tokens"]) == (
        "prompt/answer:1",
        "model/local-smollm:1",
        5,
    )
    r = client.post(
        f"{P}/prompts/answer:1/run",
        json={"variables": {"question": "Why?"}, "params": {"max_tokens": 5}, "stream": True},
    )
    got = events(r.text)
    assert "".join(d["text"] for e, d in got if e == "delta") == out["text"]
    assert got[-1][0] == "done" and got[-1][1]["prompt"] == "prompt/answer:1"
    r = client.post(f"{P}/prompts/answer/run", json={"variables": {}})
    assert r.status_code == 422 and "question" in r.json()["error"]["message"]
