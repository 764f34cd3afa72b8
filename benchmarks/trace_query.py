"""Trace queries on a large store: get one trace by id, the latest 50, a filtered list and
attribute filters, through the service (in-process) and through REST (the real server in
its own process, keep-alive HTTP). Target: get-by-id and latest 50 < 10 ms p50.

The store is filled in bulk through the batched writer's own statement (default 100,000
traces x 5 spans: an app call with guard, retrieve, render and generate steps; three apps,
three models, 5% errors, spread over a week), so the summaries are the writer's.

    python benchmarks/trace_query.py                                   # SQLite
    python benchmarks/trace_query.py postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/trace_query.py --traces 20000                    # a smaller store
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from _common import fresh_home

from rippleops.services import Services
from rippleops.services.trace_writer import write_batch

APPS = ("support-bot", "triage", "summarise")
MODELS = ("smollm2", "qwen-0.5b", "llama-1b")
RARE_MODEL = "rare-model"  # on 0.1% of the traces
CHUNK = 5_000
SEC = 1_000_000_000


def _hex(rng: random.Random, nbytes: int) -> str:
    return rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


def fill(services: Services, n: int, seed: int = 7) -> list[str]:
    """``n`` traces of 5 spans each, newest ending now; returns every trace id."""
    rng = random.Random(seed)
    with services.db.reading() as s:
        pid = s.execute(sa.text("SELECT id FROM projects WHERE name = 'default'")).scalar_one()
    now = time.time_ns()
    week = 7 * 86_400 * SEC
    ids: list[str] = []
    spans: list[dict[str, object]] = []

    def flush() -> None:  # the batched writer's own statement (COPY on PostgreSQL), summaries included
        with services.db._write() as s, s.begin():
            write_batch(s, services.db.dialect, spans)
        spans.clear()

    for i in range(n):
        tid = _hex(rng, 16)
        ids.append(tid)
        app = APPS[i % 3]
        version = 1 + (i // 3) % 3
        start = now - week + (week * i) // n
        total = rng.lognormvariate(6.0, 0.6)  # ms, median ~400
        error = rng.random() < 0.05
        model = RARE_MODEL if i % 1000 == 0 else MODELS[rng.randrange(3)]
        pt, ct = rng.randrange(50, 800), rng.randrange(5, 200)
        question = f"question {i}: how do I roll back prompt number {i % 97}?"
        root = _hex(rng, 8)
        steps = [
            ("guard input", "GUARDRAIL", {"ripple.policy": "policy/default:1", "ripple.guard.decision": "allow"}),
            ("retrieve", "RETRIEVER", {"ripple.index": "index/docs:2", "retrieval.documents": json.dumps(
                [{"document.id": f"doc-{j}", "document.score": 0.9 - j / 10} for j in range(3)])}),
            ("render", "PROMPT", {"ripple.prompt": "prompt/answer:3"}),
            ("generate", "LLM", {"llm.model_name": model, "llm.token_count.prompt": pt,
                                 "llm.token_count.completion": ct, "llm.cost.total": (pt + ct) * 1e-6}),
        ]  # fmt: skip
        common = {"project_id": pid, "trace_id": tid, "service_name": "bench", "events": []}
        spans.append({**common, "span_id": root, "parent_id": None, "name": f"app/{app}:{version}", "kind": "CHAIN",
                      "start_ns": start, "end_ns": start + int(total * 1e6), "duration_ms": total,
                      "status": "error" if error else "ok", "status_message": "boom" if error else "",
                      "attributes": {"openinference.span.kind": "CHAIN", "ripple.app": f"app/{app}:{version}",
                                     "input.value": question, "output.value": "Move the label back."}})  # fmt: skip
        at = start
        for name, kind, attrs in steps:
            d = total / 5
            spans.append({**common, "span_id": _hex(rng, 8), "parent_id": root, "name": name, "kind": kind,
                          "start_ns": at, "end_ns": at + int(d * 1e6), "duration_ms": d, "status": "ok",
                          "status_message": "", "attributes": {"openinference.span.kind": kind, **attrs}})  # fmt: skip
            at += int(d * 1e6)
        if len(spans) >= CHUNK * 5:
            flush()
    if spans:
        flush()
    with services.db.engine.begin() as conn:  # fresh statistics, as autovacuum / a DBA would leave them
        conn.execute(sa.text("ANALYZE"))
    return ids


def measure(fn: Callable[[], object], n: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def report(name: str, samples: list[float], target: str = "") -> None:
    s = sorted(samples)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))] * 1e3  # noqa: E731
    line = f"{name:<58} p50 {p(0.5):7.2f} ms   p99 {p(0.99):7.2f} ms   mean {statistics.mean(s) * 1e3:7.2f} ms"
    print(line + (f"   (target {target})" if target else ""), flush=True)


def serve() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rippleops.server", "--port", str(port)], env=dict(os.environ), stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + "/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("database_url", nargs="?", help="a PostgreSQL URL (default: SQLite in a temp home)")
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("-n", type=int, default=300, help="samples per measurement")
    args = ap.parse_args()
    settings = fresh_home(args.database_url)
    services = Services(settings)
    db = "PostgreSQL" if args.database_url else "SQLite"
    t = time.perf_counter()
    ids = fill(services, args.traces)
    print(f"{db}: {args.traces:,} traces x 5 spans stored in {time.perf_counter() - t:.1f} s", flush=True)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    q = services.traces
    rng = random.Random(1)
    n = args.n
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    deep = q.list(admin, "default", limit=50)
    for _ in range(100):  # the cursor of page 101 (5,000 traces in)
        deep = q.list(admin, "default", limit=50, cursor=deep.next_cursor)
    cases: list[tuple[str, Callable[[], object], dict[str, object], str]] = [
        ("get by id", lambda: q.get(admin, "default", rng.choice(ids)), {}, "< 10 ms"),
        ("list latest 50", lambda: q.list(admin, "default"), {"limit": 50}, "< 10 ms"),
        ("list page 101 (cursor)", lambda: q.list(admin, "default", cursor=deep.next_cursor),
         {"cursor": deep.next_cursor}, ""),
        ("list app=support-bot:2 status=error", lambda: q.list(admin, "default", app="support-bot:2", status="error"),
         {"app": "support-bot:2", "status": "error"}, ""),
        ("list min_latency_ms=1000 since 2 days", lambda: q.list(admin, "default", min_latency_ms=1000,
                                                                 since=two_days_ago),
         {"min_latency_ms": 1000, "since": "2d"}, ""),
        ("list attr llm.model_name=smollm2 (1 in 3)",
         lambda: q.list(admin, "default", attributes={"llm.model_name": "smollm2"}),
         {"attr": "llm.model_name=smollm2"}, ""),
        (f"list attr llm.model_name={RARE_MODEL} (1 in 1000)",
         lambda: q.list(admin, "default", attributes={"llm.model_name": RARE_MODEL}),
         {"attr": f"llm.model_name={RARE_MODEL}"}, ""),
    ]  # fmt: skip
    for name, fn, _, target in cases:
        rare = "1 in 1000" in name
        report(f"service  {name}", measure(fn, max(5, n // 20) if rare else n, 2 if rare else 20), target)

    services.close()
    proc, url = serve()
    try:
        token = settings.token_file.read_text().strip()
        http = httpx.Client(base_url=url + "/api/v1/projects/default", headers={"Authorization": f"Bearer {token}"})
        report("REST     GET /healthz (the HTTP round trip alone)", measure(lambda: http.get(url + "/healthz"), n))
        for name, _, params, target in cases:
            rare = "1 in 1000" in name
            if name == "get by id":
                fn: Callable[[], object] = lambda: http.get(f"/traces/{rng.choice(ids)}").raise_for_status()  # noqa: E731
            else:
                fn = lambda p=params: http.get("/traces", params=p).raise_for_status()  # type: ignore[misc]  # noqa: E731
            report(f"REST     {name}", measure(fn, max(5, n // 20) if rare else n, 2 if rare else 20), target)
        http.close()
    finally:
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    main()
