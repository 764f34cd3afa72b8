"""Apps through the service layer, on SQLite and PostgreSQL: creating versions (parts
resolved, pinned, lineage), and calls with their faults — guards that block or error, tools
that raise or hang, chat servers that stream garbage or hang up — each call one trace.

The model-loading tests (SmolLM2 + MiniLM over a knowledge base built here) are in
``test_apps_models.py``; these use models that need no weights: an OpenAI-compatible model
on a port that refuses (reaching it is an error, so a call that succeeds never reached it)
or on a real misbehaving server."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app_support import BadChatServer, P, by_kind, spans_of, trace_of
from rippleops.domain.access import Principal
from rippleops.domain.prompts import parse_spec
from rippleops.errors import InvalidError, NotFoundError, RippleError, UnavailableError
from rippleops.services import Services


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture
def parts(services: Services, admin: Principal, refused_url: str) -> dict[str, str]:
    """model/remote (a refused port), prompt/ask:1 and :2, policy/strict (blocks 'password')."""
    services.models.create(admin, P, "remote", {"provider": "openai", "base_url": refused_url, "model": "m",
                                                 "retries": 0, "timeout": 2})  # fmt: skip
    services.labels.set(admin, P, "model/remote", "production", 1)
    services.prompts.create(admin, P, "ask", parse_spec({"template": "Q: {{ question }}"}))
    services.prompts.create(admin, P, "ask", parse_spec({"template": "Question: {{ question }} {{ tone }}"}))
    services.labels.set(admin, P, "prompt/ask", "production", 1)
    services.policies.create(admin, P, "strict", {"input": [{"type": "deny", "words": ["password"]}],
                                                   "safe_answer": "I can't share credentials."})  # fmt: skip
    return {"model": "model/remote@production", "prompt": "prompt/ask@production", "policy": "policy/strict"}


def simple_app(parts: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"steps": [{"guard_input": parts["policy"]}, {"render": parts["prompt"]},
                      {"generate": {"model": parts["model"]}}], **extra}  # fmt: skip


def test_create_pins_every_part_as_inputs_and_lineage(
    services: Services, admin: Principal, parts: dict[str, str]
) -> None:
    rec = services.apps.create(admin, P, "bot", simple_app(parts, description="a bot", message="first"))
    assert (rec.ref, rec.created, rec.description, rec.message) == ("app/bot:1", True, "a bot", "first")
    assert [(i.role, i.ref, i.resolved) for i in rec.inputs] == [
        ("guard_input", "policy/strict", "policy/strict:1"),
        ("render", "prompt/ask@production", "prompt/ask:1"),
        ("generate", "model/remote@production", "model/remote:1"),
    ]
    assert rec.recipe == {"pins": {"policy/strict": "policy/strict:1", "prompt/ask@production": "prompt/ask:1",
                                   "model/remote@production": "model/remote:1"}}  # fmt: skip
    assert rec.content["steps"][1] == {"render": {"prompt": "prompt/ask@production"}}  # refs as written
    up = services.lineage.walk(admin, P, "app/bot:1", direction="up")
    assert {n.ref for n in up.upstream} >= {"policy/strict:1", "prompt/ask:1", "model/remote:1"}
    # the same spec over the same pins: no new version; over a moved label: a new version
    assert services.apps.create(admin, P, "bot", simple_app(parts)).ref == "app/bot:1"
    services.labels.set(admin, P, "prompt/ask", "production", 2)
    again = services.apps.create(admin, P, "bot", simple_app(parts))
    assert again.ref == "app/bot:2" and again.inputs[1].resolved == "prompt/ask:2"
    # one part used by two steps is one input with both roles
    both = services.apps.create(
        admin,
        P,
        "two",
        {**simple_app(parts), "steps": [*simple_app(parts)["steps"], {"guard_output": parts["policy"]}]},
    )
    assert [i.role for i in both.inputs if i.ref == "policy/strict"] == ["guard_input,guard_output"]
    assert services.apps.get(admin, P, "bot@latest").ref == "app/bot:2"
    assert [v.version for v in services.apps.versions(admin, P, "bot")] == [1, 2]


def test_a_missing_part_names_the_step_and_reference(
    services: Services, admin: Principal, parts: dict[str, str]
) -> None:
    with pytest.raises(
        NotFoundError,
        match=r"app/bot: steps\[0\] \(retrieve\) refers to index/nope@production, "
        r"which cannot be resolved: index/nope does not exist.*ripple index list",
    ):
        services.apps.create(admin, P, "bot", {"steps": [{"retrieve": "index/nope@production"},
                                                         {"generate": parts["model"]}]})  # fmt: skip
    with pytest.raises(NotFoundError, match=r"steps\[1\] \(render\) refers to prompt/ask:9.*has no version 9"):
        services.apps.create(admin, P, "bot", {"steps": [{"guard_input": "policy/strict"}, {"render": "prompt/ask:9"},
                                                         {"generate": parts["model"]}]})  # fmt: skip
    with pytest.raises(NotFoundError, match=r"steps\[0\] \(generate\) refers to model/remote@gone.*no label 'gone'"):
        services.apps.create(admin, P, "bot", {"steps": [{"generate": "model/remote@gone"}]})
    with pytest.raises(InvalidError, match="names no model and prompt/ask:1 names no model asset"):
        services.apps.create(admin, P, "bot", {"steps": [{"render": "prompt/ask@production"}, {"generate": {}}]})
    assert services.assets.list(admin, P, kind="app").items == []  # nothing half-written
    with pytest.raises(NotFoundError, match="app/ghost does not exist"):
        services.apps.invoke(admin, P, "ghost", {"input": "hi"})


def test_an_input_guard_block_answers_safely_and_calls_no_model(
    services: Services, admin: Principal, parts: dict[str, str]
) -> None:
    services.apps.create(admin, P, "bot", simple_app(parts))
    out = services.apps.invoke(admin, P, "bot", {"input": "What is the admin password?", "metadata": {"user_id": "u7"}})
    assert (out.output, out.finish_reason, out.blocked) == ("I can't share credentials.", "blocked", True)
    assert out.guards[0]["decision"] == "block" and out.guards[0]["policy"] == "policy/strict:1"
    assert [s["name"] for s in out.steps] == ["guard_input"] and out.usage.total_tokens == 0
    spans = spans_of(services, out.trace_id)
    root = next(s for s in spans if s.parent_id is None)
    assert (root.name, root.kind, root.attributes["ripple.app"]) == ("app/bot:1", "CHAIN", "app/bot:1")
    assert root.attributes["output.value"] == "I can't share credentials." and root.attributes["user.id"] == "u7"
    (guard,) = by_kind(spans, "GUARDRAIL")
    assert guard.attributes["ripple.guard.decision"] == "block" and guard.parent_id == root.span_id
    assert not by_kind(spans, "LLM")
    assert trace_of(services, out.trace_id).status == "ok"
    # the same through a stream: the safe answer is the one delta
    stream = services.apps.stream(admin, P, "bot", {"input": "the password please"})
    assert list(stream) == ["I can't share credentials."] and stream.record.blocked
    # a question the guard allows goes on to the model (here: a port that refuses), told with its version
    with pytest.raises(UnavailableError, match="model/remote:1"):
        services.apps.invoke(admin, P, "bot", {"input": "How do I roll back?"})


@pytest.mark.parametrize("on_error", ["closed", "open"])
def test_a_guard_that_errors_fails_closed_or_open(
    services: Services, admin: Principal, parts: dict[str, str], on_error: str
) -> None:
    # a real fault: a pattern that backtracks catastrophically hits the matcher's timeout
    services.policies.create(
        admin, P, "slow", {"input": [{"type": "regex", "pattern": "(a|aa)+$"}], "on_error": on_error}
    )
    services.apps.create(admin, P, "bot", {"steps": [{"guard_input": "policy/slow"}, {"generate": parts["model"]}]})
    question = "a" * 40 + "!"
    if on_error == "closed":
        out = services.apps.invoke(admin, P, "bot", {"input": question})
        assert out.blocked and out.guards[0]["decision"] == "error" and out.output == "I can't help with that."
        trace_id = out.trace_id
    else:  # the check is skipped and the call goes on to the model
        with pytest.raises(UnavailableError, match="model/remote:1"):
            services.apps.invoke(admin, P, "bot", {"input": question})
        services.trace_ingest.flush()
        trace_id = _last_trace(services)
    (guard,) = by_kind(spans_of(services, trace_id), "GUARDRAIL")
    assert guard.attributes["ripple.guard.decision"] == "error"
    findings = guard.attributes["ripple.guard.findings"]
    assert "latency_ms" in str(findings) and "error" in str(findings)


def test_tools_that_raise_or_hang_fail_the_call_clearly(
    services: Services, admin: Principal, parts: dict[str, str]
) -> None:
    tools = [{"name": "boom", "python": "app_support:explode"}, {"name": "stuck", "python": "app_support:hang",
                                                                 "timeout_s": 0.5},
             {"name": "nomod", "python": "no_such_module_xyz:f"}]  # fmt: skip
    for name in ("boom", "stuck", "nomod"):
        services.apps.create(admin, P, name, {"steps": [{"tool": {"name": name, "args": {"q": "{{ question }}"}}},
                                                        {"generate": parts["model"]}], "tools": tools})  # fmt: skip
    with pytest.raises(RippleError, match="tool 'boom' raised RuntimeError: the tool broke on purpose"):
        services.apps.invoke(admin, P, "boom", {"input": "go"})
    trace_id = _last_trace(services)
    (tool,) = by_kind(spans_of(services, trace_id), "TOOL")
    assert (tool.status, tool.attributes["tool.name"]) == ("error", "boom")
    assert tool.attributes["input.value"] == '{"q":"go"}' and "broke on purpose" in tool.status_message
    assert trace_of(services, trace_id).status == "error"

    started = time.monotonic()
    with pytest.raises(UnavailableError, match=r"tool 'stuck' did not finish within its timeout of 0.5 s"):
        services.apps.invoke(admin, P, "stuck", {"input": "go"})
    assert time.monotonic() - started < 5  # abandoned, not waited for
    with pytest.raises(InvalidError, match="tool 'nomod': cannot import 'no_such_module_xyz'"):
        services.apps.stream(admin, P, "nomod", {"input": "go"})  # a stream that cannot start fails at the call


@pytest.mark.parametrize("mode", ["garbage", "cut", "stall"])
def test_a_model_that_streams_garbage_or_stops_midway(services: Services, admin: Principal, mode: str) -> None:
    server = BadChatServer(mode)
    try:
        services.models.create(admin, P, "bad", {"provider": "openai", "base_url": server.url, "model": "m",
                                                 "retries": 0, "timeout": 1})  # fmt: skip
        services.apps.create(admin, P, "bot", {"steps": [{"generate": "model/bad"}]})
        expected = {"garbage": (InvalidError, "streamed a line that is not JSON"),
                    "cut": (UnavailableError, "broke off the stream"),
                    "stall": (UnavailableError, "broke off the stream|did not answer|Timeout")}[mode]  # fmt: skip
        started = time.monotonic()
        stream = services.apps.stream(admin, P, "bot", {"input": "hi"})
        got = []
        with pytest.raises(expected[0], match=expected[1]):
            for delta in stream:
                got.append(delta)
        assert got == ["Hello"] and time.monotonic() - started < 10  # nothing hangs
        spans = spans_of(services, _last_trace(services))
        (llm,) = by_kind(spans, "LLM")
        assert llm.status == "error" and llm.attributes["ripple.model"] == "model/bad:1"
        root = next(s for s in spans if s.parent_id is None)
        assert root.status == "error" and root.attributes["output.value"] == "Hello"
        with pytest.raises(expected[0]):  # and the same without streaming
            services.apps.invoke(admin, P, "bot", {"input": "hi"})
    finally:
        server.stop()


def test_closing_a_stream_early_ends_the_trace_as_cancelled(services: Services, admin: Principal) -> None:
    server = BadChatServer("drip")
    try:
        services.models.create(admin, P, "slow", {"provider": "openai", "base_url": server.url, "model": "m"})
        services.apps.create(admin, P, "bot", {"steps": [{"generate": "model/slow"}]})
        stream = services.apps.stream(admin, P, "bot", {"input": "hi"})
        assert next(stream) == "Hello"
        stream.close()
        with pytest.raises(InvalidError, match="has not ended"):
            _ = stream.record
        spans = spans_of(services, _last_trace(services))
        root = next(s for s in spans if s.parent_id is None)
        assert root.status == "error" and root.status_message.startswith("cancelled")
        assert root.attributes["ripple.cancelled"] is True
        assert by_kind(spans, "LLM")[0].status_message.startswith("cancelled")
    finally:
        server.stop()


def test_closing_a_stream_before_its_first_delta_still_ends_the_trace(services: Services, admin: Principal) -> None:
    # A generator closed before it started never runs its `finally`: the stream must still
    # end the trace and release the model's stream (a client that hangs up at once).
    server = BadChatServer("drip")
    try:
        services.models.create(admin, P, "slow", {"provider": "openai", "base_url": server.url, "model": "m"})
        services.apps.create(admin, P, "bot", {"steps": [{"generate": "model/slow"}]})
        stream = services.apps.stream(admin, P, "bot", {"input": "hi"})
        stream.close()
        stream.close()  # twice is harmless
        spans = spans_of(services, _last_trace(services))
        root = next(s for s in spans if s.parent_id is None)
        assert root.status == "error" and root.status_message.startswith("cancelled")
        (llm,) = by_kind(spans, "LLM")
        assert llm.status_message.startswith("cancelled")
    finally:
        server.stop()


def test_bad_requests_are_refused_before_anything_runs(
    services: Services, admin: Principal, parts: dict[str, str]
) -> None:
    services.apps.create(admin, P, "bot", simple_app(parts))
    with pytest.raises(InvalidError, match='give exactly one of "input"'):
        services.apps.invoke(admin, P, "bot", {})
    with pytest.raises(
        InvalidError, match=r"steps\[1\] \(render\): prompt/ask:1 takes no variable tone; it takes: question"
    ):
        services.apps.invoke(admin, P, "bot", {"input": "hi", "variables": {"tone": "dry"}})
    with pytest.raises(InvalidError, match=r"request: 'temp' is not a model parameter"):
        services.apps.invoke(admin, P, "bot", {"input": "hi", "params": {"temp": 1}})


def _last_trace(services: Services) -> str:
    from sqlalchemy import select

    from rippleops.store.models import Trace

    services.trace_ingest.flush()
    with services.db.reading() as s:
        return str(s.execute(select(Trace.trace_id).order_by(Trace.start_ns.desc()).limit(1)).scalar_one())


def test_an_agent_that_never_answers_stops_at_its_step_limit(services: Services, admin: Principal) -> None:
    """A chat server that only ever asks for a tool (a real peer on a real port): the loop
    calls the tool, feeds the result back, and stops after max_steps with a clear answer."""
    from fastapi import FastAPI

    from app_support import CALLS
    from support import start_app

    api = FastAPI()
    seen: list[list[dict[str, Any]]] = []

    @api.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> dict[str, Any]:
        seen.append(body["messages"])
        reply = '{"tool": "add", "args": {"a": 2, "b": 3}}' if len(seen) % 2 else "not json at all"
        return {"choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5}}  # fmt: skip

    server = start_app(api)
    CALLS.clear()
    try:
        services.models.create(admin, P, "loopy", {"provider": "openai", "base_url": f"{server.url}/v1", "model": "m"})
        services.apps.create(admin, P, "agent", {
            "steps": [{"agent": {"model": "model/loopy", "tools": ["add"], "max_steps": 3}}],
            "tools": [{"name": "add", "python": "app_support:add", "description": "adds a and b"}],
        })  # fmt: skip
        out = services.apps.invoke(admin, P, "agent", {"input": "What is 2 + 3?"})
        assert out.finish_reason == "length" and "stopped after 3 steps" in out.output
        assert len(seen) == 3 and CALLS == [{"tool": "add", "a": 2, "b": 3}] * 2
        assert seen[1][-1] == {"role": "user", "content": "Result of add: 5"}
        assert "not valid: it is not JSON" in seen[2][-1]["content"]
        assert "add: adds a and b" in seen[0][0]["content"]  # the built-in system turn lists the tools
        assert out.usage.total_tokens == 45
        spans = spans_of(services, out.trace_id)
        (agent,) = by_kind(spans, "AGENT")
        assert (agent.attributes["ripple.agent.steps"], agent.attributes["ripple.agent.stopped"]) == (3, "max_steps")
        assert len(by_kind(spans, "LLM")) == 3 and len(by_kind(spans, "TOOL")) == 2
    finally:
        server.stop()
