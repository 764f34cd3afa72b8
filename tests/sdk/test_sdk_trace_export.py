"""The remote SDK's span export under real network faults: a gateway in front of the real
server answers 429 or 503 (with ``Retry-After``) or stalls, on a real loopback port. The
exporter must retry until the spans are stored, and the traced code must never wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rippleops import Client
from rippleops.settings import Settings
from support import RunningServer, start_server


class Gateway:
    """A reverse proxy on a free port: the first ``failures`` POSTs get ``status`` (with
    ``Retry-After: 0``), each POST may be held ``delay`` seconds first; all else is forwarded."""

    def __init__(self, upstream: str, *, failures: int = 0, status: int = 503, delay: float = 0.0) -> None:
        self.upstream = upstream
        self.failures = failures
        self.status = status
        self.delay = delay
        self.posts: list[int] = []  # the status answered to each POST
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(gateway.delay)
                if len(gateway.posts) < gateway.failures:
                    gateway.posts.append(gateway.status)
                    self.send_response(gateway.status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._forward(body)

            def _forward(self, body: bytes) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                r = httpx.request(self.command, gateway.upstream + self.path, content=body, headers=headers)
                if self.command == "POST":
                    gateway.posts.append(r.status_code)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(settings: Settings) -> Iterator[RunningServer]:
    srv = start_server(settings)
    yield srv
    srv.stop()


def _client(url: str, settings: Settings) -> Client:
    return Client(url=url, token=settings.token_file.read_text().strip(), settings=settings)


def _wait_stored(rp: Client, trace_id: str, spans: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = rp.traces.list(limit=5)
        found = [t for t in page.items if t.trace_id == trace_id]
        if found and found[0].span_count >= spans:
            return found[0].span_count
        time.sleep(0.05)
    raise AssertionError(f"trace {trace_id} was not stored within {timeout} s")


@pytest.mark.parametrize("status", [429, 503])
def test_export_retries_busy_answers_until_stored(server: RunningServer, settings: Settings, status: int) -> None:
    gateway = Gateway(server.url, failures=2, status=status)
    try:
        rp = _client(gateway.url, settings)
        with rp.trace("busy-day") as span, rp.trace("step", kind="TOOL"):
            pass
        tid = rp.trace.trace_id(span)
        rp.traces.flush()
        assert gateway.posts[:2] == [status, status] and gateway.posts[2] == 200
        reader = _client(server.url, settings)
        assert tid is not None and _wait_stored(reader, tid, 2) == 2
        reader.close()
        rp.close()
    finally:
        gateway.stop()


def test_a_slow_server_never_blocks_the_traced_code(server: RunningServer, settings: Settings) -> None:
    gateway = Gateway(server.url, delay=1.5)
    try:
        rp = _client(gateway.url, settings)

        @rp.trace
        def work(i: int) -> int:
            return i + 1

        started = time.monotonic()
        with rp.trace("many") as span:
            total = sum(work(i) for i in range(500))
        elapsed = time.monotonic() - started
        assert total == sum(range(1, 501))
        assert elapsed < 1.0, f"tracing 501 spans took {elapsed:.2f} s with a server that answers in 1.5 s"
        tid = rp.trace.trace_id(span)
        rp.close()  # flushes: everything queued is sent before close returns
        assert gateway.posts and set(gateway.posts) == {200}
        reader = _client(server.url, settings)
        assert tid is not None and _wait_stored(reader, tid, 501) == 501
        reader.close()
    finally:
        gateway.stop()
