"""``rp.suites`` and ``rp.evals`` on both transports (embedded and a real server), SQLite and
PostgreSQL: a suite from a file, a run as a job on a real app (SmolLM2), its samples, gates
(and ``check=True`` raising), a comparison and the HTML reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eval_support import build_bot, suite_spec
from rippleops import Client
from rippleops.errors import GateFailedError, InvalidError, NotFoundError
from rippleops.services import Services
from rippleops.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _bot(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")
    services = Services(settings)
    try:
        build_bot(services, services.access.local_admin())
    finally:
        services.close()


def test_suites_runs_gates_and_reports(rp: Client, tmp_path: Path) -> None:
    file = tmp_path / "qa.yaml"
    file.write_text(yaml.safe_dump(suite_spec()))
    suite = rp.suites.create("qa", file=file)
    assert suite.ref == "suite/qa:1" and suite.record.inputs[0].resolved == "dataset/qa:1"
    assert rp.suites.create("qa", suite_spec()).record.created is False
    strict = rp.suites.create("strict", suite_spec(gates=[{"metric": "nonempty", "min": 2}]))
    assert [a.name for a in rp.suites.list()] == ["qa", "strict"]
    assert [v.ref for v in rp.suites.versions("qa")] == ["suite/qa:1"]
    assert rp.suites.label("qa", "production", 1).label == "production"
    assert rp.suites.get("qa@production").spec["columns"]["input"] == "question"

    seen: list[int] = []
    job = rp.evals.run("qa", "app/bot@production", limit=2, on_update=lambda j, lines: seen.append(j.progress.done))
    assert job.state.value == "succeeded", job.error
    run = rp.evals.get(job.result["run"])
    assert (run.suite, run.target, run.done, run.state) == ("suite/qa:1", "app/bot:1", 2, "succeeded")
    assert run.aggregates["nonempty"].n == 2 and seen
    samples = rp.evals.samples(run.id)
    assert [s.key for s in samples] == ["q1", "q2"] and samples[0].output["text"] is not None
    assert [s.key for s in rp.evals.samples(run.id, offset=1, limit=1)] == ["q2"]
    assert [r.id for r in rp.evals.list(suite="qa", target="app/bot")] == [run.id]

    report = rp.evals.gate(run.id)
    assert report.run == run.id and report.baseline_run == run.id  # app/bot:1 holds production
    failing = rp.suites.get("strict").run("app/bot:1", limit=1)
    with pytest.raises(GateFailedError, match=r"nonempty .* < min 2"):
        rp.evals.gate(failing.result["run"], check=True)

    again = rp.evals.run("qa", "app/bot:1", limit=2)
    cmp = rp.evals.compare(run.id, again.result["run"])
    assert cmp.comparable and {d.metric for d in cmp.deltas} >= {"nonempty", "latency_ms"}
    assert "<html" in rp.evals.report_html(run.id).lower()
    assert "<html" in rp.evals.compare_html(run.id, again.result["run"]).lower()
    assert rp.suites.init_prompts()[0].ref == "prompt/judge-correctness:1"

    with pytest.raises(NotFoundError):
        rp.evals.get(9999)
    with pytest.raises(InvalidError, match="scores app versions"):
        rp.evals.run("qa", "prompt/ask:1")
    assert strict.ref == "suite/strict:1"
