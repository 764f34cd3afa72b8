"""``ripple apply`` with real parts (SQLite and PostgreSQL): a new dataset version rebuilds
the index (the shipped MiniLM) and the app; nothing evaluates them, so their labels are held.
A kill after every step in turn (a real SIGKILL of a real ``ripple apply`` process) resumes
without redoing finished steps; a second apply while one runs is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import pyarrow as pa
import pytest

from app_support import KB, P, add_model, add_rag_prompt, build_kb, rag_app
from rippleops.domain.access import Principal
from rippleops.domain.records import JobLogRecord, JobRecord
from rippleops.errors import ConflictError
from rippleops.services import Services

pytestmark = pytest.mark.slow  # the shipped embedder builds real indexes

STEPS = ["rebuild:index/kb:1", "rebuild:app/bot:1", "redeploy:deployment/bot-production:1", "promote:upstream"]


def setup_chain(services: Services, who: Principal) -> None:
    """dataset/kb -> index/kb (production) -> app/bot (production) -> deployment/bot-production (k8s)."""
    build_kb(services, who)
    add_model(services, who)
    add_rag_prompt(services, who)
    services.apps.create(who, P, "bot", rag_app())
    services.deployments.create(who, P, "app/bot:1", env="production", target="k8s")
    table = pa.table({"doc_id": [*KB, "new.md"], "text": [*KB.values(), "# New\n\nA page added since."]})
    services.datasets.create_from_table(
        who, P, "kb", table, provenance={"source": "tests", "license": "Apache-2.0", "created_by": "tests"},
        key="doc_id",
    )  # fmt: skip


def check_held_report(services: Services, who: Principal, apply_id: int) -> None:
    record = services.ripple.get_apply(who, P, apply_id)
    assert record.state == "succeeded", record
    assert [s.key for s in record.steps] == STEPS
    rep = record.report or {}
    assert rep["rebuilt"] == [{"from": "index/kb:1", "to": "index/kb:2"}, {"from": "app/bot:1", "to": "app/bot:2"}]
    assert rep["promoted"] == [] and rep["failed"] == [] and rep["redeployed"] == []
    held = {h["target"]: h["reason"] for h in rep["held"]}
    assert held == {"index/kb:2": "held: not evaluated by any suite", "app/bot:2": "held: not evaluated by any suite"}
    assert [s["step"] for s in rep["skipped"]] == ["redeploy:deployment/bot-production:1"]
    # the labels did not move; the new app pins the new index although index/kb@production is still :1
    assert services.assets.get(who, P, "index/kb@production").ref == "index/kb:1"
    assert services.assets.get(who, P, "app/bot@production").ref == "app/bot:1"
    app2 = services.apps.get(who, P, "app/bot:2")
    assert {i.ref: i.resolved for i in app2.inputs}["index/kb@production"] == "index/kb:2"
    assert len(services.assets.versions(who, P, "index/kb")) == 2
    assert len(services.assets.versions(who, P, "app/bot")) == 2


def test_apply_rebuilds_the_chain_and_holds_what_nothing_evaluated(services: Services, admin: Principal) -> None:
    setup_chain(services, admin)
    plan = services.ripple.impact(admin, P, "dataset/kb:2")
    assert [s.key for s in plan.steps] == STEPS[:3]
    assert plan.steps[0].estimate.basis == "mean of 1 index.build job of index/kb"
    dry = services.ripple.apply(admin, P, "dataset/kb:2", dry_run=True)
    assert dry.state == "dry-run" and dry.id == 0 and len(services.assets.versions(admin, P, "index/kb")) == 1

    record = services.ripple.apply(admin, P, "dataset/kb:2", wait=True)
    check_held_report(services, admin, record.id)
    actions = [e.action for e in services.audit.log(admin, project=P, limit=500)]
    assert "ripple.apply.start" in actions and "ripple.apply.finish" in actions
    with pytest.raises(ConflictError, match="already finished"):
        services.ripple.apply(admin, P, resume=record.id)


def test_a_second_apply_while_one_runs_is_refused(services: Services, admin: Principal) -> None:
    setup_chain(services, admin)
    started, release = threading.Event(), threading.Event()
    results: list[Any] = []

    def watch(job: JobRecord, lines: list[JobLogRecord]) -> None:
        if not started.is_set() and job.progress.message.startswith("rebuild:"):  # the lock has its job
            started.set()
            release.wait(60)

    def first() -> None:
        results.append(services.ripple.apply(admin, P, "dataset/kb:2", wait=True, watch=watch))

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(60)
        with pytest.raises(ConflictError, match=r"apply 1 \(job \d+\) is running.*ripple job cancel \d+"):
            services.ripple.apply(admin, P, "dataset/kb:2", wait=True)
    finally:
        release.set()
        thread.join(120)
    check_held_report(services, admin, results[0].id)
    assert len(services.ripple.list_applies(admin, P)) == 1  # the refused one left nothing behind


def _cli(args: list[str], faults: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RIPPLE_FAULTS"}
    env["HF_HUB_OFFLINE"] = "1"
    if faults:
        env["RIPPLE_FAULTS"] = faults
    code = "from rippleops.cli.main import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_an_apply_killed_after_every_step_resumes_without_redoing_steps(services: Services, admin: Principal) -> None:
    setup_chain(services, admin)
    fault = "ripple.apply.after_step"
    done = _cli(["apply", "dataset/kb:2", "--json"], fault)
    assert done.returncode == -signal.SIGKILL, done.stderr
    kills = 1
    while True:
        record = services.ripple.get_apply(admin, P, 1)
        finished = [s.key for s in record.steps if s.status != "pending"]
        assert finished == STEPS[:kills], (kills, record.steps)
        done = _cli(["apply", "--resume", "1", "--json"], fault)
        if done.returncode != -signal.SIGKILL:
            break
        kills += 1
    assert done.returncode == 0, done.stderr
    assert kills == len(STEPS)  # killed once after each step, every step ran once
    assert json.loads(done.stdout)["state"] == "succeeded"
    check_held_report(services, admin, 1)
