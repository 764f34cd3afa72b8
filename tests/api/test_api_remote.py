"""The remote SDK transport against the real app under uvicorn on 127.0.0.1, on SQLite and PostgreSQL:
every ``Transport`` method, the error mapping back to :mod:`rippleops.errors`, ETags."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from rippleops import Client
from rippleops.domain.records import AssetRecord, PromptRecord
from rippleops.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    UnauthenticatedError,
    UnavailableError,
)
from rippleops.sdk.remote import RemoteTransport
from rippleops.sdk.transport import NOT_MODIFIED, Transport, prompt_etag
from rippleops.settings import Settings
from rippleops.store.models.base import utcnow
from support import RunningServer, start_server


@pytest.fixture
def auth_server(settings: Settings) -> Iterator[RunningServer]:
    srv = start_server(settings, auth_required=True)
    yield srv
    srv.stop()


@pytest.fixture
def remote(auth_server: RunningServer, admin_token: str) -> Iterator[RemoteTransport]:
    t = RemoteTransport(auth_server.url, admin_token)
    yield t
    t.close()


def _as(auth_server: RunningServer, token: str | None) -> RemoteTransport:
    return RemoteTransport(auth_server.url, token)


def test_every_transport_method_is_implemented() -> None:
    abstract = Transport.__abstractmethods__
    assert abstract and not getattr(RemoteTransport, "__abstractmethods__", set())
    assert all(getattr(RemoteTransport, m) is not getattr(Transport, m) for m in abstract)


def test_prompts_round_trip(remote: RemoteTransport) -> None:
    rec = remote.create_prompt("default", "answer", {"template": "Answer: {{ q }}", "tags": ["qa"]})
    assert isinstance(rec, PromptRecord) and (rec.ref, rec.created) == ("prompt/answer:1", True)
    assert remote.create_prompt("default", "answer", {"template": "Answer: {{ q }}"}).created is False
    remote.create_prompt("default", "answer", {"template": "Answer briefly: {{ q }}"})
    remote.set_label("default", "prompt/answer", "production", 1)

    got = remote.get_prompt("default", "prompt/answer@production")
    assert isinstance(got, PromptRecord) and got.version == 1 and got.labels == ["production"]
    assert remote.get_prompt("default", "answer:1", etag=prompt_etag(got)) is NOT_MODIFIED
    assert remote.get_prompt("default", "prompt/answer", etag=prompt_etag(got)) != NOT_MODIFIED
    assert remote.render_prompt("default", "prompt/answer@production", {"q": "hi"}) == "Answer: hi"
    diff = remote.diff_prompts("default", "prompt/answer:1", "answer@latest")
    assert (diff["from"], diff["to"], diff["same"]) == ("prompt/answer:1", "prompt/answer:2", False)


def test_assets_labels_lineage_round_trip(remote: RemoteTransport) -> None:
    remote.create_prompt("default", "system", {"template": "Be brief."})
    remote.create_prompt("default", "answer", {"template": '{% include "prompt/system" %} {{ q }}'})
    page = remote.list_assets("default", kind="prompt", limit=1)
    assert isinstance(page.items[0], AssetRecord) and page.items[0].name == "answer" and page.next_cursor
    assert [a.name for a in remote.list_assets("default", cursor=page.next_cursor).items] == ["system"]

    updated = remote.update_asset("default", "prompt/answer", description="the answer", add_tags=["qa"])
    assert (updated.description, updated.tags) == ("the answer", ["qa"])
    assert remote.show_asset("default", "prompt/answer").tags == ["qa"]
    assert remote.get_version("default", "prompt/answer:1").content["template"].endswith("{{ q }}")
    assert [v.version for v in remote.list_versions("default", "prompt/answer")] == [1]

    assert remote.set_label("default", "prompt/answer", "staging", ":1").version == 1
    assert remote.remove_label("default", "prompt/answer", "staging").label == "staging"
    assert [(e.label, e.to_version) for e in remote.label_history("default", "prompt/answer")] == [
        ("staging", 1),
        ("staging", None),
    ]
    assert remote.label_history("default", "prompt/answer", label="production") == []
    lineage = remote.lineage("default", "prompt/system:1", direction="down", depth=3)
    assert [n.ref for n in lineage.downstream] == ["prompt/answer:1"]


def test_access_audit_and_secrets_round_trip(remote: RemoteTransport) -> None:
    assert remote.whoami().name == "alice"
    assert remote.create_project("search", "search team").name == "search"
    assert [p.name for p in remote.list_projects()] == ["default", "search"]
    assert remote.create_user("bob").name == "bob"
    assert "bob" in [u.name for u in remote.list_users()]
    token = remote.create_token(user="bob", name="laptop", expires_at=utcnow() + timedelta(days=1))
    assert token.token and token.expires_at is not None
    assert [t.name for t in remote.list_tokens(user="bob")] == ["laptop"]
    assert remote.revoke_token(token.id).revoked_at is not None
    assert remote.grant_role("search", "bob", "viewer").role == "viewer"
    assert [m.user for m in remote.list_members("search")] == ["alice", "bob"]
    assert remote.revoke_role("search", "bob").user == "bob"

    assert remote.set_secret("default", "OPENAI_API_KEY", "sk-1").name == "OPENAI_API_KEY"
    assert [s.name for s in remote.list_secrets("default")] == ["OPENAI_API_KEY"]
    assert remote.delete_secret("default", "OPENAI_API_KEY").name == "OPENAI_API_KEY"

    since = utcnow() - timedelta(minutes=5)
    events = remote.audit_log(since=since, action="secret", project="default", limit=10)
    assert [e.action for e in events] == ["secret.create", "secret.delete"]
    assert remote.audit_log(actor="nobody") == []
    assert remote.audit_verify().ok is True


def test_errors_come_back_as_ripple_errors(remote: RemoteTransport, auth_server: RunningServer) -> None:
    remote.create_prompt("default", "answer", {"template": "x"})
    with pytest.raises(NotFoundError, match="has no label 'prod'; labels: none yet"):
        remote.get_prompt("default", "prompt/answer@prod")
    with pytest.raises(InvalidError, match="not valid"):
        remote.create_prompt("default", "Bad Name", {"template": "x"})
    with pytest.raises(InvalidError, match="has no kind"):
        remote.show_asset("default", "answer")  # parsed like the embedded transport parses it
    with pytest.raises(ConflictError):
        remote.create_project("default")
    with pytest.raises(UnauthenticatedError, match="requires an API token"):
        _as(auth_server, None).whoami()
    with pytest.raises(UnauthenticatedError, match="not known"):
        _as(auth_server, "rpl_nope").whoami()

    remote.create_user("eve")
    remote.grant_role("default", "eve", "engineer")
    eve = _as(auth_server, remote.create_token(user="eve").token)
    eve.set_label("default", "prompt/answer", "staging", 1)
    with pytest.raises(ForbiddenError, match="needs admin"):
        eve.set_label("default", "prompt/answer", "production", 1)


def test_sdk_client_over_the_remote_transport(remote: RemoteTransport) -> None:
    rp = Client(transport=remote, cache_ttl=0.2)
    created = rp.prompts.create("answer", template="Answer: {{ question }}", message="first")
    assert created.ref == "prompt/answer:1"
    rp.prompts.label("answer", "production", 1)
    assert rp.prompts.get("answer", label="production").render(question="hi") == "Answer: hi"
    assert rp.prompts.get("answer@production").version == 1  # from the cache
    time.sleep(0.25)
    rp.prompts.create("answer", template="v2 {{ question }}")
    rp.prompts.label("answer", "production", 2)
    rp.prompts.get("answer@production")  # stale: served at once, revalidated in the background
    deadline = time.monotonic() + 5
    while rp.prompts.get("answer@production").version != 2:
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.02)
    assert [a.name for a in rp.assets.list(kind="prompt")] == ["answer"]
    assert rp.audit.verify().ok


def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = RemoteTransport(f"http://127.0.0.1:{port}", "rpl_x", timeout=2)
    with pytest.raises(
        UnavailableError, match=rf"cannot reach the Ripple server at http://127.0.0.1:{port} .*ripple server start"
    ):
        t.get_prompt("default", "prompt/answer")
    t.close()
    with pytest.raises(InvalidError, match="http://HOST:PORT"):
        RemoteTransport("127.0.0.1:8750", None)


def test_proxy_settings_in_the_environment_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """With HTTP_PROXY set, requests go through httpx.Client (which routes them), not straight to the pool."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        proxy_port = s.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    t = RemoteTransport("http://ripple.example:8750", "rpl_x", timeout=2)
    with pytest.raises(UnavailableError, match="refused"):
        t.whoami()  # refused by the (absent) proxy; ripple.example itself is never looked up
    t.close()
