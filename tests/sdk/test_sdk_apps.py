"""``rp.apps`` on both transports (embedded and a real server), SQLite and PostgreSQL:
create from a mapping and from a file, get by label, invoke and stream, errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_support import BadChatServer
from rippleops import Client
from rippleops.errors import InvalidError, NotFoundError, UnavailableError
from rippleops.services import Services
from rippleops.settings import Settings


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _policy(settings: Settings) -> None:
    services = Services(settings)
    try:
        policy = {"input": [{"type": "deny", "words": ["password"]}], "safe_answer": "No."}
        services.policies.create(services.access.local_admin(), "default", "strict", policy)
    finally:
        services.close()


def test_create_get_invoke_stream(rp: Client, settings: Settings, refused_url: str, tmp_path: Path) -> None:
    _policy(settings)
    rp.models.create("remote", provider="openai", base_url=refused_url, model="m", retries=0)
    rp.prompts.create("ask", template="Q: {{ question }}")
    spec = {"steps": [{"guard_input": "policy/strict"}, {"render": "prompt/ask"}, {"generate": "model/remote"}]}
    bot = rp.apps.create("bot", spec, message="first")
    assert bot.ref == "app/bot:1" and [i.resolved for i in bot.record.inputs][1] == "prompt/ask:1"
    file = tmp_path / "bot.yaml"
    file.write_text(
        "steps:\n  - guard_input: policy/strict\n  - generate: {model: model/remote, params: {max_tokens: 8}}\n"
    )
    assert rp.apps.create("bot", file=file).ref == "app/bot:2"
    rp.apps.label("bot", "production", 1)
    bot = rp.apps.get("bot@production")
    assert bot.ref == "app/bot:1" and bot.steps[1] == {"render": {"prompt": "prompt/ask"}}
    out = bot.invoke("the password?", metadata={"user_id": "u1"})
    assert (out.output, out.blocked, out.app) == ("No.", True, "app/bot:1") and len(out.trace_id) == 32
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "password"}]  # fmt: skip
    assert rp.apps.invoke("bot:2", chat).app == "app/bot:2"
    with bot.stream("password") as s:
        assert list(s) == ["No."] and s.record.finish_reason == "blocked"
    assert [a.name for a in rp.apps.list()] == ["bot"] and len(rp.apps.versions("bot")) == 2
    with pytest.raises(UnavailableError, match="model/remote:1"):
        bot.invoke("How do I roll back?")
    with pytest.raises(UnavailableError, match="model/remote:1"):
        bot.stream("How do I roll back?")  # fails at the call, before any delta
    with pytest.raises(NotFoundError, match="app/ghost does not exist"):
        rp.apps.get("ghost")
    with pytest.raises(InvalidError, match="takes no variable tone"):
        bot.invoke("hi", variables={"tone": "dry"})
    with pytest.raises(InvalidError, match="give an app spec"):
        rp.apps.create("x")


def test_a_stream_that_fails_midway(rp: Client) -> None:
    server = BadChatServer("garbage")
    try:
        rp.models.create("bad", provider="openai", base_url=server.url, model="m", retries=0)
        rp.apps.create("bot", {"steps": [{"generate": "model/bad"}]})
        stream = rp.apps.get("bot").stream("hi")
        assert next(stream) == "Hello"
        with pytest.raises(InvalidError, match="not JSON"):
            next(stream)
    finally:
        server.stop()
