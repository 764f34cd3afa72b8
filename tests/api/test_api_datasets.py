"""Datasets over REST, in-process (the app's pool runs the import jobs): upload a raw body,
follow the job, read the version, head, diff, quality, bias, streamed exports; the size
limit, roles and the server's import-roots rule."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from dataset_support import FAQ_CSV, FAQ_V2_CSV
from rippleops.server import create_app
from rippleops.services import Services
from rippleops.services.dataset_jobs import uploads_dir
from rippleops.settings import Settings

D = "/api/v1/projects/default/datasets"
J = "/api/v1/projects/default/jobs"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"import_roots": str(tmp_path / "imports")})


def finished(client: TestClient, job: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"{J}/{job['id']}").json()
        if body["state"] in ("succeeded", "failed", "cancelled"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)


def upload(client: TestClient, name: str, data: bytes, **params: Any) -> dict[str, Any]:
    r = client.post(
        f"{D}/{name}/upload", params=params, content=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert r.status_code == 202, r.text
    return finished(client, r.json())


def test_upload_then_read_everything_back(client: TestClient, settings: Settings) -> None:
    job = upload(client, "faq", FAQ_CSV.encode(), format="csv", key="id", license="CC-BY-4.0",
                 source="https://example.com/faq.csv", message="first", tags=["support"])  # fmt: skip
    assert job["state"] == "succeeded", job["error"]
    assert job["kind"] == "dataset.import" and job["result"]["ref"] == "dataset/faq:1"
    assert list(uploads_dir(settings).iterdir()) == []  # the staged upload is gone once imported
    v = client.get(f"{D}/faq").json()
    assert (v["ref"], v["message"], v["tags"]) == ("dataset/faq:1", "first", ["support"])
    assert v["content"]["provenance"]["source"] == "https://example.com/faq.csv"
    assert [x["version"] for x in client.get(f"{D}/faq/versions").json()] == [1]
    head = client.get(f"{D}/faq:1/head", params={"n": 1}).json()
    assert head["records"] == [
        {"id": 1, "question": "What is Ripple?", "answer": "A platform for AI assets", "topic": "product"}
    ]
    assert client.get(D).json()["items"][0]["ref"] == "dataset/faq"

    upload(client, "faq", FAQ_V2_CSV.encode(), format="csv", key="id", source="https://example.com/faq.csv")
    d = client.get(f"{D}/faq:1/diff/faq:2", params={"limit": 1}).json()
    assert d["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}
    quality = client.get(f"{D}/faq:1/quality").json()
    assert quality["report"]["rows"] == 3 and quality["report"]["pii"]["entities"] == {"EMAIL_ADDRESS": 1}
    rows = "group,approved\n" + "a,yes\n" * 8 + "a,no\n" * 2 + "b,yes\n" * 4 + "b,no\n" * 6
    upload(client, "loans", rows.encode(), format="csv")
    r = client.get(f"{D}/loans/bias", params={"group": "group", "outcome": "approved", "positive": "yes"})
    bias = r.json()
    assert r.status_code == 200 and bias["ref"] == "dataset/loans:1", bias
    assert [(g["group"], g["rate"], g["four_fifths"]) for g in bias["report"]["groups"]] == [
        ("a", 0.8, True),
        ("b", 0.4, False),
    ]
    assert client.get(f"{D}/loans/bias", params={"group": "nope", "outcome": "approved"}).status_code == 404

    r = client.get(f"{D}/faq:2/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-ripple-ref"] == "dataset/faq:2"
    assert r.headers["content-disposition"] == 'attachment; filename="faq-2.csv"'
    assert r.text.splitlines()[0] == '"id","question","answer","topic"' and len(r.text.splitlines()) == 4
    r = client.get(f"{D}/faq/export", params={"format": "jsonl"})
    assert [json.loads(line)["id"] for line in r.text.splitlines()] == [1, 3, 4]
    r = client.get(f"{D}/faq/export")
    assert r.headers["content-length"] == str(client.get(f"{D}/faq").json()["content"]["bytes"])
    assert pq.read_table(io.BytesIO(r.content)).num_rows == 3


def test_an_upload_over_the_request_limit_streams_past_it(client: TestClient, settings: Settings) -> None:
    lines = ["id,text"] + [f"{i},{'word ' * 20}{i}" for i in range(12_000)]
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > settings.max_payload_bytes  # the 1 MiB limit of other requests
    job = upload(client, "wide", data, format="csv", key="id", pii="false")
    assert job["state"] == "succeeded" and job["result"]["rows"] == 12_000, job["error"]


def test_bad_uploads(client: TestClient, settings: Settings) -> None:
    def error(r: Any, status: int) -> str:
        assert r.status_code == status, r.text
        return str(r.json()["error"]["message"])

    post = client.post
    assert "unknown dataset format 'xls'" in error(post(f"{D}/x/upload", params={"format": "xls"}, content=b"a"), 422)
    assert "format" in error(post(f"{D}/x/upload", content=b"a"), 422)
    assert "the upload is empty" in error(post(f"{D}/x/upload", params={"format": "csv"}, content=b""), 422)
    assert "dataset name 'Bad Name' is not valid" in error(
        post(f"{D}/Bad Name/upload", params={"format": "csv"}, content=b"a"), 422
    )
    job = upload(client, "bad", b"a,b\n1,2\n3,4,5\n", format="csv")
    assert job["state"] == "failed" and job["error"]["type"] == "InvalidError"
    assert "line 3: expected 2 fields, found 3" in job["error"]["message"]
    assert error(client.get(f"{D}/bad"), 404)
    assert list(uploads_dir(settings).iterdir()) == []
    assert "unknown export format 'xlsx'" in error(client.get(f"{D}/bad/export", params={"format": "xlsx"}), 422)


def test_the_upload_size_limit(settings: Settings) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 100})
    with TestClient(create_app(small)) as client:
        r = client.post(f"{D}/big/upload", params={"format": "csv"}, content=b"a,b\n" + b"1,2\n" * 100)
        assert r.status_code == 413 and "RIPPLE_MAX_UPLOAD_BYTES" in r.json()["error"]["message"]
        assert list(uploads_dir(small).iterdir()) == []  # the partial file is removed


def test_roles_and_import_roots(
    auth_client: TestClient, admin_token: str, services: Services, settings: Settings, tmp_path: Path
) -> None:
    admin = {"Authorization": f"Bearer {admin_token}"}
    auth_client.post("/api/v1/users", json={"name": "vic"}, headers=admin)
    auth_client.put("/api/v1/projects/default/members/vic", json={"role": "viewer"}, headers=admin)
    token = auth_client.post("/api/v1/tokens", json={"user": "vic"}, headers=admin).json()["token"]
    viewer = {"Authorization": f"Bearer {token}"}
    r = auth_client.post(f"{D}/faq/upload", params={"format": "csv"}, content=FAQ_CSV.encode(), headers=viewer)
    assert r.status_code == 403 and "needs engineer" in r.json()["error"]["message"]
    assert auth_client.post(f"{D}/faq/upload", params={"format": "csv"}, content=b"a").status_code == 401
    outside = tmp_path / "outside.csv"
    outside.write_text(FAQ_CSV)
    r = auth_client.post(
        J, json={"kind": "dataset.import", "params": {"name": "faq", "path": str(outside)}}, headers=admin
    )
    assert r.status_code == 422 and "RIPPLE_IMPORT_ROOTS" in r.json()["error"]["message"]
    inside = tmp_path / "imports" / "faq.csv"
    inside.parent.mkdir()
    inside.write_text(FAQ_CSV)
    r = auth_client.post(
        J, json={"kind": "dataset.import", "params": {"name": "faq", "path": str(inside)}}, headers=admin
    )
    assert r.status_code == 202
    deadline = time.monotonic() + 60
    while (job := auth_client.get(f"{J}/{r.json()['id']}", headers=admin).json())["state"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert job["state"] == "succeeded", job["error"]
    assert auth_client.get(f"{D}/faq/head", headers=viewer).status_code == 200  # viewers read
