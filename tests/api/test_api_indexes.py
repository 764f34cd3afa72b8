"""Indexes over REST, in-process (the app's pool runs the builds), on SQLite and PostgreSQL:
create and rebuild answer 202 with the job, then search, evaluate, read, and the errors."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from index_corpus import doc_rows, make_docs, make_questions
from rippleops.services import Services

pytestmark = pytest.mark.slow  # the shipped model embeds every chunk
IX = "/api/v1/projects/default/indexes"
FILES = ("docs/design.md", "docs/api.md")


@pytest.fixture
def data(services: Services) -> None:
    admin = services.access.local_admin()
    make_docs(services, admin, doc_rows(FILES))
    make_questions(services, admin)
    services.embedders.create(admin, "default", "minilm", {"provider": "minilm"})


def finished(client: TestClient, job: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/api/v1/projects/default/jobs/{job['id']}").json()
        if body["state"] in ("succeeded", "failed", "cancelled"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_build_search_evaluate_over_http(client: TestClient, data: None) -> None:
    r = client.post(f"{IX}/docs", json={"dataset": "dataset/docs", "embedder": "embedder/minilm", "chunk_size": 600,
                                        "metadata_columns": ["section"]})  # fmt: skip
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "index.build" and r.json()["params"]["chunking"]["size"] == 600
    done = finished(client, r.json())
    assert done["state"] == "succeeded", done["error"]
    assert done["result"]["index"] == "index/docs:1"

    assert [a["ref"] for a in client.get(IX).json()] == ["index/docs"]
    index = client.get(f"{IX}/docs").json()
    for field in ("ref", "kind", "name", "version", "hash", "labels", "inputs", "recipe", "created_at", "created_by",
                  "dataset", "embedder", "table", "dimension", "chunks", "documents", "fields"):  # fmt: skip
        assert field in index, field
    assert client.get(f"{IX}/docs:1").json()["hash"] == index["hash"]
    assert [v["version"] for v in client.get(f"{IX}/docs/versions").json()] == [1]

    found = client.post(f"{IX}/docs/search", json={"query": "What status does an InvalidError get?", "k": 3})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["mode"] == "hybrid" and len(body["hits"]) == 3 and body["hits"][0]["doc_id"] == "docs/api.md"
    assert {"rank", "score", "doc_id", "text", "start", "end", "heading", "metadata"} <= set(body["hits"][0])
    filtered = client.post(f"{IX}/docs/search", json={"query": "layers", "mode": "vector",
                                                      "filters": {"doc_id": "docs/design.md"}}).json()  # fmt: skip
    assert {h["doc_id"] for h in filtered["hits"]} == {"docs/design.md"}

    ev = client.post(f"{IX}/docs/eval", json={"queries": "dataset/questions", "k": 5, "modes": ["bm25"]})
    assert ev.status_code == 200, ev.text
    assert list(ev.json()["modes"]) == ["bm25"] and ev.json()["query_count"] == 7

    rebuilt = client.post(f"{IX}/docs/build", json={})
    assert rebuilt.status_code == 202, rebuilt.text
    again = finished(client, rebuilt.json())
    assert again["state"] == "succeeded" and again["result"]["unchanged"] is True


def test_errors_over_http(client: TestClient, data: None) -> None:
    missing = client.post(f"{IX}/docs", json={"dataset": "dataset/nope", "embedder": "embedder/minilm"})
    assert missing.status_code == 404 and "dataset/nope does not exist" in missing.json()["error"]["message"]
    bad = client.post(f"{IX}/docs", json={"dataset": "dataset/docs", "embedder": "embedder/minilm", "overlap": 900})
    assert bad.status_code == 422 and bad.json()["error"]["type"] == "InvalidError"
    assert client.post(f"{IX}/docs", json={"dataset": "dataset/docs"}).status_code == 422  # no embedder
    assert client.get(f"{IX}/docs").status_code == 404
    assert client.post(f"{IX}/nope/search", json={"query": "x"}).status_code == 404
    assert client.post(f"{IX}/docs/build", json={}).status_code == 404
    done = finished(client, client.post(f"{IX}/docs", json={"dataset": "dataset/docs",
                                                            "embedder": "embedder/minilm"}).json())  # fmt: skip
    assert done["state"] == "succeeded"
    r = client.post(f"{IX}/docs/search", json={"query": "x", "filters": {"lang": "en"}})
    assert r.status_code == 422 and "this index can filter on: doc_id" in r.json()["error"]["message"]
    assert client.post(f"{IX}/docs/search", json={"query": "x", "mode": "fuzzy"}).status_code == 422
    assert client.post(f"{IX}/docs/search", json={"query": "x", "k": 0}).status_code == 422
    assert client.post(f"{IX}/docs/search", json={"query": "x", "colour": 1}).status_code == 422
    r = client.post(f"{IX}/docs/eval", json={"queries": "dataset/docs"})
    assert r.status_code == 422 and "query_id" in r.json()["error"]["message"]


def test_viewers_search_but_do_not_build(auth_client: TestClient, services: Services, data: None) -> None:
    admin = services.access.local_admin()
    services.indexes.create(admin, "default", "docs", dataset="dataset/docs", embedder="embedder/minilm", wait=True)
    services.access.create_user(admin, "vera")
    services.access.grant(admin, "default", "vera", "viewer")
    token = services.access.create_token(admin, user="vera").token
    headers = {"Authorization": f"Bearer {token}"}
    assert auth_client.post(f"{IX}/docs/search", json={"query": "layers"}, headers=headers).status_code == 200
    assert auth_client.post(f"{IX}/docs/build", json={}, headers=headers).status_code == 403
    assert auth_client.post(f"{IX}/docs/search", json={"query": "layers"}).status_code == 401
