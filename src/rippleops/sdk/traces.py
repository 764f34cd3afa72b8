"""``rp.traces`` (query traces) and ``rp.trace`` (trace your own code).

>>> page = rp.traces.list(app="support-bot", status="error", since="1h")          # doctest: +SKIP
>>> trace = rp.traces.get(page.items[0].trace_id)                                 # doctest: +SKIP
>>> [(s.name, s.kind, s.duration_ms) for s in trace.spans]                        # doctest: +SKIP

``rp.trace`` is a decorator and a context manager. Spans nest: inside a traced function,
a ``with rp.trace(...)`` block is its child; across ``asyncio`` tasks on their own; across
threads when the function handed to the thread is wrapped in ``rp.trace.propagate``.

>>> @rp.trace                                                # doctest: +SKIP
... def answer(question: str) -> str:
...     with rp.trace("lookup", kind="TOOL") as span:
...         span.set_attribute("tool.name", "faq")
...         return "..."
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from opentelemetry.trace import Span

from rippleops.domain.records import Page, TraceRecord, TraceSummaryRecord
from rippleops.domain.times import parse_time
from rippleops.errors import InvalidError
from rippleops.runtime.tracing import CHAIN, SPAN_KINDS, Tracing, current_span, propagate, set_attributes
from rippleops.sdk.transport import Transport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client

F = TypeVar("F", bound=Callable[..., Any])
TimeArg = datetime | str | None


class Traces:
    """Query the traces of a project: newest first with filters, or one with all its spans."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def list(
        self,
        *,
        app: str | None = None,
        version: int | None = None,
        status: str | None = None,
        min_latency_ms: float | None = None,
        max_latency_ms: float | None = None,
        since: TimeArg = None,
        until: TimeArg = None,
        attributes: Mapping[str, Any] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        project: str | None = None,
    ) -> Page:
        """A page of :class:`~rippleops.domain.records.TraceSummaryRecord`, newest first;
        pass ``page.next_cursor`` as ``cursor`` for the next one.

        ``app``: ``support-bot``, ``support-bot:3`` or ``support-bot@production``;
        ``since``/``until``: a datetime, an ISO time or a duration back from now (``"1h"``);
        ``attributes``: ``{"llm.model_name": "smollm2"}`` keeps traces where a span has it.

        >>> rp.traces.list(app="support-bot:3", min_latency_ms=500, since="1d")   # doctest: +SKIP
        """
        filters = {
            "app": app,
            "version": version,
            "status": status,
            "min_latency_ms": min_latency_ms,
            "max_latency_ms": max_latency_ms,
            "since": _time(since, "since"),
            "until": _time(until, "until"),
            "attributes": dict(attributes) if attributes else None,
        }
        return self._t.list_traces(self._client.project_of(project), filters, limit, cursor)

    def iter(self, *, page_size: int = 200, project: str | None = None, **filters: Any) -> Iterator[TraceSummaryRecord]:
        """Every matching trace summary, newest first, fetched a page at a time."""
        cursor: str | None = None
        while True:
            page = self.list(limit=page_size, cursor=cursor, project=project, **filters)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    def get(self, trace_id: str, *, project: str | None = None) -> TraceRecord:
        """One trace with every span (``trace.spans``: depth first, siblings by start time)."""
        return self._t.get_trace(self._client.project_of(project), trace_id)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until the spans of ``rp.trace`` made so far are stored (embedded) or sent to
        the server (remote), so that a query sees them. ``rp.close()`` flushes too."""
        self._t.flush_traces(timeout_s)


class TraceScope(AbstractContextManager[Span]):
    """What ``rp.trace("name", ...)`` returns: a context manager giving the span, and a
    decorator. Each ``with`` starts a new span, child of the current one."""

    def __init__(
        self, api: TraceApi, name: str | None, kind: str, attributes: Mapping[str, Any] | None, capture: bool
    ) -> None:
        self._api = api
        self.name = name
        self.kind = kind
        self.attributes = dict(attributes or {})
        self.capture = capture
        self._open: builtins.list[AbstractContextManager[Span]] = []  # entered blocks, innermost last

    def __enter__(self) -> Span:
        cm = self._api.tracing().span(self.name or "block", kind=self.kind, attributes=self.attributes)
        span = cm.__enter__()
        self._open.append(cm)
        return span

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return self._open.pop().__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        tracing = self._api.tracing()
        traced = tracing.decorate(fn, name=self.name, kind=self.kind, capture=self.capture, attributes=self.attributes)
        return cast(F, traced)


class TraceApi:
    """``rp.trace``: trace user code as spans of the client's project.

    - ``@rp.trace`` / ``@rp.trace(name="x", kind="TOOL")``: a span per call of a function
      (sync, async, generator or async generator), arguments as ``input.value`` and the
      result as ``output.value`` (``capture=False`` leaves both out);
    - ``with rp.trace("step") as span:`` a span around a block (``async with`` too);
    - ``rp.trace.propagate(fn)``: ``fn`` bound to the current span, to run in another thread;
    - ``rp.trace.current_span()``, ``rp.trace.trace_id(span)`` (to find the trace with
      ``rp.traces.get``) and ``rp.trace.set_attributes(span, {...})`` (values that are not
      strings, numbers or booleans are stored as JSON).

    An exception leaving a span marks it ``error`` (with the exception as an event) and goes on.
    """

    propagate = staticmethod(propagate)
    current_span = staticmethod(current_span)
    set_attributes = staticmethod(set_attributes)

    def __init__(self, client: Client) -> None:
        self._client = client

    @staticmethod
    def trace_id(span: Span | None = None) -> str | None:
        """The 32-hex id of ``span``'s trace (default: the current span's), to look it up
        with ``rp.traces.get``; None outside any span."""
        ctx = (span or current_span()).get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

    def tracing(self, project: str | None = None) -> Tracing:
        """The client's :class:`~rippleops.runtime.tracing.Tracing` for ``project``."""
        return self._client.transport.tracing(self._client.project_of(project))

    @overload
    def __call__(self, fn: F, /) -> F: ...
    @overload
    def __call__(
        self,
        span_name: str | None = None,
        /,
        *,
        name: str | None = None,
        kind: str = CHAIN,
        attributes: Mapping[str, Any] | None = None,
        capture: bool = True,
    ) -> TraceScope: ...
    def __call__(
        self,
        target: Any = None,
        /,
        *,
        name: str | None = None,
        kind: str = CHAIN,
        attributes: Mapping[str, Any] | None = None,
        capture: bool = True,
    ) -> Any:
        span_kind = _kind(kind)
        if callable(target):
            return TraceScope(self, name, span_kind, attributes, capture)(target)
        if target is not None and not isinstance(target, str):
            raise InvalidError(f"rp.trace takes a function or a span name, not {type(target).__name__}")
        return TraceScope(self, target or name, span_kind, attributes, capture)


def _kind(kind: str) -> str:
    upper = kind.upper() if isinstance(kind, str) else ""
    if upper not in SPAN_KINDS:
        raise InvalidError(f"span kind {kind!r} is not known; use one of: {', '.join(SPAN_KINDS)}")
    return upper


def _time(value: TimeArg, option: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_time(value, future=False, option=option)
