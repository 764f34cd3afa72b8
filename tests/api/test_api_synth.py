"""Synthetic data over HTTP: a ``synth.generate`` job submitted to ``POST …/jobs`` (202, the
server's pool runs it), polled to its end, on SQLite and PostgreSQL; bad specs are 422 or 404
with a message that names the problem, a model endpoint that is down fails the job."""

from __future__ import annotations

import socket
import time
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rippleops.domain.access import Principal
from rippleops.services import Services
from synth_data import FAST, SENTENCES, check_counts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

JOBS = "/api/v1/projects/default/jobs"


def _admin(services: Services, settings_token: str) -> Principal:
    return services.access.authenticate(settings_token)


def _wait(client: TestClient, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"{JOBS}/{job_id}").json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end")


@pytest.fixture
def faq(services: Services, admin_token: str) -> None:
    admin = _admin(services, admin_token)
    table = pa.Table.from_pylist(SENTENCES)
    services.datasets.create_from_table(admin, "default", "faq", table, provenance={"source": "test"}, key="id")


def test_bad_specs_are_refused_with_the_reason(client: TestClient, faq: None, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        r = client.post("/api/v1/projects/default/models/down", json={"provider": "openai", "base_url": url,
                                                                        "model": "m", "retries": 0})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        base = {"source": "faq", "into": "x", "model": "down"}
        cases = [
            ({"task": "rhyme"}, 422, "unknown task 'rhyme'"),
            ({"task": "paraphrase", "text_column": "body"}, 422, "has no column 'body'"),
            ({"task": "paraphrase", "output_schema": {"type": ["object", 3]}}, 422, "not a valid JSON schema"),
            ({"task": "paraphrase", "model": "gone"}, 404, "model/gone does not exist"),
        ]
        for over, status, text in cases:
            r = client.post(JOBS, json={"kind": "synth.generate", "params": {**base, **over}})
            assert r.status_code == status and text in r.json()["error"]["message"], r.text
        r = client.post(JOBS, json={"kind": "synth.generate", "params": {**base, "task": "paraphrase"}})
        assert r.status_code == 202, r.text
        job = _wait(client, r.json()["id"])
        assert job["state"] == "failed" and job["error"]["type"] == "UnavailableError"
        assert client.get("/api/v1/projects/default/assets/dataset/x").status_code == 404


@pytest.mark.slow
def test_paraphrase_job_over_http(client: TestClient, faq: None) -> None:
    r = client.post("/api/v1/projects/default/models/local-smollm", json={"provider": "local"})
    assert r.status_code in (200, 201), r.text
    params = {"task": "paraphrase", "source": "faq", "into": "faq-para", "model": "local-smollm", "n": 2,
              "params": {"seed": 1, **FAST}}  # fmt: skip
    r = client.post(JOBS, json={"kind": "synth.generate", "params": params})
    assert r.status_code == 202 and r.json()["state"] in ("queued", "running", "succeeded")
    job = _wait(client, r.json()["id"])
    assert job["state"] == "succeeded", job["error"]
    check_counts(job["result"])
    assert job["params"]["dedupe"]["against"] == ["batch", "source", "target"]  # the spec with its defaults
    version = client.get(f"/api/v1/projects/default/versions/{job['result']['dataset']}").json()
    assert {i["role"] for i in version["inputs"]} == {"seed", "prompt", "generator"}
    logs = client.get(f"{JOBS}/{job['id']}/logs").json()
    assert any("candidates generated" in line["message"] for line in logs)
