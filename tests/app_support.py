"""Real parts for the app tests (importable as ``app_support``): a small knowledge base built
in the test (a documents dataset -> the shipped MiniLM -> a LanceDB index), the shipped
SmolLM2 as ``model/local-smollm``, the demo's RAG prompt, Python tools, and misbehaving
HTTP peers (a chat server that streams garbage or hangs up mid-stream, a tool API)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from sqlalchemy import select

from rippleops.domain.access import Principal
from rippleops.domain.prompts import parse_spec
from rippleops.services import Services
from rippleops.store.models import Span, Trace
from support import free_port

P = "default"
ROOT = Path(__file__).resolve().parent.parent
KB = {
    "rollback.md": "# Rolling back\n\nTo roll back a prompt, move its production label back to the previous "
    "version with `ripple prompt label NAME production N`. Labels are movable pointers.",
    "index.md": "# Rebuilding indexes\n\nA new dataset version rebuilds the index: only changed chunks are "
    "embedded again, unchanged chunks are reused from the previous version.",
    "jobs.md": "# Jobs\n\nA job whose process was killed is marked failed on recovery and can be rerun "
    "with `ripple job rerun ID`.",
    "auth.md": "# Tokens\n\nAPI tokens are hashed in the database and shown once when created. "
    "Revoke a token with `ripple token revoke ID`.",
    "audit.md": "# Audit\n\nEvery change writes an audit event; the events form a hash chain that "
    "`ripple audit verify` checks.",
}
RAG_SPEC: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "rag.yaml").read_text())


def build_kb(services: Services, who: Principal, name: str = "kb") -> str:
    """dataset/kb -> embedder/minilm -> index/kb (label production); returns the index ref."""
    table = pa.table({"doc_id": list(KB), "text": list(KB.values())})
    services.datasets.create_from_table(
        who, P, name, table, provenance={"source": "tests", "license": "Apache-2.0", "created_by": "tests"},
        key="doc_id",
    )  # fmt: skip
    services.embedders.create(who, P, "minilm", {"provider": "minilm"})
    job = services.indexes.create(
        who, P, name, dataset=f"dataset/{name}", embedder="embedder/minilm", chunk_size=400, overlap=40, wait=True
    )
    assert job.state.value == "succeeded", job.error
    services.labels.set(who, P, f"index/{name}", "production", 1)
    return f"index/{name}@production"


def add_model(services: Services, who: Principal, name: str = "local-smollm", **spec: Any) -> str:
    services.models.create(who, P, name, {"provider": "local", **spec})
    services.labels.set(who, P, f"model/{name}", "production", 1)
    return f"model/{name}@production"


def add_rag_prompt(services: Services, who: Principal, name: str = "rag", **changes: Any) -> str:
    services.prompts.create(who, P, name, parse_spec({**RAG_SPEC, **changes}))
    return f"prompt/{name}"


def rag_app(index: str = "index/kb@production", **extra: Any) -> dict[str, Any]:
    return {
        "description": "answers questions about Ripple",
        "steps": [
            {"retrieve": {"index": index, "k": 2, "mode": "hybrid", "max_chars": 300}},
            {"render": {"prompt": "prompt/rag"}},
            {"generate": {"model": "model/local-smollm@production", "params": {"max_tokens": 24}}},
        ],
        **extra,
    }


# -- Python tools (imported by the apps through "app_support:NAME") ----------------------------------

CALLS: list[dict[str, Any]] = []


def add(a: int, b: int) -> int:
    CALLS.append({"tool": "add", "a": a, "b": b})
    return int(a) + int(b)


def echo(text: str) -> dict[str, Any]:
    return {"echo": text, "length": len(text)}


def explode(**kwargs: Any) -> None:
    raise RuntimeError("the tool broke on purpose")


def hang(**kwargs: Any) -> None:
    time.sleep(30)


# -- misbehaving chat servers: raw sockets, so the faults are real ------------------------------------


class BadChatServer:
    """A real HTTP server on a free port that answers ``POST /v1/chat/completions`` with a
    stream that goes wrong: ``garbage`` (lines that are not JSON after a good delta), ``cut``
    (a good delta, then the connection is closed mid-chunk), ``stall`` (one delta, then
    nothing until the client gives up) or ``drip`` (a delta every 0.1 s for 30 s)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(
                (ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")), b"0"
            ))  # fmt: skip
            while len(body) < length:
                body += conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            good = {"choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]}
            conn.sendall(_chunk(f"data: {json.dumps(good)}\n\n"))
            if self.mode == "garbage":
                conn.sendall(_chunk("data: {this is not json\n\n"))
                conn.sendall(_chunk("data: [DONE]\n\n") + b"0\r\n\r\n")
            elif self.mode == "cut":
                conn.sendall(b'40\r\ndata: {"choices": [{"delta"')  # a chunk announced, half sent
                conn.shutdown(socket.SHUT_RDWR)
            elif self.mode == "drip":  # a delta every 0.1 s until the client hangs up
                try:
                    for _ in range(300):
                        if self._stop.wait(0.1):
                            return
                        conn.sendall(_chunk(f"data: {json.dumps(good)}\n\n"))
                except OSError:
                    return
            else:  # stall
                self._stop.wait(30)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self._sock.close()


def _chunk(text: str) -> bytes:
    raw = text.encode()
    return f"{len(raw):x}\r\n".encode() + raw + b"\r\n"


def serve_bad_chat(mode: str) -> Iterator[BadChatServer]:
    server = BadChatServer(mode)
    try:
        yield server
    finally:
        server.stop()


# -- traces -------------------------------------------------------------------------------------------


def spans_of(services: Services, trace_id: str) -> list[Span]:
    """The spans of one trace, oldest first, once everything queued is written."""
    services.trace_ingest.flush()
    with services.db.reading() as s:
        found = list(s.execute(select(Span).where(Span.trace_id == trace_id).order_by(Span.start_ns)).scalars())
        s.expunge_all()
        return found


def trace_of(services: Services, trace_id: str) -> Trace:
    services.trace_ingest.flush()
    with services.db.reading() as s:
        found = s.execute(select(Trace).where(Trace.trace_id == trace_id)).scalar_one()
        s.expunge_all()
        return found


def by_kind(spans: list[Span], kind: str) -> list[Span]:
    return [s for s in spans if s.kind == kind]
