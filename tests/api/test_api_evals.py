"""The suites and evals REST API on SQLite and PostgreSQL: create and read suite versions,
a run as a job (202) on a real app (SmolLM2), runs, samples, gate, compare, the HTML
reports, and error bodies that name the field."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from eval_support import build_bot, suite_spec
from rippleops.services import Services

pytestmark = pytest.mark.slow
BASE = "/api/v1/projects/default"


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


def _finished(client: TestClient, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"{BASE}/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_suites_and_eval_runs_over_rest(client: TestClient, services: Services) -> None:
    build_bot(services, services.access.local_admin())
    r = client.post(f"{BASE}/suites/qa", json=suite_spec())
    assert r.status_code == 201, r.text
    assert r.json()["ref"] == "suite/qa:1" and r.json()["recipe"] == {"pins": {"dataset/qa": "dataset/qa:1"}}
    assert client.post(f"{BASE}/suites/qa", json=suite_spec()).status_code == 200
    assert client.get(f"{BASE}/suites/qa@latest").json()["content"]["target"] == "app"
    assert [a["name"] for a in client.get(f"{BASE}/suites").json()] == ["qa"]
    bad = client.post(f"{BASE}/suites/qa", json=suite_spec(gates=[{"metric": "nonempty", "min": 1, "max": 2}]))
    assert bad.status_code == 422 and "gates[0] must have exactly one of min, max or max_regression" in bad.text

    r = client.post(f"{BASE}/evals", json={"suite": "qa", "target": "app/bot@production", "limit": 2})
    assert r.status_code == 202, r.text
    assert r.json()["params"] == {"suite": "suite/qa:1", "target": "app/bot:1", "limit": 2}
    job = _finished(client, r.json()["id"])
    assert job["state"] == "succeeded", job
    run_id = job["result"]["run"]
    run = client.get(f"{BASE}/evals/{run_id}").json()
    assert (run["state"], run["done"], run["target"]) == ("succeeded", 2, "app/bot:1")
    assert set(run["aggregates"]["nonempty"]) >= {"mean", "ci_low", "ci_high", "n", "errors", "p50", "p95"}
    samples = client.get(f"{BASE}/evals/{run_id}/samples").json()
    assert [s["key"] for s in samples] == ["q1", "q2"]
    assert [r["id"] for r in client.get(f"{BASE}/evals", params={"suite": "suite/qa", "target": "app/bot"}).json()] == [
        run_id
    ]

    gate = client.post(f"{BASE}/evals/{run_id}/gate", json={})
    assert gate.status_code == 200 and gate.json()["run"] == run_id and len(gate.json()["gates"]) == 3
    again = _finished(
        client, client.post(f"{BASE}/evals", json={"suite": "qa", "target": "app/bot:1", "limit": 2}).json()["id"]
    )
    cmp = client.post(f"{BASE}/evals/compare", json={"run_a": run_id, "run_b": again["result"]["run"]})
    assert cmp.status_code == 200 and cmp.json()["comparable"] is True
    html = client.get(f"{BASE}/evals/{run_id}/report")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert client.get(f"{BASE}/evals/{run_id}/compare/{again['result']['run']}/report").status_code == 200

    assert client.get(f"{BASE}/evals/999").status_code == 404
    wrong = client.post(f"{BASE}/evals", json={"suite": "qa", "target": "prompt/ask:1"})
    assert wrong.status_code == 422 and "scores app versions" in wrong.text
    services.evals.store.finish(run_id, state="failed")
    assert client.post(f"{BASE}/evals/{run_id}/gate").status_code == 409
