"""Prompt fetch by label: SDK with cache, embedded uncached, and uncached through a real
HTTP server (uvicorn on 127.0.0.1, keep-alive). Targets: cached p50 < 50 us, HTTP p50 < 2 ms,
embedded < 1 ms.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from _common import fresh_home, report, timed

from rippleops import Client

N = 3000


def _serve() -> tuple[subprocess.Popen[bytes], str]:
    """The real server in its own process (as deployed), on the same home."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rippleops.server", "--port", str(port)], env=dict(os.environ), stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(url + "/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def main() -> None:
    settings = fresh_home(sys.argv[1] if len(sys.argv) > 1 else None)
    rp = Client(settings=settings)
    rp.prompts.create("system", template="You are terse.")
    rp.prompts.label("system", "production", 1)
    rp.prompts.create(
        "answer",
        messages=[
            {"role": "system", "content": '{% include "prompt/system@production" %}'},
            {"placeholder": "history"},
            {"role": "user", "content": "{{ question }}"},
        ],
        params={"temperature": 0.2},
    )
    rp.prompts.label("answer", "production", 1)

    report(
        "SDK cached (embedded), by label",
        timed(lambda: rp.prompts.get("answer", label="production"), N * 10),
        "us",
        "< 50 us",
    )
    report(
        "SDK uncached, embedded, by label",
        timed(lambda: rp.prompts.get("answer", label="production", cache_ttl=0), N),
        "us",
        "< 1 ms",
    )
    rp.prompts.clear_cache()

    server, url = _serve()
    token = settings.token_file.read_text().strip()
    remote = Client(url=url, token=token, settings=settings)
    report(
        "SDK cached (remote), by label",
        timed(lambda: remote.prompts.get("answer", label="production"), N * 10),
        "us",
        "< 50 us",
    )
    t = remote.transport
    report(
        "HTTP uncached (RemoteTransport), by label",
        timed(lambda: t.get_prompt("default", "prompt/answer@production"), N),
        "ms",
        "< 2 ms",
    )
    report(
        "HTTP uncached (RemoteTransport), by version",
        timed(lambda: t.get_prompt("default", "prompt/answer:1"), N),
        "ms",
        "< 2 ms",
    )
    report(
        "HTTP revalidation (ETag -> 304)",
        timed(lambda: remote.prompts.get("answer", label="production", cache_ttl=0), N),
        "ms",
    )
    render = rp.prompts.get("answer", label="production")
    report("render a chat prompt (include + history)", timed(lambda: render.render(question="q", history=[]), N), "us")
    server.terminate()
    server.wait()
    remote.close()
    rp.close()


if __name__ == "__main__":
    main()
