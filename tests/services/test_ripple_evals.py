"""The whole ripple with real parts, on SQLite and PostgreSQL: a new dataset version ->
the index rebuilt (MiniLM) -> the app rebuilt on it -> re-evaluated by its suite (SmolLM2
answering) against the production baseline -> promoted and redeployed when every gate passes,
held with the evidence when one fails."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from app_support import KB, build_kb
from eval_support import QA, P, add_qa_dataset, suite_spec
from rippleops.domain.access import Principal
from rippleops.domain.prompts import parse_spec
from rippleops.services import Services

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


def setup(services: Services, who: Principal, **suite: Any) -> None:
    """index/kb (production) <- app/bot (production, deployed) <- suite/qa (baseline run on app/bot:1)."""
    build_kb(services, who)
    add_qa_dataset(services, who)
    services.models.create(who, P, "local-smollm", {"provider": "local"})
    services.labels.set(who, P, "model/local-smollm", "production", 1)
    services.prompts.create(who, P, "ask", parse_spec({"template": "Answer in a few words: {{ question }}"}))
    spec = {"steps": [{"retrieve": {"index": "index/kb@production", "k": 1}}, {"render": {"prompt": "prompt/ask"}},
                      {"generate": {"model": "model/local-smollm@production",
                                    "params": {"max_tokens": 6, "temperature": 0}}}]}  # fmt: skip
    services.apps.create(who, P, "bot", spec)
    services.labels.set(who, P, "app/bot", "production", 1)
    services.suites.create(who, P, "qa", suite_spec(**suite))
    base = services.evals.evaluate(who, P, "suite/qa", "app/bot:1")
    assert base.state == "succeeded"
    services.deployments.create(who, P, "app/bot:1", env="production", target="k8s")
    table = pa.table({"doc_id": [*KB, "new.md"], "text": [*KB.values(), "# New\n\nA page added since."]})
    services.datasets.create_from_table(
        who, P, "kb", table, provenance={"source": "tests", "license": "Apache-2.0", "created_by": "tests"},
        key="doc_id",
    )  # fmt: skip


STEPS = [
    "rebuild:index/kb:1",
    "rebuild:app/bot:1",
    "re-evaluate:suite/qa:app/bot:1",
    "redeploy:deployment/bot-production:1",
]


def test_a_new_dataset_is_rebuilt_evaluated_promoted_and_redeployed(services: Services, admin: Principal) -> None:
    setup(services, admin)
    plan = services.ripple.impact(admin, P, "dataset/kb:2")
    assert [s.key for s in plan.steps] == STEPS
    assert plan.steps[2].estimate.basis == "mean of 1 eval run of suite/qa on app/bot"

    record = services.ripple.apply(admin, P, "dataset/kb:2", wait=True)
    rep = record.report or {}
    assert record.state == "succeeded", record.steps
    assert rep["rebuilt"] == [{"from": "index/kb:1", "to": "index/kb:2"}, {"from": "app/bot:1", "to": "app/bot:2"}]
    [ev] = rep["evaluated"]
    assert ev["target"] == "app/bot:2" and ev["passed"] and ev["baseline_run"] == 1 and ev["comparable"]
    moved = {(p["asset"], p["label"]): p["to"] for p in rep["promoted"]}
    assert moved == {("app/bot", "production"): "app/bot:2", ("index/kb", "production"): "index/kb:2"}
    assert [r["app"] for r in rep["redeployed"]] == ["app/bot:2"]
    assert rep["held"] == [] and rep["failed"] == [] and rep["skipped"] == []
    assert services.assets.get(admin, P, "app/bot@production").ref == "app/bot:2"
    assert services.assets.get(admin, P, "index/kb@production").ref == "index/kb:2"
    assert services.assets.get(admin, P, "deployment/bot-production").content["app"] == "app/bot:2"
    assert services.ripple.stale(admin, P).items == []  # everything settled


def test_a_failed_gate_holds_the_branch_with_the_evidence(services: Services, admin: Principal) -> None:
    gates = [{"metric": "exact_match", "min": 0.99}, {"metric": "nonempty", "max_regression": 0.1}]
    setup(services, admin, gates=gates)
    record = services.ripple.apply(admin, P, "dataset/kb:2", wait=True)
    rep = record.report or {}
    assert record.state == "succeeded"
    assert [r["to"] for r in rep["rebuilt"]] == ["index/kb:2", "app/bot:2"]
    [ev] = rep["evaluated"]
    assert ev["passed"] is False and ev["run"] > 1
    assert any(g["metric"] == "exact_match" and g["passed"] is False for g in ev["gates"])
    held = {h["target"]: h["reason"] for h in rep["held"]}
    assert "gate failed for app/bot:2 on suite/qa" in held["app/bot:1"]
    assert held["index/kb:2"].startswith("held: a dependent did not pass")
    assert rep["promoted"] == [] and rep["redeployed"] == []
    assert [s["step"] for s in rep["skipped"]] == ["redeploy:deployment/bot-production:1"]
    assert services.assets.get(admin, P, "app/bot@production").ref == "app/bot:1"
    assert services.assets.get(admin, P, "index/kb@production").ref == "index/kb:1"
    assert services.assets.get(admin, P, "deployment/bot-production").content["app"] == "app/bot:1"


def test_a_suite_whose_dataset_changed_is_rebaselined_before_gating(services: Services, admin: Principal) -> None:
    """One dataset feeds the index and the suite: the baseline ran on its old version, so it is
    not comparable; the apply scores the production version on the new dataset first."""
    add_qa_dataset(services, admin)
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    job = services.indexes.create(admin, P, "qa", dataset="dataset/qa", embedder="embedder/minilm",
                                  text_column="answer", doc_id_column="id", wait=True)  # fmt: skip
    assert job.state.value == "succeeded", job.error
    services.labels.set(admin, P, "index/qa", "production", 1)
    services.models.create(admin, P, "local-smollm", {"provider": "local"})
    services.labels.set(admin, P, "model/local-smollm", "production", 1)
    services.prompts.create(admin, P, "ask", parse_spec({"template": "Answer in a few words: {{ question }}"}))
    spec = {"steps": [{"retrieve": {"index": "index/qa@production", "k": 1}}, {"render": {"prompt": "prompt/ask"}},
                      {"generate": {"model": "model/local-smollm@production",
                                    "params": {"max_tokens": 6, "temperature": 0}}}]}  # fmt: skip
    services.apps.create(admin, P, "bot", spec)
    services.labels.set(admin, P, "app/bot", "production", 1)
    services.suites.create(admin, P, "qa", suite_spec())
    assert services.evals.evaluate(admin, P, "suite/qa", "app/bot:1").state == "succeeded"
    add_qa_dataset(services, admin, [*QA, ("q5", "How do I see what a change affects?", "ripple impact")])

    plan = services.ripple.impact(admin, P, "dataset/qa:2")
    assert [s.key for s in plan.steps] == [
        "rebuild:index/qa:1", "rebuild:app/bot:1", "rebuild:suite/qa:1", "re-evaluate:suite/qa:app/bot:1",
    ]  # fmt: skip
    assert plan.steps[3].depends_on == ["rebuild:app/bot:1", "rebuild:suite/qa:1"]
    record = services.ripple.apply(admin, P, "dataset/qa:2", wait=True)
    rep = record.report or {}
    assert record.state == "succeeded", record.steps
    [ev] = rep["evaluated"]
    assert ev["rebaselined"]["target"] == "app/bot:1"  # the production version, scored on dataset/qa:2
    assert ev["comparable"] and ev["baseline_run"] == ev["rebaselined"]["run"] and ev["passed"]
    assert services.evals.get_run(admin, P, ev["baseline_run"]).dataset == "dataset/qa:2"
    moved = {(p["asset"], p["label"]): p["to"] for p in rep["promoted"]}
    assert moved == {("app/bot", "production"): "app/bot:2", ("index/qa", "production"): "index/qa:2"}
