"""The local supervisor with real processes, no model: it gives up after fast crashes and
says so; it refuses a port in use; stop leaves no process behind."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from rippleops.deploy import local
from rippleops.domain.deployments import LocalState
from rippleops.errors import ConflictError
from support import free_port


def state(tmp_path: Path, command: list[str], port: int | None = None, **policy: float) -> LocalState:
    return LocalState(
        name="bot-dev", project="default", deployment="deployment/bot-dev:1", app="app/bot:1",
        port=port or free_port(), log=str(tmp_path / "bot-dev.log"), command=command, **policy,
    )  # fmt: skip


def test_gives_up_after_fast_crashes(tmp_path: Path) -> None:
    path = tmp_path / "bot-dev.json"
    crash = [sys.executable, "-c", "import sys; print('broken on purpose'); sys.exit(3)"]
    got = local.start(path, state(tmp_path, crash, backoff_s=0.05, max_fast_crashes=3), dict(os.environ), wait_s=60)
    assert got.status == "failed"
    assert "gave up after 3 fast crashes" in got.message and got.log in got.message
    assert (got.restarts, got.last_exit, got.fast_crashes) == (2, 3, 3)
    assert "broken on purpose" in Path(got.log).read_text()
    assert not local.running(local.read_state(path))
    assert path.read_text().startswith("{")  # the state file is whole JSON (written by rename)
    assert not list(tmp_path.glob(".*.tmp"))


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConflictError, match=f"port {port}"):
            local.start(tmp_path / "x.json", state(tmp_path, ["true"], port), dict(os.environ))
    assert not (tmp_path / "x.json").exists()


def test_stop_ends_supervisor_and_child(tmp_path: Path) -> None:
    path = tmp_path / "bot-dev.json"
    sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]  # never healthy: stays "starting"
    started = local.start(path, state(tmp_path, sleeper), dict(os.environ), wait_s=1.5)
    assert started.status == "starting" and "not healthy" in started.message
    now = local.read_state(path)
    assert now is not None and local.pid_alive(now.supervisor_pid) and local.pid_alive(now.child_pid)
    with pytest.raises(ConflictError, match="already running"):
        local.start(path, state(tmp_path, sleeper), dict(os.environ))
    stopped = local.stop(path)
    assert stopped.status == "stopped" and stopped.supervisor_pid is None and stopped.child_pid is None
    assert not local.pid_alive(now.supervisor_pid) and not local.pid_alive(now.child_pid)


def test_next_free_port_skips_ports_in_use() -> None:
    # a promotion to a new local environment must not reuse the port the source still serves on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with socket.socket() as next_one:  # and the port after it, too
            try:
                next_one.bind(("127.0.0.1", busy + 1))
                next_one.listen()
            except OSError:
                pass  # already in use by someone else: as good
            got = local.next_free_port("127.0.0.1", busy)
            assert got > busy + 1 and local.port_free("127.0.0.1", got)
