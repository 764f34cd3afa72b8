"""Authentication and the role matrix over REST.

Authorisation lives in one place (``AccessService.authorize``); these tests check that every
endpoint class reaches it with the right principal, so each role gets exactly its rights.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from rippleops.services import Services
from rippleops.store.models import Token, User
from rippleops.store.models.base import utcnow

P = "/api/v1/projects/default"
ROLES = ("viewer", "annotator", "engineer", "admin")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _setup_roles(c: TestClient, admin: dict[str, str]) -> dict[str, dict[str, str]]:
    """One user per role in `default`, each with a token; plus prompt/answer:1 to read."""
    tokens = {}
    for role in ROLES:
        user = f"{role}-user"
        assert c.post("/api/v1/users", json={"name": user}, headers=admin).status_code == 201
        assert c.put(f"{P}/members/{user}", json={"role": role}, headers=admin).status_code == 200
        made = c.post("/api/v1/tokens", json={"user": user, "name": "test"}, headers=admin)
        assert made.status_code == 201
        tokens[role] = bearer(made.json()["token"])
    assert c.post("/api/v1/users", json={"name": "dora"}, headers=admin).status_code == 201
    assert c.post(f"{P}/prompts/answer", json={"template": "Answer: {{ q }}"}, headers=admin).status_code == 201
    return tokens


def _endpoint_classes(c: TestClient, role: str, h: dict[str, str]) -> dict[str, int]:
    return {
        "read": c.get(f"{P}/prompts/answer", headers=h).status_code,
        "render": c.post(f"{P}/prompts/answer/render", json={"variables": {"q": "x"}}, headers=h).status_code,
        "write version": c.post(f"{P}/prompts/by-{role}", json={"template": role}, headers=h).status_code,
        "move staging": c.put(f"{P}/assets/prompt/answer/labels/staging", json={"version": 1}, headers=h).status_code,
        "move production": c.put(
            f"{P}/assets/prompt/answer/labels/production", json={"version": 1}, headers=h
        ).status_code,
        "list members": c.get(f"{P}/members", headers=h).status_code,
        "manage members": c.put(f"{P}/members/dora", json={"role": "viewer"}, headers=h).status_code,
        "secrets": c.put(f"{P}/secrets/OPENAI_API_KEY", json={"value": "sk-1"}, headers=h).status_code,
        "list secrets": c.get(f"{P}/secrets", headers=h).status_code,
        "audit": c.get("/api/v1/audit", headers=h).status_code,
        "audit verify": c.get("/api/v1/audit/verify", headers=h).status_code,
        "create user": c.post("/api/v1/users", json={"name": f"new-{role}"}, headers=h).status_code,
    }


def test_role_matrix(auth_client: TestClient, admin_token: str) -> None:
    c = auth_client
    tokens = _setup_roles(c, bearer(admin_token))
    got = {role: _endpoint_classes(c, role, tokens[role]) for role in ROLES}
    ok, no = 200, 403
    expected = {
        #                  viewer annotator engineer admin
        "read":            (ok,   ok,       ok,      ok),
        "render":          (ok,   ok,       ok,      ok),
        "write version":   (no,   no,       201,     201),
        "move staging":    (no,   no,       ok,      ok),
        "move production": (no,   no,       no,      ok),
        "list members":    (ok,   ok,       ok,      ok),
        "manage members":  (no,   no,       no,      ok),
        "secrets":         (no,   no,       no,      ok),
        "list secrets":    (no,   no,       no,      ok),
        "audit":           (no,   no,       no,      no),  # instance admins only
        "audit verify":    (no,   no,       no,      no),
        "create user":     (no,   no,       no,      no),
    }  # fmt: skip
    assert got == {role: {k: v[i] for k, v in expected.items()} for i, role in enumerate(ROLES)}

    # the instance admin may do everything, audit included
    admin = _endpoint_classes(c, "alice", bearer(admin_token))
    assert set(admin.values()) <= {200, 201}, admin


def test_forbidden_names_the_role_needed(auth_client: TestClient, admin_token: str) -> None:
    tokens = _setup_roles(auth_client, bearer(admin_token))
    r = auth_client.put(f"{P}/assets/prompt/answer/labels/production", json={"version": 1}, headers=tokens["engineer"])
    err = r.json()["error"]
    assert r.status_code == 403 and err["type"] == "ForbiddenError"
    assert "engineer-user has role engineer" in err["message"] and "needs admin" in err["message"]


def test_no_role_in_the_project_is_forbidden(auth_client: TestClient, admin_token: str) -> None:
    admin = bearer(admin_token)
    auth_client.post("/api/v1/users", json={"name": "outsider"}, headers=admin)
    token = auth_client.post("/api/v1/tokens", json={"user": "outsider"}, headers=admin).json()["token"]
    r = auth_client.get(f"{P}/assets", headers=bearer(token))
    assert r.status_code == 403 and "has no role in project 'default'" in r.json()["error"]["message"]
    assert auth_client.get("/api/v1/projects", headers=bearer(token)).json() == []
    assert auth_client.get("/api/v1/me", headers=bearer(token)).json()["name"] == "outsider"


def test_auth_required_refuses_missing_bad_and_malformed_credentials(auth_client: TestClient) -> None:
    missing = auth_client.get(f"{P}/assets")
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "UnauthenticatedError"
    assert "requires an API token" in missing.json()["error"]["message"]

    unknown = auth_client.get(f"{P}/assets", headers=bearer("rpl_not-a-token"))
    assert unknown.status_code == 401 and "not known" in unknown.json()["error"]["message"]

    basic = auth_client.get(f"{P}/assets", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert basic.status_code == 401 and "Bearer" in basic.json()["error"]["message"]

    # an unauthenticated request learns nothing about the project or the body it sent
    assert auth_client.post(f"{P}/prompts/x", json={"bad": 1}).status_code == 401
    assert auth_client.get("/api/v1/projects/nope/assets").status_code == 401


def test_revoked_token_stops_working_at_once(auth_client: TestClient, admin_token: str) -> None:
    admin = bearer(admin_token)
    made = auth_client.post("/api/v1/tokens", json={"name": "ci"}, headers=admin).json()
    token = bearer(made["token"])
    assert auth_client.get("/api/v1/me", headers=token).status_code == 200

    revoked = auth_client.delete(f"/api/v1/tokens/{made['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None and revoked.json()["token"] is None
    r = auth_client.get("/api/v1/me", headers=token)
    assert r.status_code == 401 and "was revoked" in r.json()["error"]["message"]
    assert auth_client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 409


def test_expired_token_is_refused(auth_client: TestClient, admin_token: str) -> None:
    admin = bearer(admin_token)
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    made = auth_client.post("/api/v1/tokens", json={"name": "short", "expires_at": soon}, headers=admin).json()
    assert auth_client.get("/api/v1/me", headers=bearer(made["token"])).status_code == 200

    services: Services = auth_client.app.state.services  # type: ignore[attr-defined]
    services.db.write(
        lambda s: s.execute(
            update(Token).where(Token.id == made["id"]).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    )
    r = auth_client.get("/api/v1/me", headers=bearer(made["token"]))
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    past = (utcnow() - timedelta(days=1)).isoformat()
    assert auth_client.post("/api/v1/tokens", json={"expires_at": past}, headers=admin).status_code == 422


def test_loopback_without_auth_acts_as_the_local_admin(client: TestClient, admin_token: str) -> None:
    me = client.get("/api/v1/me").json()
    assert (me["name"], me["is_admin"]) == ("alice", True)
    assert client.get("/api/v1/audit/verify").json()["ok"] is True
    # a token, when sent, is still checked
    assert client.get("/api/v1/me", headers=bearer("rpl_wrong")).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(admin_token)).json()["name"] == "alice"


def test_local_admin_is_the_first_active_instance_admin(client: TestClient, services: Services) -> None:
    alice = services.access.local_admin()
    services.access.create_user(alice, "zed", is_admin=True)
    assert services.access.local_admin().name == "alice"
    services.db.write(lambda s: s.execute(update(Token).values(revoked_at=utcnow())))  # tokens do not matter
    assert client.get("/api/v1/me").json()["name"] == "alice"

    services.db.write(lambda s: s.execute(update(User).where(User.name == "alice").values(is_active=False)))
    assert client.get("/api/v1/me").json()["name"] == "zed"
    services.db.write(lambda s: s.execute(update(User).values(is_active=False)))
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and "run `ripple init`" in r.json()["error"]["message"]
