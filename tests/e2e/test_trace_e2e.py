"""Tracing end to end with real processes: a user script traced with ``rp.trace`` (embedded,
then remote against ``python -m rippleops.server``), read back with the real ``ripple trace
list`` / ``ripple trace show`` executables, locally and through the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import ServerProcess

pytestmark = pytest.mark.slow  # starts a server and a dozen processes

RIPPLE = Path(sys.executable).parent / "ripple"
SCRIPT = """\
import asyncio, sys
from concurrent.futures import ThreadPoolExecutor
from rippleops import Client

rp = Client()

@rp.trace(kind="RETRIEVER", attributes={"ripple.index": "index/docs:1"})
def search(q):
    return ["doc-1", "doc-2"]

@rp.trace(kind="TOOL")
def tool(i):
    if i == 2:
        raise KeyError("order")
    return i

async def fan_out():
    async def one(i):
        with rp.trace(f"task-{i}"):
            await asyncio.sleep(0.01)
    await asyncio.gather(*(one(i) for i in range(2)))

with rp.trace("script", attributes={"input.value": sys.argv[1], "run.id": sys.argv[1]}) as span:
    search(sys.argv[1])
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(rp.trace.propagate(tool), i) for i in range(3)]
    errors = [f.exception() for f in futures if f.exception()]
    asyncio.run(fan_out())
print(rp.trace.trace_id(span))
rp.close()
"""


class Env:
    def __init__(self, home: Path, workdir: Path, **extra: str) -> None:
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
        self.env.update(RIPPLE_HOME=str(home), COLUMNS="200", **extra)

    def run(self, *argv: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(argv, env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=120)
        assert proc.returncode == code, f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def ripple(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        return self.run(str(RIPPLE), *args, code=code)

    def script(self, run_id: str) -> str:
        (self.workdir / "traced.py").write_text(SCRIPT)
        return self.run(sys.executable, "traced.py", run_id).stdout.strip()


def _check(env: Env, trace_id: str, run_id: str) -> None:
    listed = json.loads(env.ripple("trace", "list", "--attr", f"run.id={run_id}", "--json").stdout)
    assert [t["trace_id"] for t in listed["items"]] == [trace_id]
    assert listed["items"][0]["status"] == "error" and listed["items"][0]["span_count"] == 7
    data = json.loads(env.ripple("trace", "show", trace_id, "--json").stdout)
    spans = {s["name"]: s for s in data["spans"]}
    root = spans["script"]
    assert data["spans"][0]["name"] == "script" and root["parent_id"] is None
    children = [s for s in data["spans"] if s["parent_id"] == root["span_id"]]
    assert sorted(s["name"] for s in children) == ["search", "task-0", "task-1", "tool", "tool", "tool"]
    failed = [s for s in data["spans"] if s["status"] == "error"]
    assert len(failed) == 1 and "KeyError" in failed[0]["status_message"]
    tree = env.ripple("trace", "show", trace_id).stdout
    assert "script  CHAIN" in tree and "index: index/docs:1" in tree and "error: KeyError" in tree


def test_traced_script_then_cli_embedded_and_remote(tmp_path: Path) -> None:
    home = tmp_path / "home"
    local = Env(home, tmp_path)
    local.ripple("init", "--admin", "alice")

    trace_id = local.script("local-1")
    _check(local, trace_id, "local-1")

    token = (home / "token").read_text().strip()
    server = ServerProcess(tmp_path / "server.log", **local.env).wait_healthy()
    try:
        remote = Env(home, tmp_path, RIPPLE_SERVER_URL=server.url, RIPPLE_TOKEN=token)
        remote_id = remote.script("remote-1")  # spans go over OTLP/HTTP; rp.close() flushed them
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the server's writer commits within its batch wait
            r = httpx.get(f"{server.url}/api/v1/projects/default/traces/{remote_id}",
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            if r.status_code == 200 and len(r.json()["spans"]) == 7:
                break
            time.sleep(0.1)
        _check(remote, remote_id, "remote-1")
        _check(remote, trace_id, "local-1")  # the embedded run's trace, read through the server
    finally:
        server.stop()
    _check(local, remote_id, "remote-1")  # and the remote run's trace, read from the home
