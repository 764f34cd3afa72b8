"""Which process owns a job, and whether that process is still alive.

A process is named by its host, its pid and an *instance* id. On Linux the instance is
``boot_id/pid-namespace/start-time`` read from ``/proc``, so it can be recomputed for any
pid on the same machine: a pid that was reused after a crash or a reboot has a different
instance. Elsewhere the instance is a random id per process, and a live pid counts as the
owner (pids are reused rarely enough for a rerunnable job).

>>> me = this_process()
>>> is_alive(me)
True
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_fallback_instance = uuid.uuid4().hex  # re-made in a forked child by this_process()
_fallback_pid = os.getpid()


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    host: str
    pid: int
    instance: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    stat = _read(_PROC / str(pid) / "stat")
    if stat is None:
        return None
    fields = stat.rpartition(")")[2].split()  # the command name may hold spaces and parentheses
    return fields[19] if len(fields) > 19 else None


def _machine() -> tuple[str, str] | None:
    """(boot id, pid namespace) of this process: pids only mean something within both."""
    boot = _read(_PROC / "sys/kernel/random/boot_id")
    try:
        namespace = os.readlink(_PROC / "self/ns/pid")
    except OSError:
        namespace = None
    return (boot, namespace) if boot and namespace else None


def _linux_instance(pid: int) -> str | None:
    machine = _machine()
    start = _start_time(pid)
    return f"{machine[0]}/{machine[1]}/{start}" if machine and start else None


def this_process() -> ProcessIdentity:
    """The identity of the calling process."""
    global _fallback_instance, _fallback_pid
    pid = os.getpid()
    if pid != _fallback_pid:  # a forked child is another process
        _fallback_instance, _fallback_pid = uuid.uuid4().hex, pid
    return ProcessIdentity(socket.gethostname(), pid, _linux_instance(pid) or _fallback_instance)


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of another process on this machine (Linux only; None elsewhere or when
    there is no such process)."""
    instance = _linux_instance(pid)
    return None if instance is None else ProcessIdentity(socket.gethostname(), pid, instance)


def is_alive(owner: ProcessIdentity) -> bool | None:
    """True when ``owner`` still runs, False when it is gone, None when this process
    cannot tell (another host, or another pid namespace on this one)."""
    me = this_process()
    if owner.pid == me.pid and owner.instance == me.instance and owner.host == me.host:
        return True
    if owner.host != me.host:
        return None
    machine = _machine()
    parts = owner.instance.split("/")
    if machine is not None and len(parts) == 3:
        if parts[0] != machine[0]:
            return False  # the machine rebooted since: every process of that boot is gone
        if parts[1] != machine[1]:
            return None  # another container on this machine: its pids are not ours
        return _linux_instance(owner.pid) == owner.instance
    return _pid_exists(owner.pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
