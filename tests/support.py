"""Helpers shared by tests (importable as ``support``): free ports, a real uvicorn server
on 127.0.0.1 in a thread, and the real server as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn

from rippleops.runtime.providers.llm.local import shipped_model_path
from rippleops.server import create_app
from rippleops.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no healthy server at {url} after {timeout} s")


def pgvector_schema_url(base: str) -> str:
    """A fresh schema on a pgvector server (the ``pgvector_url`` fixture), so each test sees an
    empty store; the extension lives in ``public``, on the search path too."""
    import psycopg

    schema = f"v_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{base}&options={quote(f'-csearch_path={schema},public')}"


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_server(settings: Settings, *, auth_required: bool = False) -> RunningServer:
    """The real app under uvicorn on a free loopback port, in a daemon thread."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, auth_required=auth_required), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return RunningServer(url, server, thread)


class ServerProcess:
    """``python -m rippleops.server`` as a real subprocess on a free loopback port, with
    RIPPLE_HOME and the rest of the environment of the test (plus ``env``)."""

    def __init__(self, log: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rippleops.server", "--port", str(self.port), *args],
                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_healthy(self, timeout: float = 30.0) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer /healthz within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_app(app: Any) -> RunningServer:
    """Any ASGI app (a stand-in for a third-party server: a slow or broken endpoint) under
    uvicorn on a free loopback port, in a daemon thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return RunningServer(f"http://127.0.0.1:{port}", server, thread)


class LlamaServer:
    """``python -m llama_cpp.server`` serving the shipped SmolLM2 GGUF on a free loopback
    port (a real OpenAI-compatible server); ``url`` is its ``/v1`` base. With ``api_key`` it
    refuses requests without that bearer token."""

    def __init__(self, log: Path, *, api_key: str | None = None, alias: str = "smollm2", n_ctx: int = 2048) -> None:
        port = free_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(shipped_model_path())]
        command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--model_alias", alias]
        if api_key:
            command += ["--api_key", api_key]
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}
            )
        self.url = f"http://127.0.0.1:{port}/v1"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        deadline = time.monotonic() + 60
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"llama_cpp.server exited with {self.proc.returncode}: {log.read_text()[-2000:]}"
                    )
                try:
                    if httpx.get(f"{self.url}/models", headers=headers, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server not up after 60 s: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
