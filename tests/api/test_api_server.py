"""The server's own routes: health, metrics, OpenAPI (checked in), docs; projects and users."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from fastapi.testclient import TestClient

from rippleops import __version__
from rippleops.server import create_app
from rippleops.server.openapi import WRITE_COMMAND, openapi_json
from rippleops.settings import Settings

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
P = "/api/v1/projects/default"


def test_healthz_names_the_schema_revision(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"] == __version__
    assert body["revision"] == client.app.state.services.db.head_revision()  # type: ignore[attr-defined]


def _refusing_port() -> int:
    """A 127.0.0.1 port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthz_is_503_when_the_database_cannot_be_reached(settings: Settings) -> None:
    down = settings.model_copy(update={"database_url": f"postgresql://nobody@127.0.0.1:{_refusing_port()}/ripple"})
    app = create_app(down)
    c = TestClient(app)  # no lifespan: it would try to migrate the unreachable database
    r = c.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["error"]["type"] == "UnavailableError"
    assert "nobody@127.0.0.1" in body["error"]["message"]  # a loopback server without auth says why
    app.state.services.close()

    guarded = create_app(down, auth_required=True)
    hidden = TestClient(guarded).get("/healthz")
    assert hidden.status_code == 503 and "nobody" not in hidden.text and "server log" in hidden.text
    guarded.state.services.close()


def test_healthz_is_503_without_a_schema(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"}))
    r = TestClient(app).get("/healthz")
    assert r.status_code == 503 and "ripple init" in r.json()["error"]["message"]
    app.state.services.close()


def test_metrics_count_and_time_requests_by_route_template(client: TestClient) -> None:
    client.post(f"{P}/prompts/answer", json={"template": "x"})
    for _ in range(3):
        client.get(f"{P}/prompts/answer")
    client.get(f"{P}/prompts/missing")
    client.get("/no/such/route")
    text = client.get("/metrics").text
    route = "/api/v1/projects/{project}/prompts/{ref}"
    assert f'ripple_http_requests_total{{method="GET",route="{route}",status="200"}} 3.0' in text
    assert f'ripple_http_requests_total{{method="GET",route="{route}",status="404"}} 1.0' in text
    assert 'ripple_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert f'ripple_http_request_duration_seconds_count{{method="GET",route="{route}",status="200"}} 3.0' in text
    assert (
        f'ripple_http_request_duration_seconds_bucket{{le="0.005",method="GET",route="{route}",status="200"}}' in text
    )


def test_two_apps_keep_their_own_metrics(settings: Settings) -> None:
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        a.get("/healthz")
        a.get("/healthz")
        b.get("/healthz")
        assert 'route="/healthz",status="200"} 2.0' in a.get("/metrics").text
        assert 'route="/healthz",status="200"} 1.0' in b.get("/metrics").text


def test_openapi_schema_is_checked_in() -> None:
    current = openapi_json()
    checked_in = OPENAPI_FILE.read_text() if OPENAPI_FILE.is_file() else ""
    assert current == checked_in, (
        f"the API changed and {OPENAPI_FILE.relative_to(OPENAPI_FILE.parents[1])} is out of date; if the change is "
        f"deliberate, regenerate it with `{WRITE_COMMAND}` and commit it"
    )


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert (schema["info"]["title"], schema["info"]["version"]) == ("Ripple", __version__)
    assert schema == json.loads(openapi_json())
    assert f"{P.replace('default', '{project}')}/prompts/{{ref}}" in schema["paths"]
    assert client.get("/docs").status_code == 200


def test_projects_users_and_tokens(client: TestClient) -> None:
    made = client.post("/api/v1/projects", json={"name": "search", "description": "search team"})
    assert made.status_code == 201 and made.json()["created_by"] == "alice"
    assert client.post("/api/v1/projects", json={"name": "search"}).status_code == 409
    assert [p["name"] for p in client.get("/api/v1/projects").json()] == ["default", "search"]
    assert client.get("/api/v1/projects/search/members").json() == [
        {"project": "search", "user": "alice", "role": "admin"}
    ]

    assert client.post("/api/v1/users", json={"name": "bob"}).status_code == 201
    assert client.put("/api/v1/projects/search/members/bob", json={"role": "engineer"}).json()["role"] == "engineer"
    assert client.put("/api/v1/projects/search/members/bob", json={"role": "boss"}).status_code == 422
    users = {u["name"]: u for u in client.get("/api/v1/users").json()}
    assert users["bob"]["roles"] == {"search": "engineer"} and users["alice"]["is_admin"] is True
    assert client.delete("/api/v1/projects/search/members/bob").json()["role"] == "engineer"
    assert client.delete("/api/v1/projects/search/members/bob").status_code == 404

    token = client.post("/api/v1/tokens", json={"user": "bob", "name": "laptop"}).json()
    assert token["token"].startswith("rpl_") and token["user"] == "bob"
    listed = client.get("/api/v1/tokens", params={"user": "bob"}).json()
    assert [(t["name"], t["token"]) for t in listed] == [("laptop", None)]
    assert client.delete("/api/v1/tokens/99999").status_code == 404


def test_audit_log_filters(client: TestClient) -> None:
    client.post(f"{P}/prompts/answer", json={"template": "x"})
    client.put(f"{P}/assets/prompt/answer/labels/production", json={"version": 1})
    events = client.get("/api/v1/audit", params={"action": "label", "project": "default"}).json()
    assert [(e["action"], e["target"], e["actor"]) for e in events] == [
        ("label.move", "prompt/answer@production", "alice")
    ]
    since = events[0]["at"]
    assert [e["action"] for e in client.get("/api/v1/audit", params={"since": since}).json()] == ["label.move"]
    assert len(client.get("/api/v1/audit", params={"limit": 1}).json()) == 1
    assert client.get("/api/v1/audit", params={"since": "yesterday"}).status_code == 422
    assert client.get("/api/v1/audit", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/audit", params={"actor": "nobody"}).json() == []
    verify = client.get("/api/v1/audit/verify").json()
    assert verify["ok"] is True and verify["events"] >= 4
