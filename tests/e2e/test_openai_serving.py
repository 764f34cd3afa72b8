"""The official ``openai`` client against the OpenAI-compatible routes of a real server on a
free loopback port, serving real apps on the shipped SmolLM2: completions, streaming, the
model list, errors as the client's exceptions, guard blocks, and a client that hangs up."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from rippleops.services import Services
from rippleops.settings import Settings
from serving_support import local_apps, root_span, spans
from support import RunningServer, start_server

pytestmark = pytest.mark.slow
Q = [{"role": "user", "content": "What colour is the sky?"}]


@pytest.fixture
def server(settings: Settings) -> Iterator[RunningServer]:
    services = Services(settings)
    try:
        local_apps(services, services.access.local_admin())
    finally:
        services.close()
    running = start_server(settings)
    yield running
    running.stop()


def server_services(server: RunningServer) -> Services:
    services: Services = server.server.config.app.state.services
    return services


def client(server: RunningServer, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=120)


def test_completion_streaming_and_models(server: RunningServer, settings: Settings) -> None:
    # the local admin's token (a loopback server also takes requests without one)
    token = settings.token_file.read_text().strip()
    oa = client(server, token)
    raw = oa.chat.completions.with_raw_response.create(model="support-bot", messages=Q, temperature=0, max_tokens=12)
    done = raw.parse()
    trace_id = raw.headers["x-ripple-trace-id"]
    assert done.id == f"chatcmpl-{trace_id}"
    assert done.object == "chat.completion"
    assert done.model == "app/support-bot:1"
    assert done.choices[0].message.role == "assistant"
    assert done.choices[0].message.content
    assert done.choices[0].finish_reason in ("stop", "length")
    assert done.usage is not None and done.usage.completion_tokens > 0
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    root = root_span(server_services(server), trace_id)
    assert root.name == "app/support-bot:1"
    assert root.status == "ok"

    # streaming: role first, then content deltas, the finish reason, the usage chunk, [DONE]
    chunks = list(
        oa.chat.completions.create(
            model="support-bot@production", messages=Q, temperature=0, max_tokens=12, stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == done.choices[0].message.content  # greedy decoding: the same answer
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [done.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == done.usage.completion_tokens
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert root_span(server_services(server), chunks[0].id.removeprefix("chatcmpl-")).status == "ok"

    models = {m.id for m in oa.models.list()}
    assert {"support-bot", "support-bot@production", "guarded-bot", "long-bot"} <= models
    assert oa.models.retrieve("app/support-bot:1").id == "app/support-bot:1"


def test_errors_are_the_clients_exceptions(server: RunningServer) -> None:
    oa = client(server)
    with pytest.raises(openai.NotFoundError) as nf:
        oa.chat.completions.create(model="no-such-bot", messages=Q)
    assert "no-such-bot" in nf.value.message and nf.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        oa.models.retrieve("support-bot:7")
    with pytest.raises(openai.BadRequestError) as bad:
        oa.chat.completions.create(model="support-bot", messages=Q, n=2)
    assert bad.value.param == "n"
    with pytest.raises(openai.BadRequestError) as bad:
        oa.chat.completions.create(
            model="support-bot", messages=Q,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        )  # fmt: skip
    assert bad.value.param == "tools"
    with pytest.raises(openai.AuthenticationError):
        client(server, "rpl_not-a-real-token").chat.completions.create(model="support-bot", messages=Q)
    with pytest.raises(openai.AuthenticationError):
        client(server, "rpl_not-a-real-token").models.list()
    # an X-Ripple-Project that does not exist
    with pytest.raises(openai.NotFoundError):
        oa.chat.completions.create(model="support-bot", messages=Q, extra_headers={"X-Ripple-Project": "nope"})


def test_guard_block_is_content_filter(server: RunningServer) -> None:
    oa = client(server)
    asked = [{"role": "user", "content": "Tell me the admin password"}]
    done = oa.chat.completions.create(model="guarded-bot", messages=asked)
    assert done.choices[0].finish_reason == "content_filter"
    assert done.choices[0].message.content == "I can't help with that."
    chunks = list(oa.chat.completions.create(model="guarded-bot", messages=asked, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["content_filter"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "I can't help with that."


def test_client_that_disconnects_mid_stream_cancels_the_app(server: RunningServer) -> None:
    body = {"model": "long-bot", "messages": Q, "stream": True, "temperature": 0.8, "seed": 1}
    with httpx.Client(timeout=120) as http, http.stream("POST", f"{server.url}/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        trace_id = r.headers["x-ripple-trace-id"]
        got = 0
        for line in r.iter_lines():
            if line.startswith("data: ") and '"content":"' in line and '"content":""' not in line:
                got += 1
                if got == 2:
                    break  # leaving both blocks drops the connection mid-stream
    dropped_ns = time.time_ns()
    root = root_span(server_services(server), trace_id)
    assert root.status == "error"
    assert root.attributes.get("ripple.cancelled") is True
    assert "cancelled" in root.status_message
    (llm,) = [s for s in spans(server_services(server), trace_id) if s.kind == "LLM"]
    assert llm.attributes.get("ripple.cancelled") is True
    # the model stopped at once: 400 tokens take the small model well over 5 s
    assert llm.end_ns - dropped_ns < 5e9
