"""Suites and eval runs through the service layer, on SQLite and PostgreSQL, with a real app
(SmolLM2 answering through a prompt) as the target: pins and lineage of a suite version,
per-sample results and aggregates, baselines and gates (no baseline, a comparable one, one on
another dataset version), failing targets, and the job."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator

import pytest

from eval_support import QA, P, add_qa_dataset, bot_spec, build_bot, suite_spec
from rippleops.domain.access import Principal
from rippleops.errors import ConflictError, InvalidError, NotFoundError
from rippleops.services import Services

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


@pytest.fixture
def bot(services: Services, admin: Principal) -> str:
    return build_bot(services, admin)


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_suite_pins_its_dataset_and_resolves_columns(services: Services, admin: Principal, bot: str) -> None:
    rec = services.suites.create(admin, P, "qa", suite_spec())
    assert (rec.ref, rec.created, rec.description) == ("suite/qa:1", True, "the bot against short reference answers")
    assert [(i.ref, i.resolved, i.role) for i in rec.inputs] == [("dataset/qa", "dataset/qa:1", "dataset")]
    assert rec.recipe == {"pins": {"dataset/qa": "dataset/qa:1"}}
    assert rec.content["columns"] == {"input": "question", "expected": "answer", "contexts": None,
                                      "relevant": None, "id": "id"}  # fmt: skip
    assert rec.content["metrics"][2] == {"name": "regex", "as": "nonempty", "pattern": r"\w", "case_sensitive": False}
    assert rec.content["gates"][1] == {"metric": "latency_ms", "stat": "p95", "max": 120000.0}
    # the same spec over the same dataset version: no new version; a new dataset version: a new one
    assert services.suites.create(admin, P, "qa", suite_spec()).ref == "suite/qa:1"
    add_qa_dataset(services, admin, QA[:3])
    again = services.suites.create(admin, P, "qa", suite_spec())
    assert again.ref == "suite/qa:2" and again.inputs[0].resolved == "dataset/qa:2"
    up = services.lineage.walk(admin, P, "suite/qa:2", direction="up")
    assert "dataset/qa:2" in {n.ref for n in up.upstream}
    assert [a.name for a in services.suites.list(admin, P)] == ["qa"]
    assert [v.ref for v in services.suites.versions(admin, P, "qa")] == ["suite/qa:1", "suite/qa:2"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"gates": [{"metric": "rouge", "min": 0.1}]}, "gates[0]: metric must be one of the suite's metrics"),
        ({"gates": [{"metric": "nonempty", "min": 0.1, "max": 0.9}]}, "exactly one of min, max or max_regression"),
        ({"gates": [{"metric": "nonempty", "stat": "p99", "min": 0.1}]}, "stat must be one of mean, p50, p95"),
        ({"metrics": ["nope"]}, "metrics[0]: unknown metric 'nope'"),
        ({"metrics": ["contains", "contains"]}, "a second metric named 'contains'"),
        ({"target": "model"}, "target must be one of app, prompt, index"),
        ({"columns": {"input": "prompt"}}, "columns.input is 'prompt', which the dataset does not have"),
        ({"colums": {}}, "unknown fields: colums"),
        ({"model": "model/local-smollm"}, "model is for target: prompt"),
    ],
)
def test_bad_suites_are_refused_naming_the_field(
    services: Services, admin: Principal, change: dict[str, object], says: str
) -> None:
    add_qa_dataset(services, admin)
    with pytest.raises(InvalidError, match=says.replace("(", r"\(").replace("[", r"\[")):
        services.suites.create(admin, P, "qa", suite_spec(**change))
    with pytest.raises(NotFoundError, match="dataset dataset/nope cannot be resolved"):
        services.suites.create(admin, P, "qa", suite_spec(dataset="dataset/nope"))


def test_a_run_scores_every_sample_and_gates_against_the_baseline(
    services: Services, admin: Principal, bot: str
) -> None:
    services.suites.create(admin, P, "qa", suite_spec())
    run = services.evals.evaluate(admin, P, "suite/qa", "app/bot@production")
    assert (run.suite, run.target, run.dataset, run.state) == ("suite/qa:1", "app/bot:1", "dataset/qa:1", "succeeded")
    assert (run.samples, run.done, run.errors) == (4, 4, 0)
    assert set(run.aggregates) == {"contains", "exact_match", "nonempty", "latency_ms", "tokens", "cost",
                                   "guard_block_rate"}  # fmt: skip
    agg = run.aggregates["latency_ms"]
    assert agg.n == 4 and agg.mean is not None and agg.mean > 0 and agg.ci_low is not None and agg.ci_low <= agg.mean
    assert run.tokens > 0 and run.duration_s > 0
    samples = services.evals.samples(admin, P, run.id)
    assert [s.key for s in samples] == ["q1", "q2", "q3", "q4"]
    first = samples[0]
    assert first.input == QA[0][1] and first.expected == QA[0][2] and first.trace_id and len(first.trace_id) == 32
    assert set(first.scores) == set(run.aggregates) and not first.metric_errors
    assert all(not math.isnan(v) for s in samples for v in s.scores.values())
    assert isinstance(first.output["text"], str) and first.output["finish_reason"] in ("stop", "length")
    # the run on the production version is its own baseline: regression gates are not decided
    assert run.gates is not None and [g.passed for g in run.gates][:2] == [True, True]
    assert services.evals.baseline(admin, P, "suite/qa", "app/bot").id == run.id  # type: ignore[union-attr]

    # a new app version, gated against the production version's run
    services.apps.create(admin, P, "bot", bot_spec(max_tokens=4))
    run2 = services.evals.evaluate(admin, P, "suite/qa", "app/bot:2", concurrency=1)
    report = services.evals.gate(admin, P, run2.id)
    assert (report.baseline_run, report.baseline_target, report.comparable) == (run.id, "app/bot:1", True)
    regression = report.gates[2]
    assert regression.rule == "max_regression" and regression.baseline == run.aggregates["nonempty"].mean
    assert regression.delta == pytest.approx(run2.aggregates["nonempty"].mean - run.aggregates["nonempty"].mean)  # type: ignore[operator]
    assert report.passed is all(g.passed for g in report.gates)
    assert services.evals.get_run(admin, P, run2.id).gates == report.gates  # the last check is stored
    assert [r.id for r in services.evals.runs(admin, P, suite="suite/qa")] == [run2.id, run.id]
    assert [r.id for r in services.evals.runs(admin, P, target="app/bot:1")] == [run.id]
    # a gate against an explicit baseline run
    assert services.evals.gate(admin, P, run.id, baseline=run2.id).baseline_run == run2.id


def test_a_baseline_on_another_dataset_version_is_not_compared(services: Services, admin: Principal, bot: str) -> None:
    services.suites.create(admin, P, "qa", suite_spec())
    base = services.evals.evaluate(admin, P, "suite/qa", "app/bot:1", limit=2)
    add_qa_dataset(services, admin, QA[1:])  # the eval dataset changed: dataset/qa:2
    services.suites.create(admin, P, "qa", suite_spec())  # suite/qa:2 pins it
    services.apps.create(admin, P, "bot", bot_spec(max_tokens=4))
    run = services.evals.evaluate(admin, P, "suite/qa", "app/bot:2", limit=2)
    assert run.dataset == "dataset/qa:2" and run.dataset_hash != base.dataset_hash
    report = services.evals.gate(admin, P, run.id)
    assert report.baseline_run == base.id and report.comparable is False and report.passed is False
    regression = report.gates[2]
    assert regression.passed is None and regression.baseline is None and regression.delta is None
    assert "ran on dataset/qa:1 and this run on dataset/qa:2" in regression.message
    assert "ripple eval run suite/qa:2 --target app/bot:1" in regression.message
    assert "cannot pass while its baseline is not comparable" in report.message


def test_no_baseline_leaves_regression_gates_undecided(services: Services, admin: Principal, bot: str) -> None:
    services.suites.create(admin, P, "qa", suite_spec(baseline="staging"))
    run = services.evals.evaluate(admin, P, "suite/qa", "app/bot:1", limit=1)
    report = services.evals.gate(admin, P, run.id)
    assert report.baseline_run is None and report.comparable is True
    assert report.gates[2].passed is None and "no baseline" in report.gates[2].message
    assert report.passed is (report.gates[0].passed and report.gates[1].passed)


def test_a_failing_target_records_errors_and_the_run_still_finishes(
    services: Services, admin: Principal, bot: str, refused_url: str
) -> None:
    services.models.create(admin, P, "down", {"provider": "openai", "base_url": refused_url, "model": "m",
                                               "retries": 0, "timeout": 2})  # fmt: skip
    services.apps.create(admin, P, "broken", bot_spec(model="model/down"))
    services.suites.create(admin, P, "qa", suite_spec())
    run = services.evals.evaluate(admin, P, "suite/qa", "app/broken:1")
    assert (run.state, run.done, run.errors) == ("succeeded", 4, 4)
    samples = services.evals.samples(admin, P, run.id)
    assert all(s.error and "model/down:1" in s.error and not s.scores for s in samples)
    assert run.aggregates["nonempty"].n == 0 and run.aggregates["nonempty"].errors == 4
    report = services.evals.gate(admin, P, run.id)
    assert report.passed is False and "nonempty has no score" in report.gates[0].message


def test_the_target_must_be_of_the_suites_kind(services: Services, admin: Principal, bot: str) -> None:
    services.suites.create(admin, P, "qa", suite_spec())
    with pytest.raises(InvalidError, match=r"suite/qa:1 scores app versions \(target: app\); prompt/ask:1 is a prompt"):
        services.evals.evaluate(admin, P, "suite/qa", "prompt/ask:1")
    with pytest.raises(NotFoundError):
        services.evals.get_run(admin, P, 999)


def test_a_prompt_target_and_the_job(services: Services, admin: Principal, bot: str) -> None:
    services.suites.create(admin, P, "ask", suite_spec(target="prompt", model="model/local-smollm@production",
                                                       targets=["prompt/ask"]))  # fmt: skip
    assert services.suites.get(admin, P, "ask").inputs[1].role == "model"
    job = services.evals.run(admin, P, "suite/ask", "ask@latest", limit=2, wait=True)
    assert job.state.value == "succeeded", job.error
    assert job.params == {"suite": "suite/ask:1", "target": "prompt/ask:1", "limit": 2}
    run = services.evals.get_run(admin, P, job.result["run"])
    assert (run.target, run.samples, run.done, run.job_id) == ("prompt/ask:1", 2, 2, job.id)
    assert job.result["means"]["nonempty"] == run.aggregates["nonempty"].mean
    assert services.jobs.show(admin, P, job.id).progress.done == 2
    with pytest.raises(ConflictError, match="gates are checked on a finished run"):
        services.evals.store.finish(run.id, state="failed")
        services.evals.gate(admin, P, run.id)
