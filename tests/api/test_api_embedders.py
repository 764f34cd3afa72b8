"""The embedder routes, in-process, on SQLite and PostgreSQL, with the real shipped MiniLM."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

E = "/api/v1/projects/default/embedders"


@pytest.mark.slow
def test_create_get_versions_embed(client: TestClient) -> None:
    r = client.post(f"{E}/minilm", json={"provider": "minilm", "message": "default"})
    assert r.status_code == 201, r.text
    assert r.json()["ref"] == "embedder/minilm:1" and r.json()["content"]["dimension"] == 384
    assert client.post(f"{E}/minilm", json={"provider": "minilm"}).status_code == 200  # identical: existing
    assert client.get(f"{E}/minilm@latest").json()["content"]["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert [v["version"] for v in client.get(f"{E}/minilm/versions").json()] == [1]
    r = client.post(f"{E}/minilm:1/embed", json={"texts": ["hello world", "hello world", "bye"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ref"] == "embedder/minilm:1" and body["dimension"] == 384
    assert len(body["vectors"]) == 3 and len(body["vectors"][0]) == 384
    assert (body["cached"], body["embedded"]) == (1, 2)
    assert client.post(f"{E}/minilm/embed", json={"texts": ["bye"]}).json()["cached"] == 1
    # labels are the generic asset route
    assert (
        client.put("/api/v1/projects/default/assets/embedder/minilm/labels/production", json={"version": 1}).status_code
        == 200
    )
    assert client.get(f"{E}/minilm@production").json()["version"] == 1


def test_bad_requests_are_clear(client: TestClient) -> None:
    r = client.post(f"{E}/x", json={"provider": "openai", "model": "m"})
    assert r.status_code == 422 and "needs base_url, dimension" in r.json()["error"]["message"]
    r = client.post(f"{E}/Bad Name", json={"provider": "minilm"})
    assert r.status_code == 422
    r = client.post(f"{E}/nothing/embed", json={"texts": ["x"]})
    assert r.status_code == 404 and "embedder/nothing does not exist" in r.json()["error"]["message"]
    r = client.post(f"{E}/nothing/embed", json={"texts": "not a list"})
    assert r.status_code == 422
