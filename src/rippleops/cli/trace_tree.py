"""A trace as a Rich ``Tree``: one node per span (name, kind, duration, status) with the
attributes that matter for its kind, failures in red.

- LLM: the model version (or model name), tokens in/out, cost
- RETRIEVER: the index version and the top hits with their scores
- PROMPT: the prompt version rendered
- GUARDRAIL: policy, stage, decision, and the validators that did not pass
- TOOL: the tool's name, input and output
- the root (and any span with them): input and output, shortened
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from rich.tree import Tree

from rippleops.domain.records import SpanRecord, TraceRecord
from rippleops.runtime import tracing as t

PREVIEW = 80
TOP_HITS = 3
STATUS_STYLE = {"ok": "green", "error": "bold red", "unset": "dim"}
KIND_STYLE = {t.LLM: "magenta", t.RETRIEVER: "cyan", t.PROMPT: "blue", t.GUARDRAIL: "yellow", t.TOOL: "green"}


def trace_tree(trace: TraceRecord, *, full: bool = False) -> Tree:
    """The spans of ``trace`` hung under a header line; ``full`` shows every attribute."""
    head = Text.assemble(("trace ", "dim"), (trace.trace_id, "bold"))
    if trace.app:
        head.append(f"  {trace.app}", style="bold cyan")
    head.append(f"  {trace.status}", style=STATUS_STYLE.get(trace.status, ""))
    head.append(f"  {_ms(trace.duration_ms)}  {trace.start_time:%Y-%m-%d %H:%M:%S}Z", style="dim")
    if trace.total_tokens:
        head.append(f"  {trace.prompt_tokens}+{trace.completion_tokens} tokens", style="dim")
    if trace.cost:
        head.append(f"  cost {trace.cost:.6g}", style="dim")
    if not trace.complete:
        head.append("  (root span not received yet)", style="yellow")
    root = Tree(head)
    ids = {s.span_id for s in trace.spans}
    nodes: dict[str | None, Tree] = {}
    for span in trace.spans:  # tree order: a parent always comes first
        parent = nodes.get(span.parent_id) if span.parent_id in ids else root
        node = (parent or root).add(_label(span))
        for line in _details(span, full):
            node.add(line)
        nodes[span.span_id] = node
    return root


def _label(span: SpanRecord) -> Text:
    label = Text.assemble((span.name, "bold"), (f"  {span.kind}", KIND_STYLE.get(span.kind, "dim")))
    label.append(f"  {_ms(span.duration_ms)}", style="dim")
    if span.status == "error":
        label.append("  error", style="bold red")
    return label


def _details(span: SpanRecord, full: bool) -> list[Text]:
    a = span.attributes
    lines: list[Text] = []
    if span.kind == t.LLM:
        model = a.get(t.MODEL_REF) or a.get(t.MODEL_NAME)
        parts = [str(model)] if model else []
        if t.TOKENS_PROMPT in a or t.TOKENS_COMPLETION in a:
            parts.append(f"tokens {a.get(t.TOKENS_PROMPT, 0)} in, {a.get(t.TOKENS_COMPLETION, 0)} out")
        if t.COST_TOTAL in a:
            parts.append(f"cost {a[t.COST_TOTAL]}")
        if parts:
            lines.append(_line("model", "  ".join(parts)))
    elif span.kind == t.RETRIEVER:
        if t.INDEX_REF in a:
            lines.append(_line("index", str(a[t.INDEX_REF])))
        for hit in _documents(a)[:TOP_HITS]:
            score = hit.get("document.score")
            doc = hit.get("document.id", "?")
            text = _short(hit.get("document.content", ""), 60)
            shown = f"{score:.3f}" if isinstance(score, int | float) else "-"
            lines.append(_line("hit", f"{shown}  {doc}  {text}"))
    elif span.kind == t.PROMPT:
        if t.PROMPT_REF in a:
            lines.append(_line("prompt", str(a[t.PROMPT_REF])))
    elif span.kind == t.GUARDRAIL:
        guard = [str(a[k]) for k in (t.POLICY_REF, t.GUARD_STAGE) if k in a]
        decision = a.get(t.GUARD_DECISION)
        line = _line("policy", "  ".join(guard)) if guard else Text()
        if decision is not None:
            line.append(f"  decision {decision}", style="bold red" if decision in ("block", "error") else "bold")
        if guard or decision is not None:
            lines.append(line)
        for finding in _json_list(a.get(t.GUARD_FINDINGS)):
            if isinstance(finding, dict) and not finding.get("passed", True):
                msg = f"{finding.get('validator', '?')} ({finding.get('action', '?')}): {finding.get('message', '')}"
                lines.append(_line("finding", _short(msg, 100), style="red"))
    elif span.kind == t.TOOL and t.TOOL_NAME in a:
        lines.append(_line("tool", str(a[t.TOOL_NAME])))
    if span.parent_id is None or span.kind in (t.TOOL, t.AGENT) or full:
        for key, name in ((t.INPUT_VALUE, "input"), (t.OUTPUT_VALUE, "output")):
            if key in a:
                lines.append(_line(name, _short(a[key], PREVIEW)))
    if span.status == "error":
        lines.append(_line("error", span.status_message or "failed", style="red"))
        for event in span.events:
            if isinstance(event, dict) and event.get("name") == "exception" and not span.status_message:
                attrs = event.get("attributes") or {}
                lines.append(_line("exception", f"{attrs.get('exception.type')}: {attrs.get('exception.message')}"))
    if full:
        skip = {t.INPUT_VALUE, t.OUTPUT_VALUE, t.SPAN_KIND}
        for key in sorted(k for k in a if k not in skip):
            lines.append(_line(key, _short(a[key], PREVIEW * 2), style="dim"))
    return lines


def _line(name: str, value: str, *, style: str = "") -> Text:
    return Text.assemble((f"{name}: ", "dim"), (value, style))


def _ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return value if isinstance(value, list) else []


def _documents(a: dict[str, Any]) -> list[dict[str, Any]]:
    """Retrieved documents: a JSON list under ``retrieval.documents`` (Ripple's producers), or
    OpenInference's flattened ``retrieval.documents.N.document.*`` keys (other producers)."""
    docs = [d for d in _json_list(a.get(t.RETRIEVAL_DOCUMENTS)) if isinstance(d, dict)]
    if docs:
        return docs
    flat: dict[int, dict[str, Any]] = {}
    prefix = t.RETRIEVAL_DOCUMENTS + "."
    for key, value in a.items():
        if key.startswith(prefix):
            index, _, field = key[len(prefix) :].partition(".")
            if index.isdigit() and field:
                flat.setdefault(int(index), {})[field] = value
    return [flat[i] for i in sorted(flat)]
