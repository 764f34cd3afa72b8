"""Comparing two eval runs sample by sample (pure: the records go in, a CompareRecord comes out).

Samples pair up by their ``key``. Each metric both runs aggregated gets a :class:`MetricDelta`
(B minus A over the samples scored in both, with a paired bootstrap interval); the samples
that got worse most come back side by side. Two runs over different dataset versions, or of
different suites, are never compared: the record says why and holds no deltas.

>>> from datetime import datetime, timezone
>>> from rippleops.domain.records import EvalRunRecord, EvalSampleRecord, MetricAggregate
>>> def run(i, target):
...     return EvalRunRecord(id=i, project="default", suite="suite/qa:1", target=target,
...         dataset="dataset/qa:1", dataset_hash="h", state="succeeded",
...         aggregates={"exact_match": MetricAggregate(mean=0.5, n=2)},
...         created_at=datetime(2026, 1, 1, tzinfo=timezone.utc), created_by="local")
>>> sa = [EvalSampleRecord(idx=0, key="a", scores={"exact_match": 1.0}), EvalSampleRecord(idx=1, key="b", scores={"exact_match": 0.0})]
>>> sb = [EvalSampleRecord(idx=0, key="a", scores={"exact_match": 0.0}), EvalSampleRecord(idx=1, key="b", scores={"exact_match": 0.0})]
>>> c = compare_runs(run(1, "app/bot:1"), sa, run(2, "app/bot:2"), sb)
>>> c.deltas[0].delta, [r["key"] for r in c.regressions]
(-0.5, ['a'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rippleops.domain.eval_metrics import REGISTRY
from rippleops.domain.eval_stats import paired_bootstrap
from rippleops.domain.records import CompareRecord, EvalRunRecord, EvalSampleRecord, MetricDelta

#: per-sample fields that stand in for a score when the run did not store one under ``scores``
_FIELDS = ("latency_ms", "tokens", "cost")


def suite_asset(ref: str) -> str:
    """``suite/support-qa`` from ``suite/support-qa:2`` (or ``@label``)."""
    return ref.split("@", 1)[0].rsplit(":", 1)[0]


def score_of(sample: EvalSampleRecord, metric: str) -> float | None:
    """The sample's score on ``metric``, or None when it has none (an error, or not scored)."""
    if metric in sample.scores:
        return float(sample.scores[metric])
    if metric in _FIELDS and sample.error is None:
        return float(getattr(sample, metric))
    return None


def is_lower_better(metric: str, overrides: Mapping[str, bool]) -> bool:
    """Direction of a metric: the caller's word first, then the metric registry (latency, cost...)."""
    if metric in overrides:
        return bool(overrides[metric])
    kind = REGISTRY.get(metric)
    return bool(kind.lower_is_better) if kind is not None else False


def not_comparable_reason(run_a: EvalRunRecord, run_b: EvalRunRecord) -> str:
    """Why two runs cannot be compared, or "" when they can."""
    if run_a.dataset_hash != run_b.dataset_hash:
        return (
            f"run {run_a.id} scored {run_a.dataset} (hash {run_a.dataset_hash[:12]}) and run {run_b.id} scored "
            f"{run_b.dataset} (hash {run_b.dataset_hash[:12]}): the samples differ, so the runs are not compared; "
            "run both targets on one dataset version"
        )
    if suite_asset(run_a.suite) != suite_asset(run_b.suite):
        return (
            f"run {run_a.id} is of {run_a.suite} and run {run_b.id} of {run_b.suite}: different suites define "
            "their metrics differently, so the runs are not compared; run both targets with one suite"
        )
    return ""


