"""Pure ASGI middleware: the request size limit and the Prometheus request metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) keeps the per-request cost to a few microseconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rippleops.errors import PayloadTooLargeError
from rippleops.server.errors import error_response

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"  # the route label of requests no route took (keeps label cardinality bounded)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with a 413: at once when ``Content-Length``
    says so, else by counting the streamed (chunked) bytes before the app sees any.

    Paths matching ``streamed`` (dataset uploads) pass through unbuffered: their route
    streams the body to disk and enforces a limit of its own. ``limits`` gives some paths a
    limit of their own (``/v1/traces``: ``RIPPLE_MAX_TRACE_PAYLOAD_BYTES``), named by
    ``(limit, setting)``."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        streamed: re.Pattern[str] | None = None,
        limits: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.streamed is not None and self.streamed.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        max_bytes, setting = self.limits.get(scope["path"], (self.max_bytes, "RIPPLE_MAX_PAYLOAD_BYTES"))
        length = _content_length(scope)
        if length is not None:
            if length > max_bytes:
                await self._refuse(scope, receive, send, f"{length} bytes", max_bytes, setting)
                return
            await self.app(scope, receive, send)  # the HTTP server holds the client to Content-Length
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > max_bytes:
                await self._refuse(scope, receive, send, f"over {max_bytes} bytes", max_bytes, setting)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        buffered: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal buffered
            if buffered is not None:
                message, buffered = buffered, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, size: str, max_bytes: int, setting: str
    ) -> None:
        err = PayloadTooLargeError(
            f"the request body is {size}; the limit is {max_bytes} bytes ({setting})", details={"limit": max_bytes}
        )
        await error_response(err, headers={"Connection": "close"})(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass(frozen=True, slots=True)
class HTTPMetrics:
    """The app's metrics, in a registry of its own (two apps in one process never clash)."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> HTTPMetrics:
        registry = CollectorRegistry(auto_describe=True)
        labels = ("method", "route", "status")
        return cls(
            registry=registry,
            requests=Counter("ripple_http_requests", "HTTP requests served", labels, registry=registry),
            latency=Histogram(
                "ripple_http_request_duration_seconds",
                "Time to serve an HTTP request",
                labels,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
        )


class Metrics:
    """Count every request and time it, labelled by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: HTTPMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            labels = (scope["method"], getattr(route, "path", UNMATCHED), str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - start)
