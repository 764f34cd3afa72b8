"""``ripple user``, ``token``, ``role``, ``whoami``, ``project`` and ``secret``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cli_helpers import ANSWER_V1, Ripple


def test_users_tokens_and_roles(ripple: Ripple) -> None:
    me = ripple.json("whoami")
    assert me["name"] == "alice" and me["is_admin"] is True
    assert "alice (instance admin)" in ripple.ok("whoami").stdout

    assert "created user bob" in ripple.ok("user", "create", "bob").stdout
    assert "already exists" in ripple.fails(4, "user", "create", "bob").stderr
    assert "not valid" in ripple.fails(2, "user", "create", "Bob Smith").stderr
    assert {u["name"]: u["is_admin"] for u in ripple.json("user", "list")} == {"alice": True, "bob": False}
    assert "bob" in ripple.ok("user", "list").stdout

    created = ripple.ok("token", "create", "--user", "bob", "--name", "laptop", "--expires", "30d")
    token = created.stdout.strip()
    assert len(token) > 20 and "\n" not in token
    assert "store it now" in created.stderr and token not in created.stderr
    info = ripple.json("token", "list", "--user", "bob")
    assert [(t["user"], t["name"]) for t in info] == [("bob", "laptop")]
    expires = datetime.fromisoformat(info[0]["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    assert token not in ripple.ok("token", "list").stdout

    assert ripple.json("--token", token, "whoami")["name"] == "bob"
    assert "bob" in ripple.fails(6, "--token", token, "prompt", "list").stderr
    assert "bob is viewer in project default" in ripple.ok("role", "grant", "bob", "viewer").stdout
    assert ripple.json("--token", token, "prompt", "list") == []
    ripple.fails(6, "--token", token, "prompt", "create", "answer", "--file", ripple.file("a.yaml", ANSWER_V1))
    ripple.ok("role", "grant", "bob", "engineer")
    ripple.ok("--token", token, "prompt", "create", "answer", "--file", ripple.file("a.yaml", ANSWER_V1))
    assert ripple.json("prompt", "show", "answer")["created_by"] == "bob"
    ripple.fails(6, "--token", token, "prompt", "label", "answer", "production", "1")
    assert {(m["user"], m["role"]) for m in ripple.json("role", "list")} == {("alice", "admin"), ("bob", "engineer")}
    assert "unknown role" in ripple.fails(2, "role", "grant", "bob", "boss").stderr
    assert "was engineer" in ripple.ok("role", "revoke", "bob").stdout
    ripple.fails(3, "role", "revoke", "bob")

    token_id = info[0]["id"]
    assert f"revoked token {token_id}" in ripple.ok("token", "revoke", str(token_id)).stdout
    assert "revoked" in ripple.fails(5, "--token", token, "whoami").stderr
    ripple.fails(4, "token", "revoke", str(token_id))
    ripple.fails(3, "token", "revoke", "999")

    as_json = ripple.json("token", "create", "--name", "ci")
    assert as_json["user"] == "alice" and as_json["token"] and as_json["expires_at"] is None
    assert ripple.json("--token", as_json["token"], "whoami")["name"] == "alice"
    assert "--expires" in ripple.fails(2, "token", "create", "--expires", "soon").stderr
    assert "past" in ripple.fails(2, "token", "create", "--expires", "2001-01-01T00:00").stderr


def test_projects(ripple: Ripple) -> None:
    assert "created project support" in ripple.ok("project", "create", "support", "--description", "the bot").stdout
    ripple.fails(4, "project", "create", "support")
    projects = {p["name"]: p["description"] for p in ripple.json("project", "list")}
    assert projects == {"default": "", "support": "the bot"}
    assert "support" in ripple.ok("project", "list").stdout

    ripple.ok("--project", "support", "prompt", "create", "answer", "--file", ripple.file("a.yaml", ANSWER_V1))
    assert [a["ref"] for a in ripple.json("--project", "support", "prompt", "list")] == ["prompt/answer"]
    assert ripple.json("prompt", "list") == []
    assert "ripple project create nope" in ripple.fails(3, "--project", "nope", "prompt", "list").stderr
    assert "project name" in ripple.fails(2, "--project", "No Way", "prompt", "list").stderr
    assert {m["project"] for m in ripple.json("role", "list", "--project", "support")} == {"support"}


def test_secrets_are_never_shown(ripple: Ripple) -> None:
    value = "sk-very-secret-value-123"
    out = ripple.ok("secret", "set", "OPENAI_API_KEY", input=value + "\n")
    assert "secret OPENAI_API_KEY set in project default" in out.stdout
    assert value not in out.output
    piped = ripple.ok("secret", "set", "OTHER_KEY", "--value-stdin", input="another-secret\n")
    assert "another-secret" not in piped.output

    listed = ripple.ok("secret", "list", "--json").stdout
    assert [s["name"] for s in ripple.json("secret", "list")] == ["OPENAI_API_KEY", "OTHER_KEY"]
    assert value not in listed and "another-secret" not in listed
    human = ripple.ok("secret", "list").stdout
    assert "OPENAI_API_KEY" in human and value not in human
    assert value not in ripple.ok("audit", "log", "--json").stdout

    ripple.fails(2, "secret", "set", "EMPTY", "--value-stdin", input="")
    assert "deleted secret OTHER_KEY" in ripple.ok("secret", "delete", "OTHER_KEY").stdout
    ripple.fails(3, "secret", "delete", "OTHER_KEY")
    assert [s["name"] for s in ripple.json("secret", "list")] == ["OPENAI_API_KEY"]