def compare_runs(
    run_a: EvalRunRecord,
    samples_a: Sequence[EvalSampleRecord],
    run_b: EvalRunRecord,
    samples_b: Sequence[EvalSampleRecord],
    *,
    lower_is_better: Mapping[str, bool] | None = None,
    top: int = 10,
    metric_specs_a: Mapping[str, Any] | None = None,
    metric_specs_b: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> CompareRecord:
    """B against A: per-metric deltas with paired bootstrap intervals and the ``top`` samples
    that regressed most on each metric (direction-aware), side by side.

    ``metric_specs_a`` / ``metric_specs_b`` (metric name -> its suite entry), when given, leave
    out a metric whose settings differ between the two suite versions (named in ``reason``).
    """
    directions = lower_is_better or {}
    reason = not_comparable_reason(run_a, run_b)
    if reason:
        return CompareRecord(run_a=run_a, run_b=run_b, comparable=False, reason=reason)
    by_key_b = {s.key: s for s in samples_b}
    pairs = [(s, by_key_b[s.key]) for s in samples_a if s.key in by_key_b]
    metrics = [m for m in run_a.aggregates if m in run_b.aggregates]
    notes: list[str] = []
    if metric_specs_a is not None and metric_specs_b is not None:
        changed = [
            m for m in metrics if m in metric_specs_a and m in metric_specs_b and metric_specs_a[m] != metric_specs_b[m]
        ]
        metrics = [m for m in metrics if m not in changed]
        notes += [f"{m} left out: its settings differ between {run_a.suite} and {run_b.suite}" for m in changed]
    deltas: list[MetricDelta] = []
    regressions: list[dict[str, Any]] = []
    scores: dict[str, dict[str, list[float]]] = {}
    for metric in metrics:
        scored = [
            (sa, sb, va, vb)
            for sa, sb in pairs
            if (va := score_of(sa, metric)) is not None and (vb := score_of(sb, metric)) is not None
        ]
        if not scored:
            deltas.append(MetricDelta(metric=metric))
            continue
        a_vals = [va for _, _, va, _ in scored]
        b_vals = [vb for _, _, _, vb in scored]
        scores[metric] = {"a": a_vals, "b": b_vals}
        delta, lo, hi = paired_bootstrap(a_vals, b_vals, seed=seed)
        deltas.append(
            MetricDelta(
                metric=metric, a=sum(a_vals) / len(a_vals), b=sum(b_vals) / len(b_vals), delta=delta,
                ci_low=lo, ci_high=hi, n=len(scored), significant=lo > 0 or hi < 0,
            )
        )  # fmt: skip
        regressions += _worst(metric, scored, lower=is_lower_better(metric, directions), top=top)
    unpaired = len(samples_a) + len(samples_b) - 2 * len(pairs)
    if unpaired:
        notes.append(f"{unpaired} samples are in one run only and are left out")
    return CompareRecord(
        run_a=run_a, run_b=run_b, deltas=deltas, regressions=regressions, scores=scores, reason="; ".join(notes)
    )


def _worst(
    metric: str, scored: list[tuple[EvalSampleRecord, EvalSampleRecord, float, float]], *, lower: bool, top: int
) -> list[dict[str, Any]]:
    """The ``top`` pairs that got worse on ``metric``, worst first (ties keep sample order)."""
    worse = [(vb - va if lower else va - vb, sa, sb, va, vb) for sa, sb, va, vb in scored]
    worse = [w for w in worse if w[0] > 0]
    worse.sort(key=lambda w: -w[0])
    return [
        {
            "key": sa.key, "metric": metric, "a": va, "b": vb, "delta": vb - va,
            "input": sa.input, "expected": sa.expected,
            "output_a": output_text(sa), "output_b": output_text(sb),
        }
        for _, sa, sb, va, vb in worse[:top]
    ]  # fmt: skip


def output_text(sample: EvalSampleRecord) -> Any:
    """What the target answered, as shown side by side: its text, or the error it raised."""
    if sample.error is not None and sample.output is None:
        return f"error: {sample.error}"
    out = sample.output
    if isinstance(out, Mapping) and "text" in out:
        return out["text"]
    return out
