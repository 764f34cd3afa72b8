"""Spans as rows of the ``spans`` table, from OTLP (protobuf or JSON) and from any producer.

Pure: no I/O. :func:`span_row` is the one place a span becomes a row, whatever it came
from (an OpenTelemetry SDK span in this process, OTLP/protobuf, OTLP/JSON). It keeps every
attribute as received and adds the OpenInference names Ripple reads (``input.value``,
``output.value``, ``llm.model_name``, ``llm.token_count.*``, ``llm.cost.total``) when a
span speaks the OpenTelemetry GenAI conventions instead (``gen_ai.*``), so queries and the
trace summary read one set of names. A span with GenAI attributes and no
``openinference.span.kind`` is an ``LLM`` span (``EMBEDDING``, ``TOOL`` or ``AGENT`` when
``gen_ai.operation.name`` says so).

>>> row = span_row("ab" * 16, "cd" * 8, None, "chat", 1_000_000, 3_000_000, "ok", "", "svc",
...                {"gen_ai.request.model": "gpt-x", "gen_ai.usage.input_tokens": 7}, [])
>>> row["kind"], row["attributes"]["llm.model_name"], row["attributes"]["llm.token_count.prompt"]
('LLM', 'gpt-x', 7)
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "JSON_TYPE",
    "PROTOBUF_TYPE",
    "ExportResult",
    "OtlpBatch",
    "OtlpError",
    "app_of",
    "decode",
    "decode_json",
    "decode_protobuf",
    "normalise",
    "project_of",
    "span_row",
    "spool_record",
    "unspool_record",
]

PROTOBUF_TYPE = "application/x-protobuf"
JSON_TYPE = "application/json"

PROJECT_ATTRIBUTE = "ripple.project"
NAME_MAX, SERVICE_MAX, KIND_MAX = 300, 200, 20
_HEX = re.compile(r"^[0-9a-f]+$")
_STATUS = {0: "unset", 1: "ok", 2: "error"}
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_KINDS = frozenset({"CHAIN", "LLM", "RETRIEVER", "PROMPT", "GUARDRAIL", "TOOL", "AGENT", "EMBEDDING", "RERANKER"})
_GENAI_OPERATION_KIND = {
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
}
_PROMPT_EVENTS = frozenset({"gen_ai.content.prompt", "gen_ai.system.message", "gen_ai.user.message"})
_COMPLETION_EVENTS = frozenset({"gen_ai.content.completion", "gen_ai.choice"})


class OtlpError(ValueError):
    """The payload is not an OTLP trace export (the route answers 400 with this message)."""


@dataclass
class OtlpBatch:
    """A decoded export: rows by project name ("" when no resource names one), and how many
    spans were refused (bad ids) with the first reasons."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def span_count(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < 5:
            self.errors.append(reason)


@dataclass(frozen=True)
class ExportResult:
    """What became of an export: spans accepted (queued) and rejected (invalid), and why."""

    accepted: int
    rejected: int = 0
    error_message: str = ""

    def response_json(self) -> dict[str, Any]:
        """The OTLP/JSON ``ExportTraceServiceResponse`` (int64 as a string)."""
        if not self.rejected:
            return {}
        return {"partialSuccess": {"rejectedSpans": str(self.rejected), "errorMessage": self.error_message}}

    def response_protobuf(self) -> bytes:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        response = ExportTraceServiceResponse()
        if self.rejected:
            response.partial_success.rejected_spans = self.rejected
            response.partial_success.error_message = self.error_message
        data: bytes = response.SerializeToString()
        return data


# -- the mapping -----------------------------------------------------------------------------------


def normalise(attributes: dict[str, Any], events: Iterable[Mapping[str, Any]] = ()) -> str:
    """Add the OpenInference names for what GenAI attributes (or events) say; return the kind.

    Attributes already present win: a span that carries both conventions keeps its own."""
    kind = attributes.get("openinference.span.kind")
    genai = any(k.startswith("gen_ai.") for k in attributes)
    if genai:
        _genai(attributes, events)
    if isinstance(kind, str) and kind:
        return kind.upper()[:KIND_MAX]
    if genai:
        return _GENAI_OPERATION_KIND.get(str(attributes.get("gen_ai.operation.name", "")), "LLM")
    if any(k.startswith("llm.") for k in attributes):
        return "LLM"
    return "UNKNOWN"


