"""Jobs over REST (the app's pool runs them): submit answers 202, then poll the job and its
logs; cancel, rerun, filters, errors, and a viewer who may read but not submit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rippleops.services import Services
from rippleops.settings import Settings

J = "/api/v1/projects/default/jobs"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"import_roots": str(tmp_path / "imports")})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "imports" / "prompts"
    path.mkdir(parents=True)
    (path / "answer.yaml").write_text("template: 'Answer: {{ question }}'\n")
    (path / "system.yaml").write_text("template: Be brief.\n")
    return path


def finished(client: TestClient, job_id: int, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"{J}/{job_id}").json()
        if body["state"] in ("succeeded", "failed", "cancelled"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)


def test_submit_poll_logs_and_list(client: TestClient, folder: Path) -> None:
    r = client.post(J, json={"kind": "prompt.import", "params": {"path": str(folder)}})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running", "succeeded") and job["kind"] == "prompt.import"
    for field in ("id", "project", "params", "state", "progress", "result", "error", "created_at", "created_by",
                  "started_at", "finished_at", "attempt", "rerun_of"):  # fmt: skip
        assert field in job, field
    done = finished(client, job["id"])
    assert done["state"] == "succeeded" and done["result"]["created"] == ["prompt/answer:1", "prompt/system:1"]
    assert done["progress"] == {"done": 2, "total": 2, "message": "system.yaml"}
    logs = client.get(f"{J}/{job['id']}/logs").json()
    assert [line["seq"] for line in logs] == [1, 2]
    assert [line["message"] for line in client.get(f"{J}/{job['id']}/logs", params={"after": 1}).json()] == [
        "system.yaml: created prompt/system:1"
    ]
    assert [j["id"] for j in client.get(J, params={"state": "succeeded", "kind": "prompt.import"}).json()] == [
        job["id"]
    ]
    assert client.get(J, params={"state": "failed"}).json() == []


def test_rerun_and_cancel(client: TestClient, folder: Path) -> None:
    (folder / "broken.yaml").write_text("nope: 1\n")
    job = client.post(J, json={"kind": "prompt.import", "params": {"path": str(folder)}}).json()
    failed = finished(client, job["id"])
    assert failed["state"] == "failed" and failed["error"]["type"] == "InvalidError"
    assert "broken.yaml" in failed["error"]["message"] and failed["error"]["traceback"]
    cancel = client.post(f"{J}/{job['id']}/cancel")
    assert cancel.status_code == 409 and "nothing to cancel" in cancel.json()["error"]["message"]
    (folder / "broken.yaml").unlink()
    rerun = client.post(f"{J}/{job['id']}/rerun")
    assert rerun.status_code == 202 and rerun.json()["rerun_of"] == job["id"] and rerun.json()["attempt"] == 2
    assert finished(client, rerun.json()["id"])["state"] == "succeeded"
    again = client.post(f"{J}/{rerun.json()['id']}/rerun")
    assert again.status_code == 409 and again.json()["error"]["type"] == "ConflictError"


def test_errors(client: TestClient, tmp_path: Path) -> None:
    def error(r: Any, status: int) -> str:
        assert r.status_code == status, r.text
        return str(r.json()["error"]["message"])

    assert "unknown job kind" in error(client.post(J, json={"kind": "nope.nope"}), 422)
    assert "kind" in error(client.post(J, json={"params": {}}), 422)
    assert "RIPPLE_IMPORT_ROOTS" in error(
        client.post(J, json={"kind": "prompt.import", "params": {"path": str(tmp_path)}}), 422
    )
    assert "job 7 does not exist" in error(client.get(f"{J}/7"), 404)
    assert "job 7 does not exist" in error(client.get(f"{J}/7/logs"), 404)
    error(client.get(f"{J}/x"), 422)
    error(client.get(J, params={"limit": 0}), 422)
    assert "unknown job state" in error(client.get(J, params={"state": "done"}), 422)


def test_a_viewer_reads_jobs_but_cannot_submit_or_cancel(
    auth_client: TestClient, admin_token: str, services: Services, folder: Path
) -> None:
    admin = {"Authorization": f"Bearer {admin_token}"}
    auth_client.post("/api/v1/users", json={"name": "vic"}, headers=admin)
    auth_client.put("/api/v1/projects/default/members/vic", json={"role": "viewer"}, headers=admin)
    token = auth_client.post("/api/v1/tokens", json={"user": "vic"}, headers=admin).json()["token"]
    viewer = {"Authorization": f"Bearer {token}"}

    refused = auth_client.post(J, json={"kind": "prompt.import", "params": {"path": str(folder)}}, headers=viewer)
    assert refused.status_code == 403 and "needs engineer" in refused.json()["error"]["message"]
    assert auth_client.post(J, json={"kind": "prompt.import"}).status_code == 401
    job = auth_client.post(J, json={"kind": "prompt.import", "params": {"path": str(folder)}}, headers=admin)
    assert job.status_code == 202
    assert [j["id"] for j in auth_client.get(J, headers=viewer).json()] == [job.json()["id"]]
    assert auth_client.get(f"{J}/{job.json()['id']}/logs", headers=viewer).status_code == 200
    assert auth_client.post(f"{J}/{job.json()['id']}/cancel", headers=viewer).status_code == 403
    assert auth_client.post(f"{J}/{job.json()['id']}/rerun", headers=viewer).status_code == 403
