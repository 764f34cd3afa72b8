"""Comparing two eval runs: paired deltas, regressions side by side, and runs never compared."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rippleops.domain.eval_compare import compare_runs
from rippleops.domain.records import EvalRunRecord, EvalSampleRecord, MetricAggregate


def run(
    run_id: int, target: str, metrics: list[str], *, suite: str = "suite/qa:1", dataset_hash: str = "h1"
) -> EvalRunRecord:
    return EvalRunRecord(
        id=run_id, project="default", suite=suite, target=target, dataset="dataset/qa:1",
        dataset_hash=dataset_hash, state="succeeded", aggregates={m: MetricAggregate(mean=0.5, n=1) for m in metrics},
        created_at=datetime(2026, 1, 1, tzinfo=UTC), created_by="local",
    )  # fmt: skip


def sample(idx: int, text: str, **scores: float) -> EvalSampleRecord:
    extra: dict[str, Any] = {}
    if "latency_ms" in scores:
        extra["latency_ms"] = scores.pop("latency_ms")
    return EvalSampleRecord(
        idx=idx, key=f"k{idx}", input=f"q{idx}", expected="e", output={"text": text}, scores=scores, **extra
    )


def test_deltas_pair_by_key_and_regressions_are_worst_first() -> None:
    a = [sample(i, f"a{i}", rouge_l=0.8) for i in range(30)]
    b = [sample(i, f"b{i}", rouge_l=0.8 - 0.01 * i) for i in reversed(range(30))]  # order differs: key pairs them
    c = compare_runs(run(1, "app/x:1", ["rouge_l"]), a, run(2, "app/x:2", ["rouge_l"]), b, top=3)
    assert c.comparable and c.reason == ""
    (d,) = c.deltas
    assert d.metric == "rouge_l" and d.n == 30
    assert d.delta is not None and d.ci_high is not None and d.ci_low is not None
    assert abs(d.delta - (-0.145)) < 1e-9 and d.ci_high < 0 and d.significant
    assert [r["key"] for r in c.regressions] == ["k29", "k28", "k27"]
    r = c.regressions[0]
    assert r["output_a"] == "a29" and r["output_b"] == "b29" and r["input"] == "q29"
    assert abs(r["delta"] - (-0.29)) < 1e-9


def test_identical_runs_have_no_significant_delta_and_no_regression() -> None:
    s = [sample(i, "t", exact_match=float(i % 2)) for i in range(10)]
    c = compare_runs(run(1, "app/x:1", ["exact_match"]), s, run(2, "app/x:1", ["exact_match"]), s)
    (d,) = c.deltas
    assert (d.delta, d.ci_low, d.ci_high, d.significant) == (0.0, 0.0, 0.0, False)
    assert c.regressions == []


def test_lower_is_better_metrics_regress_when_they_grow() -> None:
    a = [sample(i, "t", latency_ms=100.0) for i in range(5)]
    b = [sample(i, "t", latency_ms=100.0 + 50 * i) for i in range(5)]
    c = compare_runs(run(1, "app/x:1", ["latency_ms"]), a, run(2, "app/x:2", ["latency_ms"]), b)
    assert [r["key"] for r in c.regressions] == ["k4", "k3", "k2", "k1"]
    # the caller can turn a metric's direction around
    c = compare_runs(
        run(1, "app/x:1", ["latency_ms"]),
        a,
        run(2, "app/x:2", ["latency_ms"]),
        b,
        lower_is_better={"latency_ms": False},
    )
    assert c.regressions == []


def test_only_samples_scored_in_both_runs_count() -> None:
    a = [sample(0, "t", exact_match=1.0), sample(1, "t", exact_match=1.0), sample(2, "t")]
    b = [sample(0, "t", exact_match=0.0), sample(1, "t"), sample(3, "t", exact_match=1.0)]
    b[1] = b[1].model_copy(update={"error": "timeout", "output": None})
    c = compare_runs(run(1, "app/x:1", ["exact_match", "rouge_l"]), a, run(2, "app/x:2", ["exact_match"]), b)
    (d,) = c.deltas  # rouge_l is in one run only
    assert d.n == 1 and d.delta == -1.0
    assert "2 samples are in one run only" in c.reason


def test_runs_on_different_dataset_versions_are_not_compared() -> None:
    s = [sample(0, "t", exact_match=1.0)]
    c = compare_runs(run(1, "app/x:1", ["exact_match"]), s, run(2, "app/x:2", ["exact_match"], dataset_hash="h2"), s)
    assert not c.comparable and c.deltas == [] and c.regressions == []
    assert "not compared" in c.reason and "one dataset version" in c.reason


def test_runs_of_different_suites_are_not_compared() -> None:
    s = [sample(0, "t", exact_match=1.0)]
    c = compare_runs(
        run(1, "app/x:1", ["exact_match"]), s, run(2, "app/x:1", ["exact_match"], suite="suite/other:1"), s
    )
    assert not c.comparable and c.deltas == [] and "different suites" in c.reason


def test_a_metric_whose_settings_changed_between_suite_versions_is_left_out() -> None:
    s = [sample(0, "t", regex=1.0, exact_match=1.0)]
    c = compare_runs(
        run(1, "app/x:1", ["regex", "exact_match"]), s, run(2, "app/x:1", ["regex", "exact_match"], suite="suite/qa:2"), s,
        metric_specs_a={"regex": {"pattern": "a"}, "exact_match": "exact_match"},
        metric_specs_b={"regex": {"pattern": "b"}, "exact_match": "exact_match"},
    )  # fmt: skip
    assert [d.metric for d in c.deltas] == ["exact_match"]
    assert "regex left out" in c.reason
