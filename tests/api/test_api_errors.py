"""The one error mapping: every failure is ``{"error": {type, message, details}}`` with its status."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rippleops.errors import ConflictError
from rippleops.server import create_app
from rippleops.settings import Settings

P = "/api/v1/projects/default"


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "type": "NotFoundError",
            "message": "no route GET /api/v1/nothing-here; see /docs for the API",
            "details": {},
        }
    }
    r = client.delete("/api/v1/me")
    assert r.status_code == 405 and r.json()["error"]["type"] == "RippleError" and "allow" in r.headers


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post(f"{P}/prompts/answer", content=b'{"template": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["type"] == "InvalidError" and "not valid JSON" in err["message"]
    assert err["details"]["fields"][0]["type"] == "json_invalid"


def test_validation_errors_name_every_bad_field(client: TestClient) -> None:
    r = client.post("/api/v1/users", json={"name": 3, "is_admin": "maybe", "colour": "red"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["type"] == "InvalidError"
    for field in ("name", "is_admin", "colour"):
        assert f"{field}:" in err["message"]
    assert {tuple(f["loc"]) for f in err["details"]["fields"]} == {
        ("body", "name"),
        ("body", "is_admin"),
        ("body", "colour"),
    }
    assert "maybe" not in r.text  # the input is never echoed (it may be a secret)

    missing = client.put(f"{P}/secrets/KEY", json={})
    assert missing.status_code == 422 and "value: Field required" in missing.json()["error"]["message"]
    no_body = client.post(f"{P}/prompts/answer/render")
    assert no_body.status_code == 422


def test_secret_values_never_come_back(client: TestClient) -> None:
    r = client.put(f"{P}/secrets/OPENAI_API_KEY", json={"value": "sk-very-secret"})
    assert r.status_code == 200 and r.json()["name"] == "OPENAI_API_KEY"
    listed = client.get(f"{P}/secrets")
    assert "sk-very-secret" not in r.text + listed.text
    assert [s["name"] for s in listed.json()] == ["OPENAI_API_KEY"]
    bad = client.put(f"{P}/secrets/not-valid", json={"value": "sk-very-secret"})
    assert bad.status_code == 422 and "sk-very-secret" not in bad.text
    assert client.delete(f"{P}/secrets/OPENAI_API_KEY").json()["name"] == "OPENAI_API_KEY"
    assert client.delete(f"{P}/secrets/OPENAI_API_KEY").status_code == 404


def test_oversize_body_is_413_by_content_length(client: TestClient, settings: Settings) -> None:
    big = b'{"template": "' + b"a" * settings.max_payload_bytes + b'"}'
    r = client.post(f"{P}/prompts/answer", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    err = r.json()["error"]
    assert err["type"] == "PayloadTooLargeError" and "RIPPLE_MAX_PAYLOAD_BYTES" in err["message"]
    assert client.get(f"{P}/prompts/answer").status_code == 404  # nothing was registered


@pytest.fixture
def small_limit_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"max_payload_bytes": 400}))) as c:
        yield c


def test_oversize_body_is_413_when_streamed_without_content_length(small_limit_client: TestClient) -> None:
    def chunks(n: int) -> Iterator[bytes]:
        yield b'{"template": "'
        for _ in range(n):
            yield b"a" * 50
        yield b'"}'

    r = small_limit_client.post(f"{P}/prompts/answer", content=chunks(10), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["type"] == "PayloadTooLargeError"

    # a small streamed body is replayed to the app intact
    ok = small_limit_client.post(f"{P}/prompts/answer", content=chunks(2), headers={"Content-Type": "application/json"})
    assert ok.status_code == 201 and ok.json()["template"] == "a" * 100


def test_ripple_errors_keep_their_status(app: FastAPI) -> None:
    async def clash() -> None:
        raise ConflictError("it already exists", details={"name": "x"})

    app.add_api_route("/clash", clash)
    with TestClient(app) as c:
        r = c.get("/clash")
    assert r.status_code == 409
    assert r.json() == {"error": {"type": "ConflictError", "message": "it already exists", "details": {"name": "x"}}}


def test_unexpected_errors_are_logged_and_answered_500(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/boom", boom)
    with caplog.at_level(logging.ERROR, logger="rippleops.server"), TestClient(app) as c:
        r = c.get("/boom")
        assert c.get("/healthz").status_code == 200  # the server carries on
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["type"] == "RippleError" and "RuntimeError" in err["message"] and "kaboom" not in err["message"]
    assert any("unhandled error in GET /boom" in rec.getMessage() and rec.exc_info for rec in caplog.records)
