"""REST deployments and the OpenAI routes' error shapes, in-process on both databases, and
``rp.deployments`` over a real server (the remote transport)."""

from __future__ import annotations

import warnings
from pathlib import Path

from fastapi import FastAPI

from rippleops import Client
from rippleops.sdk.deployments import write_files
from rippleops.server import create_app
from rippleops.services import Services
from rippleops.settings import Settings
from serving_support import remote_model_apps
from support import start_server

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

D = "/api/v1/projects/default/deployments"
Q = [{"role": "user", "content": "Hi"}]


def test_rest_deploy_render_list_promote(client: TestClient, services: Services) -> None:
    remote_model_apps(services, services.access.local_admin())
    r = client.post(D, json={"app": "support-bot:1", "env": "staging", "target": "k8s", "replicas": 2})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ref"] == "deployment/support-bot-staging:1" and body["app"] == "app/support-bot:1"
    assert sorted(body["files"]) == ["README.md", "deployment.yaml", "hpa.yaml", "service.yaml"]
    assert client.get(f"{D}/support-bot-staging").json()["files"] == {}
    assert client.get(f"{D}/support-bot-staging/files").json()["files"] == body["files"]
    assert [d["name"] for d in client.get(D).json()] == ["support-bot-staging"]
    r = client.post(f"{D}/promote", json={"app": "support-bot", "from": "staging", "to": "production"})
    assert r.status_code == 200, r.text
    assert r.json()["ref"] == "deployment/support-bot-production:1"
    # errors keep the REST shape
    r = client.post(D, json={"app": "support-bot:1", "env": "staging", "target": "lambda"})
    assert r.status_code == 422 and r.json()["error"]["type"] == "InvalidError"
    assert client.get(f"{D}/nope").status_code == 404
    r = client.post(f"{D}/support-bot-staging/stop")
    assert r.status_code == 422 and "k8s deployment" in r.json()["error"]["message"]


def test_openai_routes_without_a_model_call(client: TestClient, services: Services) -> None:
    remote_model_apps(services, services.access.local_admin())
    services.labels.set(services.access.local_admin(), "default", "app/support-bot", "production", 2)
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert {m["id"] for m in models["data"]} == {"support-bot", "support-bot@production"}
    assert all(m["object"] == "model" and m["owned_by"] == "ripple" for m in models["data"])
    assert client.get("/v1/models/support-bot@production").json()["id"] == "support-bot@production"
    r = client.get("/v1/models/support-bot@nope")
    assert r.status_code == 404 and set(r.json()["error"]) == {"message", "type", "param", "code"}

    r = client.post("/v1/chat/completions", json={"model": "nope", "messages": Q})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found" and "nope" in r.json()["error"]["message"]
    r = client.post("/v1/chat/completions", json={"model": "support-bot", "messages": Q, "n": 3})
    assert r.status_code == 400 and r.json()["error"]["param"] == "n"
    r = client.post("/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = client.post("/v1/chat/completions", json={"model": "support-bot", "messages": Q},
                    headers={"Authorization": "Basic abc"})  # fmt: skip
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    # the model server is down: a 503 in OpenAI's shape, with Ripple's message
    r = client.post("/v1/chat/completions", json={"model": "support-bot", "messages": Q})
    assert r.status_code == 503 and "model/remote" in r.json()["error"]["message"]


def test_openai_routes_require_a_token_when_auth_is_required(settings: Settings, admin_token: str) -> None:
    app: FastAPI = create_app(settings, auth_required=True)
    with TestClient(app) as c:
        r = c.get("/v1/models")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert c.get("/v1/models", headers={"Authorization": "Bearer unused"}).status_code == 401
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200


def test_sdk_deployments_over_http(settings: Settings, tmp_path: Path) -> None:
    services = Services(settings)
    try:
        remote_model_apps(services, services.access.local_admin())
    finally:
        services.close()
    server = start_server(settings)
    try:
        token = settings.token_file.read_text().strip()
        with Client(url=server.url, token=token) as rp:
            record = rp.deployments.create("support-bot:2", env="dev", target="ray-serve")
            assert record.app == "app/support-bot:2" and "serve-config.yaml" in record.files
            folder = write_files(record, tmp_path / "ray")
            assert (folder / "serve-config.yaml").read_text() == record.files["serve-config.yaml"]
            assert rp.deployments.get("support-bot-dev").ref == record.ref
            assert [d.name for d in rp.deployments.list()] == ["support-bot-dev"]
            assert rp.deployments.files("support-bot-dev").files == record.files
    finally:
        server.stop()
