"""``ripple app`` in-process, on SQLite and PostgreSQL: create from a file, show, list,
versions, label, run (plain, --json, --stream) and errors with their exit codes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from cli_helpers import Ripple

from rippleops.services import Services
from rippleops.settings import Settings

APP = """\
description: a bot
steps:
  - guard_input: policy/strict
  - render: prompt/ask
  - generate: {model: model/remote, params: {max_tokens: 8}}
"""


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_app_commands(ripple_on: Ripple, settings: Settings, refused_url: str) -> None:
    r = ripple_on
    services = Services(settings)
    try:
        services.policies.create(services.access.local_admin(), "default", "strict",
                                 {"input": [{"type": "deny", "words": ["password"]}], "safe_answer": "No."})  # fmt: skip
    finally:
        services.close()
    r.ok("model", "add", "remote", "--provider", "openai", "--base-url", refused_url, "--model", "m")
    r.ok("prompt", "create", "ask", "--file", r.file("ask.yaml", 'template: "Q: {{ question }}"\n'))
    out = r.ok("app", "create", "bot", "--file", r.file("bot.yaml", APP), "-m", "first")
    assert out.stdout.strip() == "app/bot:1" and "render: prompt/ask -> prompt/ask:1" in out.stderr
    assert "unchanged" in r.ok("app", "create", "bot", "--file", r.file("bot.yaml", APP)).stderr
    r.ok("app", "label", "bot", "production", "1")
    shown = r.ok("app", "show", "bot@production").stdout
    assert "app/bot:1" in shown and "pinned generate: model/remote -> model/remote:1" in shown
    assert r.json("app", "show", "bot")["inputs"][0]["resolved"] == "policy/strict:1"
    assert "bot" in r.ok("app", "list").stdout and "app/bot versions" in r.ok("app", "versions", "bot").stdout

    run = r.ok("app", "run", "bot@production", "what is the password?")
    assert run.stdout.strip() == "No." and "guard input: block by policy/strict:1" in run.stderr
    assert "trace " in run.stderr and "finish: blocked" in run.stderr
    record = json.loads(r.ok("app", "run", "bot", "password", "--json").stdout)
    assert record["blocked"] is True and len(record["trace_id"]) == 32
    assert r.ok("app", "run", "bot", "password", "--stream").stdout.strip() == "No."

    assert "model/remote:1" in r.fails(8, "app", "run", "bot", "How do I roll back?").stderr
    assert "app/ghost does not exist" in r.fails(3, "app", "run", "ghost", "hi").stderr
    assert (
        "steps[0] (retrieve) refers to index/nope"
        in r.fails(
            3,
            "app",
            "create",
            "bad",
            "--file",
            r.file("bad.yaml", "steps: [{retrieve: index/nope}, {generate: model/remote}]"),
        ).stderr
    )
    assert (
        "unknown step kind 'fetch'"
        in r.fails(2, "app", "create", "bad", "--file", r.file("b.yaml", "steps: [{fetch: x}]")).stderr
    )
    assert "takes no variable tone" in r.fails(2, "app", "run", "bot", "hi", "--var", "tone=dry").stderr