def _genai(a: dict[str, Any], events: Iterable[Mapping[str, Any]]) -> None:
    def put(key: str, *sources: str) -> None:
        if key in a:
            return
        for s in sources:
            value = a.get(s)
            if value is not None and value != "":
                a[key] = value
                return

    put("llm.model_name", "gen_ai.response.model", "gen_ai.request.model")
    put("llm.system", "gen_ai.system", "gen_ai.provider.name")
    put("llm.token_count.prompt", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    put("llm.token_count.completion", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    put("llm.token_count.total", "gen_ai.usage.total_tokens")
    put("llm.cost.total", "gen_ai.usage.cost")
    put("input.value", "gen_ai.input.messages", "gen_ai.prompt")
    put("output.value", "gen_ai.output.messages", "gen_ai.completion")
    if "input.value" not in a:
        _indexed(a, "gen_ai.prompt", "input.value")
    if "output.value" not in a:
        _indexed(a, "gen_ai.completion", "output.value")
    if "input.value" not in a or "output.value" not in a:
        prompts: list[Any] = []
        completions: list[Any] = []
        for event in events:
            name = str(event.get("name", ""))
            attrs = event.get("attributes") or {}
            if name in _PROMPT_EVENTS:
                prompts.append(attrs.get("gen_ai.prompt", attrs.get("content", attrs)))
            elif name in _COMPLETION_EVENTS:
                completions.append(attrs.get("gen_ai.completion", attrs.get("message", attrs.get("content", attrs))))
        if prompts and "input.value" not in a:
            a["input.value"] = _one_text(prompts)
        if completions and "output.value" not in a:
            a["output.value"] = _one_text(completions)


def _indexed(a: dict[str, Any], prefix: str, key: str) -> None:
    """OpenLLMetry's flattened messages: ``gen_ai.prompt.0.content``, ``gen_ai.prompt.1.content`` ..."""
    parts: list[tuple[int, str]] = []
    for k, v in a.items():
        if k.startswith(prefix + ".") and k.endswith(".content"):
            middle = k[len(prefix) + 1 : -len(".content")]
            if middle.isdigit():
                parts.append((int(middle), str(v)))
    if parts:
        a[key] = "\n".join(v for _, v in sorted(parts))


def _one_text(values: list[Any]) -> str:
    if len(values) == 1 and isinstance(values[0], str):
        return values[0]
    return json.dumps(values if len(values) > 1 else values[0], ensure_ascii=False, default=str)


def span_row(
    trace_id: str,
    span_id: str,
    parent_id: str | None,
    name: str,
    start_ns: int,
    end_ns: int,
    status: str,
    status_message: str,
    service_name: str,
    attributes: dict[str, Any],
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """One ``spans`` row (without ``project_id``): ``attributes`` is normalised in place."""
    end_ns = max(end_ns, start_ns)
    kind = normalise(attributes, events)
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_id": parent_id or None,
        "name": name[:NAME_MAX],
        "kind": kind,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "duration_ms": (end_ns - start_ns) / 1e6,
        "status": status,
        "status_message": status_message,
        "service_name": service_name[:SERVICE_MAX],
        "attributes": attributes,
        "events": events,
    }


_APP_REF = re.compile(r"^(?:app/)?([^@:/]+)(?::(\d+))?")


def app_of(ref: Any) -> tuple[str | None, int | None]:
    """``("support-bot", 3)`` from the root span's ``ripple.app`` (``app/support-bot:3``)."""
    if not isinstance(ref, str) or not ref:
        return None, None
    m = _APP_REF.match(ref)
    if m is None:
        return None, None
    return m.group(1), int(m.group(2)) if m.group(2) else None


def project_of(header: str | None, resource_project: str, default: str) -> str:
    """The project of a resource's spans: the ``X-Ripple-Project`` header, else the
    resource's ``ripple.project``, else ``default``."""
    return header or resource_project or default


def decode(content_type: str, body: bytes) -> OtlpBatch:
    """An export in ``content_type`` (:data:`PROTOBUF_TYPE` or :data:`JSON_TYPE`)."""
    return decode_json(body) if content_type == JSON_TYPE else decode_protobuf(body)


def spool_record(content_type: str, header_project: str | None, body: bytes) -> bytes:
    """What the spool keeps of an accepted export: enough to decode it again the same way."""
    head = f"{content_type}\n{header_project or ''}\n".encode()
    return head + body


def unspool_record(record: bytes) -> tuple[str, str | None, bytes]:
    """``(content_type, header_project, body)`` of a :func:`spool_record`."""
    first = record.index(b"\n")
    second = record.index(b"\n", first + 1)
    return record[:first].decode(), record[first + 1 : second].decode() or None, record[second + 1 :]


# -- OTLP/protobuf ---------------------------------------------------------------------------------


def decode_protobuf(body: bytes) -> OtlpBatch:
    """An ``ExportTraceServiceRequest`` in protobuf, as rows by project."""
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise OtlpError(f"the body is not an OTLP ExportTraceServiceRequest in protobuf: {exc}") from exc
    batch = OtlpBatch()
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        project = str(resource.get(PROJECT_ATTRIBUTE) or "")
        service = str(resource.get("service.name") or "")
        rows = batch.rows.setdefault(project, [])
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                trace_id, span_id = span.trace_id.hex(), span.span_id.hex()
                reason = _bad_ids(trace_id, span_id, span.name)
                if reason:
                    batch.reject(reason)
                    continue
                events = [
                    {"name": e.name, "time_ns": e.time_unix_nano, "attributes": _pb_attributes(e.attributes)}
                    for e in span.events
                ]
                rows.append(
                    span_row(
                        trace_id,
                        span_id,
                        span.parent_span_id.hex() or None,
                        span.name,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        _STATUS.get(span.status.code, "unset"),
                        span.status.message,
                        service,
                        _pb_attributes(span.attributes),
                        events,
                    )
                )
    batch.rows = {p: r for p, r in batch.rows.items() if r}
    return batch


def _pb_attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value) for kv in kvs}


