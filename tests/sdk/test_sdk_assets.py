"""Assets, lineage, access, secrets and audit through the SDK, on both transports."""

from __future__ import annotations

import pytest

from rippleops import Client, InvalidError, NotFoundError


def test_assets_list_show_update_and_pages(rp: Client) -> None:
    for i in range(5):
        rp.prompts.create(f"p{i}", template=f"{i} {{{{ q }}}}", tags=["odd"] if i % 2 else [])
    rp.prompts.label("p1", "production", 1)
    assert [a.name for a in rp.assets.list(kind="prompt")] == [f"p{i}" for i in range(5)]
    assert [a.name for a in rp.assets.list(tag="odd")] == ["p1", "p3"]
    assert [a.name for a in rp.prompts.list(label="production")] == ["p1"]
    page = rp.assets.page(limit=2)
    assert len(page.items) == 2 and page.total == 5 and page.next_cursor
    second = rp.assets.page(limit=2, cursor=page.next_cursor)
    assert [a.name for a in second.items] == ["p2", "p3"]
    a = rp.assets.update("prompt/p0", description="zero", add_tags=["x"])
    assert a.description == "zero" and a.tags == ["x"]
    assert rp.assets.show("prompt/p1").labels == {"production": 1}
    assert rp.assets.get("prompt/p1@production").content["template"] == "1 {{ q }}"
    assert [v.version for v in rp.assets.versions("prompt/p1")] == [1]
    with pytest.raises(InvalidError, match="cursor"):
        rp.assets.page(cursor="nonsense")
    with pytest.raises(NotFoundError):
        rp.assets.show("prompt/none")


def test_access_secrets_and_audit(rp: Client) -> None:
    assert rp.users.me().name == "alice" and rp.users.me().is_admin
    rp.projects.create("research", description="experiments")
    assert {p.name for p in rp.projects.list()} == {"default", "research"}
    rp.users.create("erin")
    rp.roles.grant("erin", "engineer", project="research")
    assert {(m.user, m.role) for m in rp.roles.list(project="research")} == {("alice", "admin"), ("erin", "engineer")}
    tok = rp.tokens.create(user="erin", name="laptop")
    assert tok.token and tok.token.startswith("rpl_")
    listed = {t.id: t for t in rp.tokens.list(user="erin")}
    assert listed[tok.id].token is None  # shown once
    rp.tokens.revoke(tok.id)
    rp.secrets.set("OPENAI_API_KEY", "sk-123")
    assert [s.name for s in rp.secrets.list()] == ["OPENAI_API_KEY"]
    rp.secrets.delete("OPENAI_API_KEY")
    assert rp.secrets.list() == []
    log = rp.audit.log(limit=500)
    assert {"project.create", "user.create", "role.grant", "token.revoke", "secret.create"} <= {e.action for e in log}
    assert all("sk-123" not in e.model_dump_json() for e in log)
    assert rp.audit.verify().ok
