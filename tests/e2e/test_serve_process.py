"""``ripple serve`` and ``ripple deploy --target local`` as real processes: two apps from one
lean server (labels pinned at start), and a supervised deployment that comes back after its
served process is killed with SIGKILL, then stops leaving no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from rippleops.deploy.local import pid_alive
from rippleops.services import Services
from rippleops.settings import Settings
from serving_support import P, chat_app, local_apps
from support import free_port

pytestmark = pytest.mark.slow
Q = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture
def env(settings: Settings) -> Iterator[dict[str, str]]:
    services = Services(settings)
    try:
        local_apps(services, services.access.local_admin())
    finally:
        services.close()
    out = {**os.environ, "RIPPLE_HOME": str(settings.home_path), "HF_HUB_OFFLINE": "1"}
    if settings.database_url:
        out["RIPPLE_DATABASE_URL"] = settings.database_url
    yield out


def ripple(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "rippleops", *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, done.stderr + done.stdout
    return done


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {timeout} s")


def test_ripple_serve_two_apps_with_labels_pinned(env: dict[str, str], settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rippleops", "serve", "support-bot@production", "app/guarded-bot:1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        printed = log.read_text()
        assert f"serving app/support-bot:1 (production) at {url}/v1" in printed
        assert f"serving app/guarded-bot:1 at {url}/v1" in printed
        health = httpx.get(f"{url}/healthz").json()
        assert health["apps"] == ["app/support-bot:1 (production)", "app/guarded-bot:1"]

        # a label moved after the start changes nothing: the server pinned version 1
        services = Services(settings)
        try:
            who = services.access.local_admin()
            services.apps.create(who, P, "support-bot", chat_app(max_tokens=8))
            services.labels.set(who, P, "app/support-bot", "production", 2)
        finally:
            services.close()

        oa = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
        assert sorted(m.id for m in oa.models.list()) == ["guarded-bot", "support-bot"]
        done = oa.chat.completions.create(model="support-bot@production", messages=Q, max_tokens=8)
        assert done.model == "app/support-bot:1" and done.choices[0].message.content
        blocked = oa.chat.completions.create(model="guarded-bot", messages=[{"role": "user", "content": "password?"}])
        assert blocked.choices[0].finish_reason == "content_filter"
        with pytest.raises(openai.NotFoundError, match="not served here"):
            oa.chat.completions.create(model="long-bot", messages=Q)
        with pytest.raises(openai.NotFoundError):
            oa.chat.completions.create(model="support-bot:2", messages=Q)
        metrics = httpx.get(f"{url}/metrics").text
        assert 'route="/v1/chat/completions"' in metrics
    finally:
        proc.terminate()
        proc.wait(20)
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down


def status(env: dict[str, str], name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ripple(env, "deploy", "status", name, "--json").stdout)
    return data


def test_deploy_local_supervised_restart_and_stop(env: dict[str, str]) -> None:
    port = free_port()
    out = ripple(env, "deploy", "support-bot@production", "--env", "staging", "--target", "local", "--port", str(port))
    assert f"running at http://127.0.0.1:{port}/v1" in out.stdout
    first = status(env, "support-bot-staging")
    assert first["status"] == "running" and first["health"] == "ok" and first["restarts"] == 0
    assert first["app"] == "app/support-bot:1" and first["env"] == "staging"
    served, supervisor = first["pid"], first["supervisor_pid"]
    try:
        oa = openai.OpenAI(base_url=first["endpoint"], api_key="unused", max_retries=0, timeout=120)
        assert oa.chat.completions.create(model="support-bot", messages=Q, max_tokens=6).model == "app/support-bot:1"

        os.kill(served, signal.SIGKILL)  # the served process dies; the supervisor brings it back
        deadline = time.monotonic() + 180
        while True:
            now = status(env, "support-bot-staging")
            if now["restarts"] == 1 and now["health"] == "ok" and now["status"] == "running":
                break
            assert time.monotonic() < deadline, now
            time.sleep(0.3)
        assert now["pid"] != served and now["supervisor_pid"] == supervisor
        assert now["last_exit"] == -signal.SIGKILL
        assert oa.chat.completions.create(model="support-bot", messages=Q, max_tokens=6).choices[0].message.content
        listed = json.loads(ripple(env, "deploy", "list", "--json").stdout)
        assert [d["name"] for d in listed] == ["support-bot-staging"]
    finally:
        stopped = ripple(env, "deploy", "stop", "support-bot-staging")
    assert "stopped support-bot-staging" in stopped.stdout
    for pid in (served, now["pid"], supervisor):
        assert not pid_alive(pid)
    after = status(env, "support-bot-staging")
    assert after["status"] == "stopped" and after["health"] == "down" and after["pid"] is None