def _pb_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, which)


def _bad_ids(trace_id: str, span_id: str, name: str) -> str | None:
    if len(trace_id) != 32 or trace_id == "0" * 32:
        return f"span {name!r}: traceId must be 16 bytes, not all zero"
    if len(span_id) != 16 or span_id == "0" * 16:
        return f"span {name!r}: spanId must be 8 bytes, not all zero"
    return None


# -- OTLP/JSON -------------------------------------------------------------------------------------


def decode_json(body: bytes) -> OtlpBatch:
    """An OTLP/JSON export (camelCase keys, hex ids, 64-bit integers as strings or numbers)."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OtlpError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
        raise OtlpError('an OTLP/JSON trace export is an object with a "resourceSpans" list')
    batch = OtlpBatch()
    for i, resource_spans in enumerate(doc.get("resourceSpans", [])):
        where = f"resourceSpans[{i}]"
        rs = _obj(resource_spans, where)
        resource = _json_attributes(_obj(rs.get("resource", {}), where + ".resource").get("attributes"), where)
        project = str(resource.get(PROJECT_ATTRIBUTE) or "")
        service = str(resource.get("service.name") or "")
        rows = batch.rows.setdefault(project, [])
        for j, scope_spans in enumerate(_list(rs.get("scopeSpans"), where + ".scopeSpans")):
            swhere = f"{where}.scopeSpans[{j}]"
            for k, span in enumerate(_list(_obj(scope_spans, swhere).get("spans"), swhere + ".spans")):
                row = _json_span(_obj(span, f"{swhere}.spans[{k}]"), f"{swhere}.spans[{k}]", service, batch)
                if row is not None:
                    rows.append(row)
    batch.rows = {p: r for p, r in batch.rows.items() if r}
    return batch


def _json_span(span: dict[str, Any], where: str, service: str, batch: OtlpBatch) -> dict[str, Any] | None:
    name = str(span.get("name", ""))
    trace_id = str(span.get("traceId", "")).lower()
    span_id = str(span.get("spanId", "")).lower()
    parent = str(span.get("parentSpanId", "") or "").lower()
    reason = _bad_ids(trace_id, span_id, name)
    if reason is None and not (_HEX.match(trace_id) and _HEX.match(span_id) and (not parent or _HEX.match(parent))):
        reason = f"span {name!r}: ids must be hex strings in OTLP/JSON"
    if reason:
        batch.reject(reason)
        return None
    status = _obj(span.get("status", {}), where + ".status")
    code = status.get("code", 0)
    code = _STATUS_NAMES.get(code, 0) if isinstance(code, str) else code
    events = [
        {
            "name": str(e.get("name", "")),
            "time_ns": _int(e.get("timeUnixNano", 0), where + ".events.timeUnixNano"),
            "attributes": _json_attributes(e.get("attributes"), where + ".events"),
        }
        for e in (_obj(x, where + ".events") for x in _list(span.get("events"), where + ".events"))
    ]
    return span_row(
        trace_id,
        span_id,
        parent or None,
        name,
        _int(span.get("startTimeUnixNano", 0), where + ".startTimeUnixNano"),
        _int(span.get("endTimeUnixNano", 0), where + ".endTimeUnixNano"),
        _STATUS.get(code, "unset"),
        str(status.get("message", "")),
        service,
        _json_attributes(span.get("attributes"), where),
        events,
    )


def _json_attributes(kvs: Any, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in _list(kvs, where + ".attributes"):
        kv = _obj(kv, where + ".attributes")
        out[str(kv.get("key", ""))] = _json_value(kv.get("value") or {}, where)
    return out


def _json_value(v: Any, where: str) -> Any:
    v = _obj(v, where + ".attributes.value")
    if "stringValue" in v:
        return str(v["stringValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return _int(v["intValue"], where + ".intValue")
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [_json_value(x, where) for x in _list(_obj(v["arrayValue"], where).get("values"), where)]
    if "kvlistValue" in v:
        return _json_attributes(_obj(v["kvlistValue"], where).get("values"), where)
    if "bytesValue" in v:
        return str(v["bytesValue"])
    return None


def _int(v: Any, where: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        raise OtlpError(f"{where}: {v!r} is not an integer") from None


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise OtlpError(f"{where} must be an object")
    return v


def _list(v: Any, where: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise OtlpError(f"{where} must be a list")
    return v
