"""Owner processes of jobs: this one is alive; a finished one, one on a rebooted machine and
a reused pid are not; another host cannot be judged from here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rippleops.runtime.process import ProcessIdentity, identity_of, is_alive, this_process

LINUX = Path("/proc/self/stat").exists()


def test_this_process_is_alive() -> None:
    me = this_process()
    assert me.pid > 0 and me.host and me.instance
    assert is_alive(me) is True


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_a_finished_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = identity_of(child.pid)
        assert owner is not None and is_alive(owner) is True
    finally:
        child.kill()
        child.wait()
    assert is_alive(owner) is False


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_a_reused_pid_or_a_reboot_is_not_the_owner() -> None:
    me = this_process()
    boot, namespace, start = me.instance.split("/")
    reused = ProcessIdentity(me.host, me.pid, f"{boot}/{namespace}/{int(start) + 1}")
    assert is_alive(reused) is False
    rebooted = ProcessIdentity(me.host, 1, f"another-boot/{namespace}/1")
    assert is_alive(rebooted) is False
    other_container = ProcessIdentity(me.host, 1, f"{boot}/pid:[1]/1")
    assert is_alive(other_container) is None


def test_another_host_cannot_be_judged() -> None:
    assert is_alive(ProcessIdentity("another-host", 1, "x")) is None
