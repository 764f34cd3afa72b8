"""The real server as a subprocess (``python -m rippleops.server``) on an initialised SQLite
home, driven with ``rippleops.Client``; the non-loopback refusal; and a real fault: the
process SIGKILLs itself inside the transaction that registers a version."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from rippleops import Client, NotFoundError, UnauthenticatedError, UnavailableError
from rippleops.settings import Settings

START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """The server in its own process; RIPPLE_HOME comes from the test's environment."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rippleops.server", "--port", str(port), *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the server did not answer /healthz within {START_TIMEOUT} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def running_server(tmp_path: Path, *args: str, **env: str) -> Iterator[str]:
    port = _free_port()
    log = tmp_path / f"server-{port}.log"
    proc = _start(port, log, *args, **env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        _stop(proc)


@pytest.fixture
def token(sqlite_settings: Settings) -> str:
    return sqlite_settings.token_file.read_text().strip()


def test_client_drives_a_real_server(sqlite_settings: Settings, token: str, tmp_path: Path) -> None:
    with running_server(tmp_path) as url, Client(url=url, token=token, cache_ttl=0) as rp:
        assert rp.is_remote and rp.users.me().name == "alice"
        p = rp.prompts.create("answer", template="Answer briefly: {{ question }}", message="first")
        assert (p.ref, p.created) == ("prompt/answer:1", True)
        rp.prompts.label("answer", "production", 1)
        prod = rp.prompts.get("answer", label="production")
        assert prod.render(question="What is Ripple?") == "Answer briefly: What is Ripple?"
        assert rp.prompts.render("answer@production", question="x") == "Answer briefly: x"
        rp.prompts.create("answer", template="Answer: {{ question }}")
        assert rp.prompts.diff("answer:1", "answer:2")["same"] is False
        assert [a.ref for a in rp.assets.list(kind="prompt")] == ["prompt/answer"]
        with pytest.raises(NotFoundError, match="labels: production"):
            rp.prompts.get("answer@staging")
        assert rp.audit.verify().ok

        metrics = httpx.get(f"{url}/metrics").text
        assert 'route="/api/v1/projects/{project}/prompts/{ref}",status="200"' in metrics


def test_auth_flag_requires_a_token(sqlite_settings: Settings, token: str, tmp_path: Path) -> None:
    with running_server(tmp_path, "--auth") as url:
        with Client(url=url, token=None, cache_ttl=0) as anonymous, pytest.raises(UnauthenticatedError):
            anonymous.users.me()
        with Client(url=url, token=token, cache_ttl=0) as rp:
            assert rp.users.me().name == "alice"


def test_refuses_a_non_loopback_host_without_auth(sqlite_settings: Settings) -> None:
    port = _free_port()
    done = subprocess.run(
        [sys.executable, "-m", "rippleops.server", "--host", "0.0.0.0", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "refusing to listen on 0.0.0.0 without auth: pass --auth or set RIPPLE_AUTH=required" in done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr  # it never bound


def test_killed_mid_write_leaves_no_half_written_version(sqlite_settings: Settings, token: str, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "faulty.log"
    url = f"http://127.0.0.1:{port}"
    proc = _start(port, log, RIPPLE_FAULTS="version.before_commit")
    try:
        _wait_healthy(url, proc, log)
        with Client(url=url, token=token, cache_ttl=0) as rp, pytest.raises(UnavailableError, match="cannot reach"):
            rp.prompts.create("answer", template="Answer: {{ question }}", message="never lands")
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        _stop(proc)

    with running_server(tmp_path) as url, Client(url=url, token=token, cache_ttl=0) as rp:
        with pytest.raises(NotFoundError, match="prompt/answer does not exist"):
            rp.prompts.get("answer")
        assert rp.assets.list(kind="prompt") == []
        p = rp.prompts.create("answer", template="Answer: {{ question }}", message="lands")
        assert (p.ref, p.version, p.created) == ("prompt/answer:1", 1, True)
        verify = rp.audit.verify()
        assert verify.ok, verify.problem
        assert [e.action for e in rp.audit.log(action="version")] == ["version.create"]
