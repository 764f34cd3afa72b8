"""In-process tracing on the OpenTelemetry SDK: the spans of app calls and of user code.

Ripple does not hand-write a tracer: spans are OpenTelemetry spans, made by a
``TracerProvider`` of Ripple's own (never the global one, so a user's OpenTelemetry set-up
is left alone). Context is OpenTelemetry's (``contextvars``), so spans nest through
``asyncio`` tasks on their own, through threads with :func:`propagate`, and under (or over)
the spans of any other OpenTelemetry instrumentation in the process.

Attributes follow the OpenInference conventions where they have a name for the thing
(``input.value``, ``llm.token_count.prompt``, ``retrieval.documents``), and ``ripple.*``
for what is Ripple's own (the exact asset versions a step used, guard decisions). A value
that is not a primitive (or a list of one type of primitive) is stored as its JSON text.

Finished spans go to a ``sink`` (a callable taking a list of ``ReadableSpan``), which the
traces service supplies: in-process it queues them for the batched writer; the remote SDK
exports them over OTLP/HTTP. The sink must not block.

>>> tracing = Tracing(lambda spans: None)
>>> with tracing.span("answer", kind=CHAIN, attributes={INPUT_VALUE: "hi"}) as span:
...     span.set_attribute(OUTPUT_VALUE, "hello")
>>> tracing.shutdown()
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import Span, Status, StatusCode

__all__ = [
    "AGENT",
    "CHAIN",
    "EMBEDDING",
    "GUARDRAIL",
    "INPUT_VALUE",
    "LLM",
    "OUTPUT_VALUE",
    "PROMPT",
    "RETRIEVER",
    "SPAN_KIND",
    "SPAN_KINDS",
    "TOOL",
    "UNKNOWN",
    "Span",
    "SpanSink",
    "Tracing",
    "current_span",
    "propagate",
    "set_attributes",
]

# -- span kinds (OpenInference's ``openinference.span.kind`` values) -----------------------------
CHAIN = "CHAIN"  # an app call, or any step made of steps; user code by default
LLM = "LLM"  # a model call
RETRIEVER = "RETRIEVER"  # an index search
PROMPT = "PROMPT"  # rendering a prompt version
GUARDRAIL = "GUARDRAIL"  # a policy check (input or output)
TOOL = "TOOL"  # a tool call
AGENT = "AGENT"  # an agent loop
EMBEDDING = "EMBEDDING"
UNKNOWN = "UNKNOWN"
SPAN_KINDS = (CHAIN, LLM, RETRIEVER, PROMPT, GUARDRAIL, TOOL, AGENT, EMBEDDING, UNKNOWN)

# -- attribute keys every producer uses (the traces service maps and indexes these) ---------------
SPAN_KIND = "openinference.span.kind"
INPUT_VALUE = "input.value"
OUTPUT_VALUE = "output.value"
MODEL_NAME = "llm.model_name"
TOKENS_PROMPT = "llm.token_count.prompt"
TOKENS_COMPLETION = "llm.token_count.completion"
TOKENS_TOTAL = "llm.token_count.total"
COST_TOTAL = "llm.cost.total"  # in the model version's currency
RETRIEVAL_DOCUMENTS = "retrieval.documents"  # JSON list of {document.id, document.content, document.score}
TOOL_NAME = "tool.name"
PROJECT = "ripple.project"
APP = "ripple.app"  # the exact app version, e.g. app/support-bot:3
PROMPT_REF = "ripple.prompt"  # the exact prompt version rendered
MODEL_REF = "ripple.model"  # the exact model version called
INDEX_REF = "ripple.index"  # the exact index version searched
POLICY_REF = "ripple.policy"  # the exact policy version applied
GUARD_STAGE = "ripple.guard.stage"  # input | output | stream
GUARD_DECISION = "ripple.guard.decision"  # allow | warn | redact | fix | reask | block | error
GUARD_FINDINGS = "ripple.guard.findings"  # JSON list of per-validator results (with latency_ms)
LATENCY_MS = "ripple.latency_ms"

SpanSink = Callable[[Sequence[ReadableSpan]], None]
P = ParamSpec("P")
R = TypeVar("R")
_PRIMITIVES = (str, bool, int, float)


class _SinkProcessor(SpanProcessor):
    """Hands each finished span to the sink at once (the sink queues; it never blocks)."""

    def __init__(self, sink: SpanSink) -> None:
        self.sink = sink

    def on_end(self, span: ReadableSpan) -> None:
        self.sink((span,))


class Tracing:
    """One tracer provider whose finished spans go to ``sink``.

    ``project`` (when given) is set as ``ripple.project`` on every span this object starts,
    so the traces service knows where a span belongs."""

    def __init__(self, sink: SpanSink, *, service_name: str = "ripple", project: str | None = None) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(_SinkProcessor(sink))
        self.tracer = self.provider.get_tracer("rippleops")
        self.project = project

    @contextmanager
    def span(
        self,
        name: str,
        *,
        kind: str = CHAIN,
        attributes: Mapping[str, Any] | None = None,
        parent: Span | None = None,
    ) -> Iterator[Span]:
        """A span, current inside the block, child of the current span (or of ``parent``).

        An exception leaving the block is recorded on the span (status ERROR) and re-raised."""
        ctx = otel_trace.set_span_in_context(parent) if parent is not None else None
        with self.tracer.start_as_current_span(name, context=ctx, attributes=self._attrs(kind, attributes)) as span:
            yield span

    def start_span(
        self,
        name: str,
        *,
        kind: str = CHAIN,
        attributes: Mapping[str, Any] | None = None,
        parent: Span | None = None,
    ) -> Span:
        """A span that is not made current: for work that spans ``yield`` points (a stream);
        end it with ``span.end()``. Make it current around a piece of work with
        ``opentelemetry.trace.use_span(span, end_on_exit=False)``."""
        ctx = otel_trace.set_span_in_context(parent) if parent is not None else None
        return self.tracer.start_span(name, context=ctx, attributes=self._attrs(kind, attributes))

    def decorate(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        kind: str = CHAIN,
        capture: bool = True,
        attributes: Mapping[str, Any] | None = None,
    ) -> Callable[P, R]:
        """``fn`` traced: a span per call, with its arguments as ``input.value`` and its
        result as ``output.value`` (when ``capture``), plus fixed ``attributes``. Sync and
        async functions and generators alike (a generator's span lasts until it is exhausted
        or closed)."""
        span_name: str = name or str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "call"))
        fixed = dict(attributes or {})

        def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            return {**fixed, INPUT_VALUE: _io_value(args, kwargs)} if capture else fixed

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                with self.span(span_name, kind=kind, attributes=inputs(args, kwargs)) as span:
                    n = 0
                    async for item in fn(*args, **kwargs):
                        n += 1
                        yield item
                    span.set_attribute("ripple.items", n)

            return cast(Callable[P, R], agen)
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def acall(*args: Any, **kwargs: Any) -> Any:
                with self.span(span_name, kind=kind, attributes=inputs(args, kwargs)) as span:
                    result = await fn(*args, **kwargs)
                    if capture:
                        set_attributes(span, {OUTPUT_VALUE: result})
                    return result

            return cast(Callable[P, R], acall)
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen(*args: Any, **kwargs: Any) -> Iterator[Any]:
                with self.span(span_name, kind=kind, attributes=inputs(args, kwargs)) as span:
                    n = 0
                    for item in fn(*args, **kwargs):
                        n += 1
                        yield item
                    span.set_attribute("ripple.items", n)

            return cast(Callable[P, R], gen)

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.span(span_name, kind=kind, attributes=inputs(args, kwargs)) as span:
                result = fn(*args, **kwargs)
                if capture:
                    set_attributes(span, {OUTPUT_VALUE: result})
                return result

        return call

    def flush(self, timeout_s: float = 5.0) -> bool:
        return self.provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        self.provider.shutdown()

    def _attrs(self, kind: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        out = {SPAN_KIND: kind}
        if self.project is not None:
            out[PROJECT] = self.project
        if attributes:
            out.update(otel_attributes(attributes))
        return out


def current_span() -> Span:
    """The current span (a non-recording one when there is none)."""
    return otel_trace.get_current_span()


def set_attributes(span: Span, attributes: Mapping[str, Any]) -> None:
    """Set attributes on ``span``, JSON-encoding values OpenTelemetry cannot hold."""
    span.set_attributes(otel_attributes(attributes))


def record_error(span: Span, exc: BaseException) -> None:
    """Mark ``span`` failed with ``exc`` (for spans ended by hand, e.g. a stream's)."""
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def otel_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, _PRIMITIVES):
            out[key] = value
        elif isinstance(value, list | tuple) and _homogeneous(value):
            out[key] = list(value)
        else:
            out[key] = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    return out


def _homogeneous(values: Sequence[Any]) -> bool:
    """OpenTelemetry holds a list only when all its items are of one primitive type."""
    if not values:
        return False
    first = type(values[0])
    return first in (str, bool, int, float) and all(type(v) is first for v in values)


def _io_value(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not kwargs and len(args) == 1:
        return args[0]
    return {"args": list(args), "kwargs": kwargs} if kwargs else list(args)


def propagate(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` bound to the current trace context, for running in another thread::

    pool.submit(propagate(work), item)   # work's spans nest under the current span
    """
    ctx = otel_context.get_current()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = otel_context.attach(ctx)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return run
