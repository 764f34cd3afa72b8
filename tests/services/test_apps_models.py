"""Apps with the real shipped models, on SQLite and PostgreSQL: a guarded RAG app over a
knowledge base built here (MiniLM + LanceDB) answering with SmolLM2, invoked and streamed;
output guards that redact and re-ask; Python, entry-point and HTTP tools; the agent loop.
Assertions are about behaviour (pins, sources, spans, counts), never about what the model knows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app_support import P, add_model, add_rag_prompt, build_kb, by_kind, rag_app, spans_of, trace_of
from rippleops.domain.access import Principal
from rippleops.services import Services
from support import start_app

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


@pytest.fixture
def kb(services: Services, admin: Principal) -> str:
    index = build_kb(services, admin)
    add_model(services, admin)
    add_rag_prompt(services, admin)
    services.policies.create(admin, P, "support", {
        "input": [{"type": "regex", "pattern": r"[\w.]+@[\w.]+", "action": "redact", "replacement": "<EMAIL>"}],
        "output": [{"type": "length", "max_chars": 400, "action": "fix"}],
    })  # fmt: skip
    return index


def guarded(**extra: Any) -> dict[str, Any]:
    app = rag_app()
    app["steps"] = [{"guard_input": "policy/support"}, *app["steps"], {"guard_output": "policy/support"}]
    return {**app, **extra}


def test_a_guarded_rag_app_end_to_end(services: Services, admin: Principal, kb: str) -> None:
    rec = services.apps.create(admin, P, "bot", guarded())
    assert [i.resolved for i in rec.inputs] == [
        "policy/support:1",
        "index/kb:1",
        "prompt/rag:1",
        "model/local-smollm:1",
    ]
    q = "I am ana@example.org. How do I roll back a prompt?"
    out = services.apps.invoke(admin, P, "bot@latest", {"input": q, "metadata": {"session_id": "s1"}})
    assert out.app == "app/bot:1" and out.output.strip() and out.finish_reason in ("stop", "length")
    assert len(out.sources) == 2 and {s["index"] for s in out.sources} == {"index/kb:1"}
    assert set(out.sources[0]) == {"index", "doc_id", "id", "score", "start", "end", "text"}
    assert [g["stage"] for g in out.guards] == ["input", "output"] and out.guards[0]["decision"] == "redact"
    assert [s["name"] for s in out.steps] == ["guard_input", "retrieve", "render", "generate", "guard_output"]
    assert out.usage.prompt_tokens > 0 and 0 < out.usage.completion_tokens <= 24 and out.latency_s > 0

    spans = spans_of(services, out.trace_id)
    root = next(s for s in spans if s.parent_id is None)
    assert (root.name, root.attributes["ripple.app"], root.attributes["session.id"]) == ("app/bot:1", "app/bot:1", "s1")
    assert root.attributes["input.value"] == q and root.attributes["output.value"] == out.output
    assert all(s.parent_id == root.span_id for s in spans if s is not root)
    (retriever,) = by_kind(spans, "RETRIEVER")
    docs = json.loads(retriever.attributes["retrieval.documents"])
    assert retriever.attributes["ripple.index"] == "index/kb:1" and [d["document.score"] for d in docs] == [
        s["score"] for s in out.sources
    ]
    assert "<EMAIL>" in retriever.attributes["input.value"]  # the redacted question is what was searched
    (prompt,) = by_kind(spans, "PROMPT")
    assert prompt.attributes["ripple.prompt"] == "prompt/rag:1" and "<EMAIL>" in prompt.attributes["output.value"]
    (llm,) = by_kind(spans, "LLM")
    assert llm.attributes["ripple.model"] == "model/local-smollm:1"
    assert llm.attributes["llm.token_count.completion"] == out.usage.completion_tokens
    assert {"llm.cost.total", "ripple.latency_ms"} <= set(llm.attributes)
    assert [g.attributes["ripple.guard.stage"] for g in by_kind(spans, "GUARDRAIL")] == ["input", "output"]
    summary = trace_of(services, out.trace_id)
    assert (summary.status, summary.app, summary.app_version) == ("ok", "bot", 1)

    # streamed: the deltas join to the record's output; the trace holds the stream's spans
    stream = services.apps.stream(admin, P, "bot", {"input": "How do I revoke a token?"})
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == stream.record.output
    assert stream.record.steps[-1]["name"] == "guard_output" and stream.record.usage.completion_tokens > 0
    llm = by_kind(spans_of(services, stream.record.trace_id), "LLM")[0]
    assert llm.attributes["ripple.time_to_first_token_ms"] > 0

    # the label moves after creation: the app still runs the version it pinned
    add_model(services, admin, params={"max_tokens": 1})  # model/local-smollm:2
    services.labels.set(admin, P, "model/local-smollm", "production", 2)
    again = services.apps.invoke(admin, P, "bot", {"input": "How do I roll back a prompt?"})
    assert by_kind(spans_of(services, again.trace_id), "LLM")[0].attributes["ripple.model"] == "model/local-smollm:1"
    assert again.usage.completion_tokens > 1
    # a new version made now pins the moved label
    assert services.apps.create(admin, P, "bot", guarded()).inputs[3].resolved == "model/local-smollm:2"


def test_output_guards_redact_and_reask(services: Services, admin: Principal, kb: str) -> None:
    services.policies.create(admin, P, "mask", {"output": [{"type": "regex", "pattern": r"\S+", "action": "redact",
                                                             "replacement": "#"}]})  # fmt: skip
    services.policies.create(admin, P, "picky", {"output": [{"type": "regex", "pattern": ".", "action": "reask"}],
                                                 "max_reasks": 2})  # fmt: skip
    for name, policy in (("masked", "policy/mask"), ("picky", "policy/picky")):
        app = rag_app()
        app["steps"] = [*app["steps"], {"guard_output": policy}]
        services.apps.create(admin, P, name, app)
    out = services.apps.invoke(admin, P, "masked", {"input": "How do I roll back a prompt?"})
    assert out.output and set(out.output.split()) == {"#"} and out.guards[0]["decision"] == "redact"
    (llm,) = by_kind(spans_of(services, out.trace_id), "LLM")
    assert llm.attributes["output.value"] != out.output  # the model said words; the guard masked them
    stream = services.apps.stream(admin, P, "masked", {"input": "How do I roll back a prompt?"})
    assert set("".join(stream).split()) == {"#"} and stream.record.guards[0]["decision"] == "redact"

    out = services.apps.invoke(admin, P, "picky", {"input": "How do I roll back a prompt?"})
    assert [g["decision"] for g in out.guards] == ["reask"] * 3  # the first answer and two re-asks
    llms = by_kind(spans_of(services, out.trace_id), "LLM")
    assert [s.attributes.get("ripple.reask") for s in llms] == [None, 1, 2]
    assert "regex" in json.loads(llms[1].attributes["input.value"])[-1]["content"]  # the instruction was sent


def test_tools_python_entry_point_and_http(
    services: Services, admin: Principal, kb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an installed entry point of group ripple.tools, found the way importlib.metadata finds any
    dist = tmp_path / "site" / "ripple_test_tools-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ripple-test-tools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[ripple.tools]\nshout = app_support:echo\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site"), *sys.path])
    api = FastAPI()

    @api.get("/status")
    def status(q: str) -> dict[str, Any]:
        return {"status": "green", "asked": q}

    server = start_app(api)
    try:
        tools = [
            {"name": "echo", "python": "app_support:echo"},
            {"name": "shout", "entry_point": "shout"},
            {"name": "status", "http": {"url": f"{server.url}/status", "method": "GET"}, "timeout_s": 5},
        ]
        steps = [{"tool": {"name": "status", "args": {"q": "{{ question }}"}}},
                 {"tool": {"name": "shout", "args": {"text": "{{ status.status }}"}, "as": "loud"}},
                 {"tool": {"name": "echo", "args": {"text": "fixed"}}},
                 {"render": {"prompt": "prompt/toolrag"}}, {"generate": {"model": "model/local-smollm@production",
                                                                        "params": {"max_tokens": 8}}}]  # fmt: skip
        add_rag_prompt(services, admin, "toolrag", messages=[{"role": "user", "content":
                       "Status {{ status.status }} {{ loud.length }} {{ echo.echo }}. {{ question }}"}],
                       variables=None)  # fmt: skip
        services.apps.create(admin, P, "tooled", {"steps": steps, "tools": tools})
        out = services.apps.invoke(admin, P, "tooled", {"input": "Is it up?"})
        assert [s["name"] for s in out.steps] == ["tool:status", "tool:shout", "tool:echo", "render", "generate"]
        spans = spans_of(services, out.trace_id)
        status_span, shout, echo = by_kind(spans, "TOOL")
        assert json.loads(status_span.attributes["output.value"]) == {"status": "green", "asked": "Is it up?"}
        assert json.loads(shout.attributes["input.value"]) == {"text": "green"}
        assert json.loads(echo.attributes["output.value"]) == {"echo": "fixed", "length": 5}
        rendered = json.loads(by_kind(spans, "PROMPT")[0].attributes["output.value"])
        assert rendered[-1]["content"] == "Status green 5 fixed. Is it up?"
    finally:
        server.stop()


def test_the_agent_loop_with_the_local_model(services: Services, admin: Principal, kb: str) -> None:
    from app_support import CALLS

    CALLS.clear()
    services.apps.create(admin, P, "agent", {
        "steps": [{"agent": {"model": "model/local-smollm@production", "tools": ["add"], "max_steps": 3,
                             "params": {"max_tokens": 48}}}],
        "tools": [{"name": "add", "python": "app_support:add", "description": "adds two integers a and b"}],
    })  # fmt: skip
    out = services.apps.invoke(admin, P, "agent", {"input": "What is 2 plus 3? Use the add tool."})
    spans = spans_of(services, out.trace_id)
    (agent,) = by_kind(spans, "AGENT")
    llms = by_kind(spans, "LLM")
    steps = agent.attributes["ripple.agent.steps"]
    assert 1 <= steps <= 3 and len(llms) == steps and all(s.parent_id == agent.span_id for s in llms)
    for s in llms:  # decoding under the schema: every reply is a tool call or an answer
        reply = json.loads(s.attributes["output.value"])
        assert ("answer" in reply) or (reply["tool"] == "add" and isinstance(reply["args"], dict))
    tools = by_kind(spans, "TOOL")
    assert all(t.parent_id == agent.span_id for t in tools) and len(tools) <= steps
    assert out.finish_reason == ("stop" if agent.attributes["ripple.agent.stopped"] == "answer" else "length")
