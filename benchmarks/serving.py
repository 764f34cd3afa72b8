"""Serving overhead of the OpenAI-compatible routes, with a real small app (a chat prompt on
the shipped SmolLM2, 2 tokens per answer) served by the lean ``ripple serve`` app.

For each request, from its trace (``X-Ripple-Trace-Id``):

- route overhead = request time - the app's root span (parsing, auth, JSON/SSE, ASGI);
- serving overhead = request time - the model (LLM) and retrieval spans: everything Ripple
  adds on the app path, the route included. Target: < 2 ms p50.

Measured in-process (httpx over ASGI, no sockets) and over HTTP (the official openai client
against uvicorn on 127.0.0.1), non-streaming and streaming.

    HF_HUB_OFFLINE=1 python benchmarks/serving.py [N]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from typing import Any

import httpx
import openai
import uvicorn
from _common import fresh_home
from sqlalchemy import select

from rippleops.domain.prompts import parse_spec
from rippleops.server.serving import create_serving_app
from rippleops.services import Services
from rippleops.store.models.traces import Span

os.environ.setdefault("HF_HUB_OFFLINE", "1")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
P = "default"
BODY = {"model": "support-bot", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 2}


def setup(services: Services) -> None:
    who = services.access.local_admin()
    services.models.create(who, P, "local-smollm", {"provider": "local"})
    services.prompts.create(
        who, P, "chat",
        parse_spec({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{ question }}"}],
                    "params": {"temperature": 0, "max_tokens": 2}}),
    )  # fmt: skip
    services.apps.create(
        who, P, "support-bot",
        {"steps": [{"render": {"prompt": "prompt/chat"}}, {"generate": {"model": "model/local-smollm"}}]},
    )  # fmt: skip


def overheads(services: Services, samples: list[tuple[str, float]]) -> tuple[list[float], list[float]]:
    """(route overhead, serving overhead) per request, in seconds, from the stored spans."""
    services.trace_ingest.flush()
    ids = [t for t, _ in samples]
    with services.db.reading() as s:
        rows = s.execute(
            select(Span.trace_id, Span.parent_id, Span.kind, Span.duration_ms).where(Span.trace_id.in_(ids))
        ).all()
    root: dict[str, float] = {}
    model: dict[str, float] = {}
    for trace_id, parent, kind, ms in rows:
        if parent is None:
            root[trace_id] = ms / 1000
        elif kind in ("LLM", "RETRIEVER"):
            model[trace_id] = model.get(trace_id, 0.0) + ms / 1000
    route = [t - root[i] for i, t in samples if i in root]
    serving = [t - model.get(i, 0.0) for i, t in samples if i in root]
    return route, serving


class ServerClock:
    """An ASGI wrapper timing each request inside the server: from the moment the app is
    called to its last response byte, so the client library's own time is left out."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: dict[str, float] = {}  # trace id -> seconds in the server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t = time.perf_counter()
        trace_id = ""

        async def timed_send(message: Any) -> None:
            nonlocal trace_id
            if message["type"] == "http.response.start":
                trace_id = dict(message.get("headers", [])).get(b"x-ripple-trace-id", b"").decode()
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body") and trace_id:
                self.times[trace_id] = time.perf_counter() - t

        await self.app(scope, receive, timed_send)


def server_side(clock: ServerClock, samples: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The same requests, timed inside the server."""
    return [(i, clock.times[i]) for i, _ in samples if i in clock.times]


def show(name: str, values: list[float]) -> None:
    s = sorted(values)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))] * 1e3  # noqa: E731
    print(
        f"{name:<52} p50 {p(0.5):7.3f} ms   p99 {p(0.99):7.3f} ms   mean {statistics.mean(s) * 1e3:7.3f} ms  (n={len(s)})"
    )


async def models_list(app: Any) -> list[float]:
    """GET /v1/models in-process: the fixed cost of a /v1 request (ASGI, middleware, one
    worker-thread hop, JSON) with no app behind it, as a yardstick of the machine."""
    out: list[float] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as c:
        for i in range(N + 10):
            t = time.perf_counter()
            r = await c.get("/v1/models")
            elapsed = time.perf_counter() - t
            assert r.status_code == 200, r.text
            if i >= 10:
                out.append(elapsed)
    return out


async def in_process(app: Any, stream: bool) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as c:
        for i in range(N + 10):
            t = time.perf_counter()
            if stream:
                async with c.stream("POST", "/v1/chat/completions", json={**BODY, "stream": True}) as r:
                    async for _ in r.aiter_bytes():
                        pass
            else:
                r = await c.post("/v1/chat/completions", json=BODY)
            elapsed = time.perf_counter() - t
            assert r.status_code == 200, r.text if not stream else r.status_code
            if i >= 10:  # warm-up
                out.append((r.headers["x-ripple-trace-id"], elapsed))
    return out


def over_http(url: str, stream: bool) -> list[tuple[str, float]]:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    out: list[tuple[str, float]] = []
    for i in range(N + 10):
        t = time.perf_counter()
        if stream:
            with client.chat.completions.with_streaming_response.create(**BODY, stream=True) as r:  # type: ignore[call-overload]
                for _ in r.iter_lines():
                    pass
                trace_id = r.headers["x-ripple-trace-id"]
        else:
            raw = client.chat.completions.with_raw_response.create(**BODY)  # type: ignore[call-overload]
            raw.parse()
            trace_id = raw.headers["x-ripple-trace-id"]
        elapsed = time.perf_counter() - t
        if i >= 10:
            out.append((trace_id, elapsed))
    return out


def main() -> None:
    settings = fresh_home(os.environ.get("BENCH_POSTGRES_URL"))
    services = Services(settings)
    setup(services)
    app = ServerClock(create_serving_app(settings, ["support-bot"], services=services))
    print(
        f"{N} requests per row; app/support-bot:1 (render + generate 2 tokens on SmolLM2); {services.db.safe_url.split(':')[0]}"
    )
    show("in-process ASGI: GET /v1/models (no app: the fixed cost)", asyncio.run(models_list(app)))
    for stream in (False, True):
        kind = "stream" if stream else "json"
        samples = asyncio.run(in_process(app, stream))
        route, serving = overheads(services, samples)
        show(f"in-process ASGI, {kind}: route overhead (client included)", route)
        show(f"in-process ASGI, {kind}: serving overhead (client included)", serving)
        route, serving = overheads(services, server_side(app, samples))
        show(f"in-process ASGI, {kind}: route overhead, in the server", route)
        show(f"in-process ASGI, {kind}: serving overhead, in the server (target < 2 ms)", serving)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        for stream in (False, True):
            kind = "stream" if stream else "json"
            samples = over_http(url, stream)
            route, serving = overheads(services, samples)
            show(f"HTTP + openai client, {kind}: serving overhead (client included)", serving)
            route, serving = overheads(services, server_side(app, samples))
            show(f"HTTP + openai client, {kind}: route overhead, in the server", route)
            show(f"HTTP + openai client, {kind}: serving overhead, in the server (target < 2 ms)", serving)
    finally:
        server.should_exit = True
        thread.join(10)
        services.close()


if __name__ == "__main__":
    main()
