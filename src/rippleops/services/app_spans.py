"""What every app call keeps besides its steps: the compiled app version it runs, the
totals it adds up, and its spans — the root span of the call, a span per step, the model
call's span with tokens and cost — ending in the call's :class:`AppRunRecord`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, Status, StatusCode

from rippleops.domain.apps import AppSpec
from rippleops.domain.records import AppRunRecord, GenerationRecord, PromptRecord, VersionRecord
from rippleops.runtime import tracing as tr
from rippleops.runtime.tracing import Tracing, record_error, set_attributes
from rippleops.services.app_tools import Tool

if TYPE_CHECKING:
    from rippleops.domain.app_requests import AppRequest
    from rippleops.domain.guards import GuardResult
    from rippleops.runtime.guards import Guard
    from rippleops.services.models import ModelCall

CANCELLED = "cancelled: the stream was closed before it ended (the client went away)"


@dataclass
class CompiledApp:
    """An app version with everything a call needs that does not change: the parsed spec,
    the exact version each reference was pinned to, and those versions' records (cached per
    app version by the apps service)."""

    record: VersionRecord
    spec: AppSpec
    pins: dict[str, str]  # reference as written -> exact version (from the recorded inputs)
    prompts: dict[str, PromptRecord]  # exact ref -> record
    prompt_vars: dict[str, frozenset[str]]  # exact prompt ref -> the variables it takes
    models: dict[str, VersionRecord]  # exact ref -> record
    guards: dict[str, Guard]  # exact policy ref -> guard
    tools: dict[str, Tool]
    arg_vars: dict[tuple[int, str], frozenset[str]]  # (step, argument) -> variables its template reads
    answer_model: str  # the exact model of the answering step

    def exact(self, ref: str) -> str:
        return self.pins[ref]


@dataclass
class Totals:
    generations: list[GenerationRecord] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    guards: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


class CallSpans:
    """The spans and the record of one call (the base of :class:`~rippleops.services.app_run.AppCall`)."""

    app: CompiledApp
    request: AppRequest
    question: str
    tracing: Tracing
    totals: Totals
    started: float
    root: Span | None
    _record: AppRunRecord | None

    def _llm_span(self, call: ModelCall, *, attempt: int = 0, parent: Span | None = None) -> Span:
        attrs = {tr.MODEL_REF: call.record.ref, tr.MODEL_NAME: call.content.get("model") or call.record.name,
                 tr.INPUT_VALUE: call.messages, "llm.invocation_parameters": call.params,
                 "ripple.reask": attempt or None}  # fmt: skip
        return self.tracing.start_span("generate", kind=tr.LLM, attributes=attrs, parent=parent or self.root)

    def _end_llm_span(
        self,
        span: Span,
        out: GenerationRecord | None,
        exc: BaseException | None,
        *,
        step: bool = True,
        cancelled: bool = False,
    ) -> None:
        if out is not None:
            self.totals.generations.append(out)
            ttft = out.time_to_first_token_s
            set_attributes(span, {
                tr.OUTPUT_VALUE: out.text, tr.TOKENS_PROMPT: out.usage.prompt_tokens,
                tr.TOKENS_COMPLETION: out.usage.completion_tokens, tr.TOKENS_TOTAL: out.usage.total_tokens,
                tr.COST_TOTAL: out.cost.total, "ripple.cost.currency": out.cost.currency,
                tr.LATENCY_MS: round(out.latency_s * 1000, 3), "ripple.finish_reason": out.finish_reason,
                "ripple.time_to_first_token_ms": None if ttft is None else round(ttft * 1000, 3),
            })  # fmt: skip
        if cancelled:
            span.set_attribute("ripple.cancelled", True)
            span.set_status(Status(StatusCode.ERROR, CANCELLED))
        elif exc is not None:
            record_error(span, exc)
        span.end()
        if step:
            self._step_done("generate", tr.LLM, span)

    def _guard_done(self, span: Span, result: GuardResult) -> None:
        findings = [f.model_dump(mode="json") for f in result.findings]
        set_attributes(span, {tr.GUARD_DECISION: result.decision, tr.GUARD_FINDINGS: findings,
                              tr.OUTPUT_VALUE: result.text, tr.LATENCY_MS: result.latency_ms,
                              "ripple.guard.blocked": result.blocked})  # fmt: skip
        self.totals.guards.append(
            {"stage": result.stage, "policy": result.policy, "decision": result.decision, "findings": findings}
        )

    def _start_root(self) -> Span:
        app = self.app.record
        meta = self.request.metadata
        attrs: dict[str, Any] = {
            tr.APP: app.ref,
            tr.INPUT_VALUE: self.question,
            "metadata": meta or None,
            "user.id": _str(meta.get("user_id")),
            "session.id": _str(meta.get("session_id")),
        }
        if self.request.history:
            attrs["ripple.history_turns"] = len(self.request.history)
        self.root = self.tracing.start_span(app.ref, kind=tr.CHAIN, attributes=attrs)
        return self.root

    @contextmanager
    def _step(self, name: str, kind: str, attrs: dict[str, Any], *, parent: Span | None = None) -> Iterator[Span]:
        span = self.tracing.start_span(name, kind=kind, attributes=attrs, parent=parent or self.root)
        try:
            yield span
        except BaseException as exc:
            record_error(span, exc)
            raise
        finally:
            span.end()
            if parent is None:
                self._step_done(name, kind, span)

    def _step_done(self, name: str, kind: str, span: Any) -> None:
        start, end = getattr(span, "start_time", None), getattr(span, "end_time", None)
        ms = (end - start) / 1e6 if start and end else 0.0
        self.totals.steps.append({"name": name, "kind": kind.lower(), "latency_ms": round(ms, 3)})

    def _finish(self, output: str, reason: str, *, blocked: bool = False) -> AppRunRecord:
        root = self.root
        assert root is not None
        gens = self.totals.generations
        usage = {
            "prompt_tokens": sum(g.usage.prompt_tokens for g in gens),
            "completion_tokens": sum(g.usage.completion_tokens for g in gens),
            "total_tokens": sum(g.usage.total_tokens for g in gens),
            "reported": all(g.usage.reported for g in gens),
        }
        currency = gens[0].cost.currency if gens else "USD"
        cost = {k: sum(getattr(g.cost, k) for g in gens) for k in ("input", "output", "total")}
        set_attributes(root, {tr.OUTPUT_VALUE: output, "ripple.finish_reason": reason, "ripple.blocked": blocked})
        root.set_status(Status(StatusCode.OK))
        trace_id = format(root.get_span_context().trace_id, "032x")
        root.end()
        self._record = AppRunRecord(
            app=self.app.record.ref, output=output, finish_reason=reason, blocked=blocked, trace_id=trace_id,
            usage=usage, cost={**cost, "currency": currency}, latency_s=round(time.perf_counter() - self.started, 6),
            sources=self.totals.sources, guards=self.totals.guards, steps=self.totals.steps,
        )  # fmt: skip
        return self._record


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
