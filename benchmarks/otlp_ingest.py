"""OTLP ingestion through the real HTTP endpoint until every span is queryable.

The real server runs in its own process (``python -m rippleops.server``, as deployed);
several sender threads POST OTLP/protobuf exports (``--traces-per-request`` traces of 5 spans
each: a root app span, a prompt, a retriever and an LLM span with tokens, a guard) over
keep-alive httpx connections, retrying after ``Retry-After`` on a 429 as OTLP exporters do.
The clock stops when ``SELECT count(*) FROM spans`` reaches the number sent. Prints spans/s
sustained, how many were refused with 429 (and retried), and how many were lost.

    python benchmarks/otlp_ingest.py                                  # 1,000 traces on SQLite
    python benchmarks/otlp_ingest.py --traces 20000                   # the sustained run
    python benchmarks/otlp_ingest.py --database-url postgresql://postgres@127.0.0.1:5432/test

Target: >= 20,000 spans/s with 0 lost on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from _common import fresh_home
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

SPANS_PER_TRACE = 5
TEXT = "How do I rotate the API keys of a project without downtime? " * 3


def kv(key: str, value: str | int | float) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=value))


def export(rng: random.Random, traces: int, start_ns: int) -> bytes:
    """One ExportTraceServiceRequest of ``traces`` app-call traces, protobuf-encoded."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", "support-bot"), kv("ripple.project", "default")])
    spans = rs.scope_spans.add().spans
    for t in range(traces):
        trace_id = rng.randbytes(16)
        root_id = rng.randbytes(8)
        t0 = start_ns + t * 1_000_000
        steps = [
            ("guard input", "GUARDRAIL", {"ripple.policy": "policy/default:1", "ripple.guard.decision": "allow"}),
            ("render answer", "PROMPT", {"ripple.prompt": "prompt/answer:3", "input.value": TEXT}),
            ("retrieve", "RETRIEVER", {"ripple.index": "index/docs:2", "input.value": TEXT}),
            (
                "generate",
                "LLM",
                {
                    "llm.model_name": "smollm2",
                    "llm.token_count.prompt": 412,
                    "llm.token_count.completion": 96,
                    "llm.cost.total": 0.0004,
                    "input.value": TEXT,
                    "output.value": TEXT,
                },
            ),
        ]
        root = spans.add(
            trace_id=trace_id,
            span_id=root_id,
            name="app/support-bot:3",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=t0,
            end_time_unix_nano=t0 + 900_000_000,
            status=Status(code=Status.STATUS_CODE_OK),
        )
        root.attributes.extend(
            [
                kv("openinference.span.kind", "CHAIN"),
                kv("ripple.app", "app/support-bot:3"),
                kv("input.value", TEXT),
                kv("output.value", TEXT),
            ]
        )
        for i, (name, kind, attrs) in enumerate(steps):
            span = spans.add(
                trace_id=trace_id,
                span_id=rng.randbytes(8),
                parent_span_id=root_id,
                name=name,
                start_time_unix_nano=t0 + i * 100_000_000,
                end_time_unix_nano=t0 + (i + 1) * 100_000_000,
            )
            span.attributes.extend([kv("openinference.span.kind", kind), *(kv(k, v) for k, v in attrs.items())])
    data: bytes = req.SerializeToString()
    return data


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rippleops.server", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"the server did not start: {log.read_text()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--traces-per-request", type=int, default=100)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--gzip", action="store_true", help="send Content-Encoding: gzip")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp home)")
    args = parser.parse_args()

    settings = fresh_home(args.database_url)
    rng = random.Random(7)
    now = time.time_ns()
    bodies = [
        export(rng, min(args.traces_per_request, args.traces - i), now + i * 1_000_000)
        for i in range(0, args.traces, args.traces_per_request)
    ]
    if args.gzip:
        bodies = [gzip.compress(b, 1) for b in bodies]
    expected = args.traces * SPANS_PER_TRACE
    log = settings.home_path / "server.log"
    proc, url = serve(dict(os.environ), log)
    engine = sa.create_engine(settings.resolved_database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    headers = {"Content-Type": "application/x-protobuf", **({"Content-Encoding": "gzip"} if args.gzip else {})}
    refused = [0]
    failed = [0]
    lock = threading.Lock()
    todo = list(reversed(bodies))

    def sender() -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    if not todo:
                        return
                    body = todo.pop()
                for _ in range(100):
                    r = client.post(url + "/v1/traces", content=body, headers=headers)
                    if r.status_code == 200:
                        break
                    if r.status_code != 429:
                        with lock:
                            failed[0] += 1
                        print(f"error {r.status_code}: {r.text[:200]}", file=sys.stderr)
                        break
                    with lock:
                        refused[0] += 1
                    time.sleep(float(r.headers.get("Retry-After", "1")) * random.uniform(0.1, 0.5))

    cpu_before = _cpu_s(proc.pid)
    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=sender) for _ in range(args.senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_s = time.perf_counter() - started
        count = 0
        deadline = time.monotonic() + 300
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                count = int(conn.execute(sa.text("SELECT count(*) FROM spans")).scalar_one())
                conn.rollback()
                if count >= expected:
                    break
                time.sleep(0.01)
        stored_s = time.perf_counter() - started
        cpu_s = _cpu_s(proc.pid) - cpu_before
        metrics = httpx.get(url + "/metrics").text
    finally:
        proc.terminate()
        proc.wait(60)
        engine.dispose()

    batches = _metric(metrics, "ripple_trace_batch_write_seconds_count")
    batch_sum = _metric(metrics, "ripple_trace_batch_write_seconds_sum")
    db = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{db}: {args.traces} traces x {SPANS_PER_TRACE} spans = {expected} spans in {len(bodies)} requests "
        f"({args.traces_per_request} traces each{', gzip' if args.gzip else ''}), {args.senders} senders"
    )
    print(f"  all accepted (200)   {accepted_s:8.2f} s   {expected / accepted_s:10,.0f} spans/s")
    print(f"  all queryable        {stored_s:8.2f} s   {expected / stored_s:10,.0f} spans/s sustained")
    print(f"  stored {count}, lost {expected - count}, 429s retried {refused[0]}, failed requests {failed[0]}")
    print(
        f"  server CPU           {cpu_s:8.2f} s   {expected / cpu_s:10,.0f} spans per CPU-second (load {os.getloadavg()[0]:.1f})"
    )
    if batches:
        print(
            f"  writer: {batches:.0f} batches, {expected / batches:,.0f} spans/batch, {1000 * batch_sum / batches:.1f} ms/batch"
        )


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


if __name__ == "__main__":
    main()
