"""OTLP payloads for tests, made by the real OpenTelemetry SDK and its real OTLP encoder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode


def sdk_spans(
    traces: int = 1, children: int = 2, resource: Mapping[str, Any] | None = None, error: bool = False
) -> list[ReadableSpan]:
    """``traces`` traces of a root and ``children`` children, finished by the real SDK."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "test-svc", **(resource or {})}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    for t in range(traces):
        with tracer.start_as_current_span(f"root-{t}", attributes={"input.value": f"question {t}"}) as root:
            for c in range(children):
                with tracer.start_as_current_span(f"child-{c}", attributes={"openinference.span.kind": "LLM"}) as s:
                    s.set_attribute("llm.token_count.prompt", 10)
                    s.set_attribute("llm.token_count.completion", 2)
                    if error and c == 0:
                        s.set_status(Status(StatusCode.ERROR, "boom"))
            root.set_attribute("output.value", f"answer {t}")
    provider.shutdown()
    return list(exporter.get_finished_spans())


def protobuf_export(spans: list[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString()


def trace_ids(spans: list[ReadableSpan]) -> set[str]:
    return {format(s.context.trace_id, "032x") for s in spans if s.context is not None}


def json_span(trace_id: str, span_id: str, name: str, attributes: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A span in OTLP/JSON (camelCase, hex ids, int64 as strings)."""
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": [{"key": k, "value": json_value(v)} for k, v in attributes.items()],
        "status": {"code": 1},
        **extra,
    }


def json_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [json_value(x) for x in v]}}
    return {"stringValue": str(v)}


def json_export(spans: list[dict[str, Any]], resource: Mapping[str, Any] | None = None) -> bytes:
    attributes = [
        {"key": k, "value": json_value(v)} for k, v in {"service.name": "json-svc", **(resource or {})}.items()
    ]
    doc = {
        "resourceSpans": [
            {"resource": {"attributes": attributes}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}
        ]
    }
    return json.dumps(doc).encode()
