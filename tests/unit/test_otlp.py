"""The pure OTLP mapping (domain/otlp.py): GenAI and OpenInference attributes onto Ripple's
span kind, input, output, model, tokens and cost; OTLP/JSON values; ids; the spool record."""

from __future__ import annotations

from typing import Any

import pytest

from otlp_data import json_export, json_span, protobuf_export, sdk_spans
from rippleops.domain.otlp import (
    ExportResult,
    OtlpError,
    app_of,
    decode,
    decode_json,
    decode_protobuf,
    normalise,
    project_of,
    spool_record,
    unspool_record,
)


def mapped(attributes: dict[str, Any], events: list[dict[str, Any]] | None = None) -> tuple[str, dict[str, Any]]:
    attrs = dict(attributes)
    return normalise(attrs, events or []), attrs


def test_a_genai_chat_span_becomes_an_llm_span_with_our_names_and_keeps_the_raw_ones() -> None:
    kind, a = mapped(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 20,
        }
    )
    assert kind == "LLM"
    assert a["llm.model_name"] == "gpt-4o-2024-08-06" and a["llm.system"] == "openai"
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"]) == (100, 20)
    assert a["gen_ai.request.model"] == "gpt-4o" and a["gen_ai.usage.input_tokens"] == 100


def test_older_genai_names_and_content_attributes() -> None:
    kind, a = mapped(
        {
            "gen_ai.request.model": "m",
            "gen_ai.usage.prompt_tokens": 7,
            "gen_ai.usage.completion_tokens": 3,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "hello",
            "gen_ai.prompt.1.content": "again",
            "gen_ai.completion.0.content": "hi",
        }
    )
    assert kind == "LLM" and a["llm.model_name"] == "m"
    assert (a["llm.token_count.prompt"], a["llm.token_count.completion"]) == (7, 3)
    assert (a["input.value"], a["output.value"]) == ("hello\nagain", "hi")
    _, a = mapped({"gen_ai.system": "x", "gen_ai.prompt": "p", "gen_ai.completion": "c"})
    assert (a["input.value"], a["output.value"]) == ("p", "c")


def test_genai_content_events_become_input_and_output() -> None:
    events = [
        {"name": "gen_ai.system.message", "attributes": {"content": "be brief"}},
        {"name": "gen_ai.user.message", "attributes": {"content": "why?"}},
        {"name": "gen_ai.choice", "attributes": {"message": "because"}},
    ]
    _, a = mapped({"gen_ai.operation.name": "chat"}, events)
    assert a["input.value"] == '["be brief", "why?"]' and a["output.value"] == "because"
    _, a = mapped({"gen_ai.system": "x"}, [{"name": "gen_ai.content.prompt", "attributes": {"gen_ai.prompt": "q"}}])
    assert a["input.value"] == "q"


@pytest.mark.parametrize(
    ("operation", "kind"),
    [("embeddings", "EMBEDDING"), ("execute_tool", "TOOL"), ("invoke_agent", "AGENT"), ("text_completion", "LLM")],
)
def test_the_genai_operation_names_the_kind(operation: str, kind: str) -> None:
    assert mapped({"gen_ai.operation.name": operation})[0] == kind


def test_openinference_spans_keep_their_kind_and_values() -> None:
    kind, a = mapped(
        {
            "openinference.span.kind": "retriever",
            "input.value": "q",
            "gen_ai.request.model": "not-this",
            "llm.model_name": "this",
        }
    )
    assert kind == "RETRIEVER" and a["llm.model_name"] == "this" and a["input.value"] == "q"
    assert mapped({"llm.token_count.prompt": 1})[0] == "LLM"
    assert mapped({"http.method": "GET"})[0] == "UNKNOWN"


def test_app_refs() -> None:
    assert app_of("app/support-bot:3") == ("support-bot", 3)
    assert app_of("support-bot") == ("support-bot", None)
    assert app_of(None) == (None, None) and app_of("") == (None, None)


def test_protobuf_from_the_real_sdk_encoder() -> None:
    spans = sdk_spans(traces=2, children=1, resource={"ripple.project": "support"}, error=True)
    batch = decode_protobuf(protobuf_export(spans))
    assert list(batch.rows) == ["support"] and batch.span_count == 4 and batch.rejected == 0
    rows = batch.rows["support"]
    child = next(r for r in rows if r["name"] == "child-0")
    root = next(r for r in rows if r["name"] == "root-0")
    assert child["parent_id"] == root["span_id"] and root["parent_id"] is None
    assert (child["status"], child["status_message"], child["kind"]) == ("error", "boom", "LLM")
    assert root["service_name"] == "test-svc" and root["attributes"]["input.value"] == "question 0"
    assert len(root["trace_id"]) == 32 and len(root["span_id"]) == 16


def test_json_values_and_errors() -> None:
    span = json_span(
        "AB" * 16, "cd" * 8, "s", {"i": 5, "f": 0.5, "b": True, "l": ["x", "y"]},
        status={"code": "STATUS_CODE_ERROR", "message": "bad"},
    )  # fmt: skip
    span["attributes"].append(
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"intValue": 1}}]}}}
    )
    row = decode_json(json_export([span])).rows[""][0]
    assert row["trace_id"] == "ab" * 16  # hex ids are taken in either case, stored lowercase
    assert row["attributes"] == {"i": 5, "f": 0.5, "b": True, "l": ["x", "y"], "kv": {"k": 1}}
    assert (row["status"], row["status_message"], row["start_ns"]) == ("error", "bad", 1700000000000000000)
    with pytest.raises(OtlpError, match=r"resourceSpans\[0\]\.scopeSpans must be a list"):
        decode_json(b'{"resourceSpans": [{"scopeSpans": 3}]}')
    with pytest.raises(OtlpError, match="not valid JSON"):
        decode_json(b"\xff")
    batch = decode_json(json_export([json_span("zz" * 16, "cd" * 8, "nothex", {})]))
    assert batch.rejected == 1 and "ids must be hex" in batch.errors[0]


def test_an_empty_export_is_no_spans() -> None:
    assert decode_protobuf(b"").span_count == 0
    assert decode_json(b"{}").span_count == 0


def test_spool_records_and_responses() -> None:
    record = spool_record("application/json", "support", b'{"resourceSpans": []}')
    assert unspool_record(record) == ("application/json", "support", b'{"resourceSpans": []}')
    assert unspool_record(spool_record("application/x-protobuf", None, b"\n\x00"))[1] is None
    assert decode("application/json", b"{}").span_count == 0
    assert project_of(None, "", "default") == "default" and project_of("h", "r", "d") == "h"
    assert project_of(None, "r", "d") == "r"
    assert ExportResult(3).response_json() == {}
    assert ExportResult(3, 1, "why").response_json() == {
        "partialSuccess": {"rejectedSpans": "1", "errorMessage": "why"}
    }
