"""``ripple trace list`` and ``ripple trace show`` in-process (both databases): the table,
every filter option, the tree with each kind's key attributes, --json, and errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from cli_helpers import Ripple

from rippleops.settings import Settings
from rippleops.store.db import Database
from trace_rows import SEC, SpanRow, insert_trace

DOCS = [
    {
        "document.id": "faq.md#3",
        "document.content": "Roll back by moving the production label.",
        "document.score": 0.91,
    },
    {"document.id": "ops.md#1", "document.content": "Deployments follow labels.", "document.score": 0.42},
]
FINDINGS = [
    {"validator": "pii", "action": "redact", "passed": False, "message": "an e-mail address", "latency_ms": 0.3},
    {"validator": "toxicity", "action": "block", "passed": True, "message": "", "latency_ms": 1.1},
]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    d = Database(settings.resolved_database_url)
    yield d
    d.dispose()


@pytest.fixture
def traces(db: Database) -> dict[str, str]:
    now = time.time_ns()
    rag = insert_trace(
        db,
        start_ns=now - 600 * SEC,
        app="support-bot",
        app_version=3,
        duration_ms=1234.5,
        prompt_tokens=50,
        completion_tokens=20,
        cost=0.0012,
        input_preview="How do I roll back a prompt?",
        spans=[
            SpanRow("app/support-bot:3", parent=None, attributes={"input.value": "How do I roll back a prompt?",
                                                                  "output.value": "Move the label."}),
            SpanRow("guard input", kind="GUARDRAIL", attributes={
                "ripple.policy": "policy/default:2", "ripple.guard.stage": "input",
                "ripple.guard.decision": "redact", "ripple.guard.findings": json.dumps(FINDINGS)}),
            SpanRow("retrieve", kind="RETRIEVER", attributes={
                "ripple.index": "index/docs:4", "retrieval.documents": json.dumps(DOCS)}),
            SpanRow("render", kind="PROMPT", attributes={"ripple.prompt": "prompt/answer:2"}),
            SpanRow("generate", kind="LLM", attributes={
                "ripple.model": "model/local-smollm:1", "llm.token_count.prompt": 50,
                "llm.token_count.completion": 20, "llm.cost.total": 0.0012}),
        ],
    )  # fmt: skip
    failed = insert_trace(
        db,
        start_ns=now - 60 * SEC,
        app="support-bot",
        app_version=4,
        duration_ms=80,
        spans=[
            SpanRow("app/support-bot:4", parent=None),
            SpanRow("lookup", kind="TOOL", status="error", status_message="KeyError: 'order'",
                    attributes={"tool.name": "orders", "input.value": "{\"id\": 7}"}),
        ],
    )  # fmt: skip
    old = insert_trace(db, start_ns=now - 3 * 86400 * SEC, duration_ms=3, input_preview="batch job")
    return {"rag": rag, "failed": failed, "old": old}


def test_list_table_and_filters(ripple_on: Ripple, traces: dict[str, str]) -> None:
    out = ripple_on.ok("trace", "list").stdout
    for tid in traces.values():
        assert tid[:8] in out  # the table shows 8; `trace show` takes such a prefix
    assert "support-bot:3" in out and "1.23 s" in out and "50+20" in out and "0.0012" in out
    assert "How do I roll back a prompt?" in out
    assert out.index(traces["failed"][:8]) < out.index(traces["rag"][:8]) < out.index(traces["old"][:8])  # newest first

    def ids(*args: str) -> list[str]:
        return [t["trace_id"] for t in ripple_on.json("trace", "list", *args)["items"]]

    assert ids("--app", "support-bot") == [traces["failed"], traces["rag"]]
    assert ids("--app", "support-bot:3") == [traces["rag"]]
    assert ids("--app", "support-bot", "--version", "4") == [traces["failed"]]
    assert ids("--status", "error") == [traces["failed"]]
    assert ids("--min-latency", "1s") == [traces["rag"]]
    assert ids("--min-latency", "50", "--max-latency", "100ms") == [traces["failed"]]
    assert ids("--since", "1d") == [traces["failed"], traces["rag"]]
    assert ids("--until", "5m") == [traces["rag"], traces["old"]]
    assert ids("--attr", "ripple.index=index/docs:4") == [traces["rag"]]
    assert ids("--attr", "tool.name=orders", "--attr", "openinference.span.kind=TOOL") == [traces["failed"]]
    assert ids("--attr", "tool.name=nothing") == []
    first = ripple_on.json("trace", "list", "--limit", "2")
    assert len(first["items"]) == 2 and first["next_cursor"]
    assert ids("--limit", "2", "--cursor", first["next_cursor"]) == [traces["old"]]
    paged = ripple_on.ok("trace", "list", "--limit", "1")
    assert "--cursor" in paged.stderr
    assert "no traces match" in ripple_on.ok("trace", "list", "--app", "nobody").stdout


def test_show_tree(ripple_on: Ripple, traces: dict[str, str]) -> None:
    out = ripple_on.ok("trace", "show", traces["rag"]).stdout
    lines = out.splitlines()
    assert traces["rag"] in lines[0] and "app/support-bot:3" in lines[0] and "1.23 s" in lines[0]
    for expected in (
        "model/local-smollm:1",
        "tokens 50 in, 20 out",
        "cost 0.0012",
        "index/docs:4",
        "0.910  faq.md#3  Roll back by moving the production label.",
        "0.420  ops.md#1",
        "prompt/answer:2",
        "policy/default:2  input  decision redact",
        "pii (redact): an e-mail address",
        "input: How do I roll back a prompt?",
        "output: Move the label.",
    ):
        assert expected in out, expected
    assert "toxicity" not in out  # validators that passed are not listed
    order = [out.index(n) for n in ("guard input", "retrieve", "render", "generate")]
    assert order == sorted(order)
    assert "└──" in out or "├──" in out

    failed = ripple_on.ok("trace", "show", traces["failed"]).stdout
    assert "error: KeyError: 'order'" in failed and "tool: orders" in failed and 'input: {"id": 7}' in failed

    full = ripple_on.ok("trace", "show", traces["rag"], "--full").stdout
    assert "openinference.span.kind" not in full and "ripple.guard.stage: input" in full

    data = ripple_on.json("trace", "show", traces["rag"])
    assert data["trace_id"] == traces["rag"] and len(data["spans"]) == 5
    assert data["spans"][0]["parent_id"] is None and data["spans"][4]["attributes"]["llm.token_count.prompt"] == 50


def test_errors(ripple_on: Ripple) -> None:
    assert "32 hexadecimal" in ripple_on.fails(2, "trace", "show", "abc").stderr
    assert "ripple trace list" in ripple_on.fails(3, "trace", "show", "0" * 32).stderr
    assert "not key=value" in ripple_on.fails(2, "trace", "list", "--attr", "oops").stderr
    assert "1.5s" in ripple_on.fails(2, "trace", "list", "--min-latency", "fast").stderr
    assert "not a duration or a time" in ripple_on.fails(2, "trace", "list", "--since", "soon").stderr
    assert "ok, error, unset" in ripple_on.fails(2, "trace", "list", "--status", "meh").stderr
    assert "give the app too" in ripple_on.fails(2, "trace", "list", "--version", "2").stderr
