"""The suite spec parser and the gate rules (pure): defaults, refusals that name the field,
column resolution, and every gate outcome — pass, fail, no score, no baseline, a baseline
on another dataset version, lower-is-better metrics."""

from __future__ import annotations

import pytest

from rippleops.domain.eval_gates import check_gates, overall
from rippleops.domain.records import MetricAggregate
from rippleops.domain.suites import GateSpec, parse_suite_spec, resolve_columns
from rippleops.errors import InvalidError


def spec(**extra: object) -> dict[str, object]:
    return {"dataset": "dataset/qa", "metrics": ["contains", {"name": "semantic_similarity", "embedder": "embedder/minilm"}],
            **extra}  # fmt: skip


def test_defaults_content_and_refs() -> None:
    s = parse_suite_spec(spec(gates=[{"metric": "latency_ms", "stat": "p95", "max": 8000}]))
    c = s.content({"input": "question"})
    assert (c["target"], c["baseline"], c["concurrency"], c["model"], c["targets"]) == (
        "app",
        "production",
        2,
        None,
        [],
    )
    assert c["metrics"][1] == {"name": "semantic_similarity", "embedder": "embedder/minilm"}
    assert c["gates"] == [{"metric": "latency_ms", "stat": "p95", "max": 8000.0}]
    assert s.refs() == [("dataset/qa", "dataset"), ("embedder/minilm", "embedder")]
    assert s.metric_names[:2] == ("contains", "semantic_similarity") and "latency_ms" in s.metric_names
    assert s.lower_is_better()["latency_ms"] is True and s.lower_is_better()["contains"] is False
    assert parse_suite_spec(c).content(c["columns"]) == c  # stored content parses back to itself


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"metrics": []}, "metrics must be a non-empty list"),
        ({"dataset": None}, "dataset is required"),
        ({"dataset": "prompt/x"}, "is a prompt, but a dataset is expected"),
        ({"gates": [{"metric": "contains"}]}, "exactly one of min, max or max_regression"),
        ({"gates": [{"metric": "contains", "min": "high"}]}, "min must be a number"),
        ({"gates": [{"metric": "contains", "max_regression": -1}]}, "max_regression must be 0 or more"),
        ({"gates": [{"metric": "contains", "min": 1, "when": "x"}]}, "unknown fields: when"),
        ({"baseline": "latest"}, "baseline must be a label"),
        ({"concurrency": 0}, "concurrency must be a whole number from 1 to 64"),
        ({"targets": ["app/bot:2"]}, "names an asset, not a version: write app/bot"),
        ({"columns": {"question": "q"}}, "columns has unknown fields: question"),
    ],
)
def test_refusals_name_the_field(raw: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidError, match=says.replace("(", r"\(")):
        parse_suite_spec(spec(**raw))


def test_columns_resolve_against_the_dataset() -> None:
    assert resolve_columns({}, ["query", "reference", "doc"], "doc") == {
        "input": "query", "expected": "reference", "contexts": None, "relevant": None, "id": "doc",
    }  # fmt: skip
    with pytest.raises(InvalidError, match="no input column"):
        resolve_columns({}, ["text"], None)


A = {"rouge_l": MetricAggregate(mean=0.30, p95=0.5, n=4), "latency_ms": MetricAggregate(mean=900, p95=1500, n=4)}


def test_absolute_and_regression_gates() -> None:
    gates = [GateSpec("rouge_l", "min", 0.2), GateSpec("latency_ms", "max", 1000, "p95"),
             GateSpec("rouge_l", "max_regression", 0.05), GateSpec("latency_ms", "max_regression", 100)]  # fmt: skip
    base = {"rouge_l": MetricAggregate(mean=0.40, n=4), "latency_ms": MetricAggregate(mean=850, n=4)}
    res = check_gates(gates, A, base, lower_is_better={"latency_ms": True})
    assert [g.passed for g in res] == [True, False, False, True]
    assert res[1].metric == "latency_ms.p95" and res[1].message == "latency_ms.p95 1500 > max 1000"
    assert res[2].delta == pytest.approx(-0.1) and "fell by 0.1" in res[2].message
    assert res[3].delta == pytest.approx(50) and res[3].passed  # slower by 50 ms, 100 allowed
    assert overall(res, comparable=True)[0] is False


def test_undecided_gates() -> None:
    reg = [GateSpec("rouge_l", "max_regression", 0.05)]
    none = check_gates(reg, A, None)
    assert none[0].passed is None and overall(none, comparable=True)[0] is True
    other = check_gates(reg, A, A, comparable=False, not_comparable="another dataset version")
    assert other[0].passed is None and other[0].message == "another dataset version"
    passed, message = overall(other, comparable=False)
    assert passed is False and "not comparable" in message
    empty = check_gates([GateSpec("rouge_l", "min", 0.1)], {"rouge_l": MetricAggregate(n=0, errors=4)})
    assert empty[0].passed is False and "no score (4 samples without one)" in empty[0].message
