"""The local target: a supervisor process (:mod:`rippleops.deploy.supervisor`) that runs
``ripple serve`` and restarts it when it dies; this module starts, inspects and stops it.

The runtime state of each local deployment is a JSON file under
``$RIPPLE_HOME/deployments/<project>/<name>.json``, written atomically (temp + rename) by
whoever owns it at the moment: the starter before the supervisor runs, the supervisor while it
runs, the stopper once it is gone. Nothing of it is in the deployment version.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from rippleops.domain.deployments import LocalState
from rippleops.errors import ConflictError, InvalidError, UnavailableError

START_TIMEOUT_S = 180.0  # loading a model takes a while on a busy machine
STOP_TIMEOUT_S = 20.0
HEALTH_TIMEOUT_S = 2.0
MAX_BACKOFF_S = 15.0  # the longest wait between restarts (the policy itself is in LocalState)
_spawned: dict[int, subprocess.Popen[bytes]] = {}  # supervisors this process started (to reap them)


def state_path(home: Path, project: str, name: str) -> Path:
    return home / "deployments" / project / f"{name}.json"


def read_state(path: Path) -> LocalState | None:
    try:
        return LocalState.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise InvalidError(
            f"the deployment state file {path} is damaged ({exc}); stop the deployment and start it again"
        ) from exc


def write_state(path: Path, state: LocalState) -> None:
    """Write the state atomically: a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state.updated_at = time.time()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(state.model_dump_json(indent=2))
    os.replace(tmp, path)


def pid_alive(pid: int | None) -> bool:
    """Whether ``pid`` runs (a zombie does not count; a child of this process is reaped)."""
    if not pid:
        return False
    proc = _spawned.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def health(state: LocalState, timeout: float = HEALTH_TIMEOUT_S) -> str:
    """``ok`` when ``/healthz`` answers 200, ``unhealthy`` for another answer, ``down`` for none."""
    try:
        with urllib.request.urlopen(f"http://{state.host}:{state.port}/healthz", timeout=timeout) as r:
            return "ok" if r.status == 200 else "unhealthy"
    except urllib.error.HTTPError:
        return "unhealthy"
    except (OSError, ValueError):
        return "down"


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def next_free_port(host: str, after: int) -> int:
    """The first free port above ``after`` (a new local environment beside a running one)."""
    for port in range(after + 1, min(after + 200, 65535)):
        if port_free(host, port):
            return port
    raise InvalidError(f"no free port on {host} between {after + 1} and {after + 199}; deploy with --port")


def running(state: LocalState | None) -> bool:
    return state is not None and (pid_alive(state.supervisor_pid) or pid_alive(state.child_pid))


def start(path: Path, state: LocalState, env: Mapping[str, str], *, wait_s: float = START_TIMEOUT_S) -> LocalState:
    """Start the supervisor for ``state`` (detached, in a session of its own) and wait until
    it says the served process is healthy, has failed, or ``wait_s`` passed."""
    current = read_state(path)
    if running(current):
        assert current is not None
        raise ConflictError(
            f"{state.name} is already running ({current.app}, pid {current.supervisor_pid}); "
            f"stop it first with `ripple deploy stop {state.name}`"
        )
    if not port_free(state.host, state.port):
        raise ConflictError(
            f"port {state.port} on {state.host} is in use; deploy with another --port",
            details={"port": state.port},
        )
    log = Path(state.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    state.status, state.started_at, state.message = "starting", time.time(), ""
    write_state(path, state)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rippleops.deploy.supervisor", str(path)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=dict(env),
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    _spawned[proc.pid] = proc
    return wait_settled(path, proc.pid, wait_s)


def wait_settled(path: Path, supervisor_pid: int, wait_s: float) -> LocalState:
    """The state once it is ``running`` or ``failed`` (or the supervisor died, or time ran out)."""
    deadline = time.monotonic() + wait_s
    while True:
        state = read_state(path)
        if state is None:
            raise UnavailableError(f"the deployment state file {path} disappeared")
        if state.status == "running":
            return state
        if state.status in ("failed", "stopped"):
            _wait_gone(supervisor_pid)  # it is exiting: reap it, so nothing counts it as running
            return state
        if not pid_alive(supervisor_pid):
            state.status = "failed"
            state.message = state.message or f"the supervisor exited; see the log {state.log}"
            write_state(path, state)
            return state
        if time.monotonic() > deadline:
            state.message = f"not healthy after {wait_s:.0f} s; still starting (see `ripple deploy status`)"
            return state
        time.sleep(0.1)


def stop(path: Path, *, timeout: float = STOP_TIMEOUT_S) -> LocalState:
    """Stop the supervisor (SIGTERM: it stops the served process cleanly), or kill what is
    left of both after ``timeout``; the state says stopped."""
    state = read_state(path)
    if state is None:
        raise InvalidError(f"there is no local state at {path}; nothing to stop")
    sup, child = state.supervisor_pid, state.child_pid
    if pid_alive(sup):
        assert sup is not None
        os.kill(sup, signal.SIGTERM)
    elif pid_alive(child):
        assert child is not None
        os.kill(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (pid_alive(sup) or pid_alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in (child, sup):
        if pid_alive(pid):
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
    for pid in (child, sup):
        _wait_gone(pid)
    state = read_state(path) or state
    state.status, state.supervisor_pid, state.child_pid = "stopped", None, None
    state.message = "stopped"
    write_state(path, state)
    return state


def _wait_gone(pid: int | None, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid is not None:
        _spawned.pop(pid, None)


def child_env(base: Mapping[str, str], ripple: Mapping[str, str]) -> dict[str, str]:
    """The served process's environment: the caller's, without its ``RIPPLE_*`` (a
    ``RIPPLE_SERVER_URL`` must not send the server to another server), plus the home's
    settings given in ``ripple``."""
    env = {k: v for k, v in base.items() if not k.startswith("RIPPLE_") or k.startswith("RIPPLE_TEST_")}
    env.update(ripple)
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env
