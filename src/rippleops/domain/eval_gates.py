"""Gates: a suite's thresholds checked on a run's aggregates (pure).

An absolute gate (``min`` / ``max``) compares a statistic of the run with its threshold; a
``max_regression`` gate compares it with the baseline run's and allows it to get worse by at
most the threshold (worse is lower, or higher for a metric where lower is better). A gate is
undecided (``passed`` None) when there is no baseline, or the baseline ran on another dataset
version: then nothing is compared, and the report says why.

>>> from rippleops.domain.records import MetricAggregate
>>> from rippleops.domain.suites import GateSpec
>>> [g.passed for g in check_gates([GateSpec("rouge_l", "min", 0.2)], {"rouge_l": MetricAggregate(mean=0.3, n=4)})]
[True]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rippleops.domain.records import GateResult, MetricAggregate
from rippleops.domain.suites import GateSpec

EPSILON = 1e-9


def stat_of(agg: MetricAggregate | None, stat: str) -> float | None:
    if agg is None:
        return None
    value: float | None = getattr(agg, stat)
    return value


def check_gates(
    gates: Sequence[GateSpec],
    aggregates: Mapping[str, MetricAggregate],
    baseline: Mapping[str, MetricAggregate] | None = None,
    *,
    comparable: bool = True,
    lower_is_better: Mapping[str, bool] | None = None,
    not_comparable: str = "",
) -> list[GateResult]:
    """Each gate checked; ``not_comparable`` is the message for regression gates when the
    baseline ran on another dataset version."""
    lower = lower_is_better or {}
    return [_check(g, aggregates, baseline, comparable, lower.get(g.metric, False), not_comparable) for g in gates]


def _check(
    gate: GateSpec,
    aggregates: Mapping[str, MetricAggregate],
    baseline: Mapping[str, MetricAggregate] | None,
    comparable: bool,
    lower_is_better: bool,
    not_comparable: str,
) -> GateResult:
    agg = aggregates.get(gate.metric)
    value = stat_of(agg, gate.stat)
    result = GateResult(metric=gate.name, rule=gate.rule, threshold=gate.threshold, value=value)
    if value is None:
        errors = agg.errors if agg is not None else 0
        why = f"{gate.name} has no score ({errors} samples without one): the gate fails"
        return result.model_copy(update={"passed": False, "message": why})
    if gate.rule == "min":
        ok = value >= gate.threshold - EPSILON
        return result.model_copy(
            update={"passed": ok, "message": f"{gate.name} {value:.4g} {'>=' if ok else '<'} min {gate.threshold:g}"}
        )
    if gate.rule == "max":
        ok = value <= gate.threshold + EPSILON
        return result.model_copy(
            update={"passed": ok, "message": f"{gate.name} {value:.4g} {'<=' if ok else '>'} max {gate.threshold:g}"}
        )
    # max_regression
    if baseline is None:
        return result.model_copy(update={"message": f"{gate.name}: no baseline run to compare with"})
    if not comparable:
        return result.model_copy(update={"message": not_comparable or "the baseline is not comparable"})
    base = stat_of(baseline.get(gate.metric), gate.stat)
    if base is None:
        return result.model_copy(update={"message": f"{gate.name}: the baseline run has no score for it"})
    delta = value - base
    worse = delta if lower_is_better else -delta
    ok = worse <= gate.threshold + EPSILON
    direction = "rose" if delta > 0 else "fell" if delta < 0 else "stayed"
    how = f"{direction} by {abs(delta):.4g}" if delta else "stayed the same"
    msg = (
        f"{gate.name} {how} ({base:.4g} -> {value:.4g}); "
        f"{'within' if ok else 'more than'} the allowed regression of {gate.threshold:g}"
    )
    return result.model_copy(update={"baseline": base, "delta": delta, "passed": ok, "message": msg})


def overall(results: Sequence[GateResult], *, comparable: bool) -> tuple[bool, str]:
    """Whether the run passes, and a one-line summary naming what failed or was undecided."""
    failed = [g for g in results if g.passed is False]
    undecided = [g for g in results if g.passed is None]
    regression = any(g.rule == "max_regression" for g in results)
    passed = not failed and (comparable or not regression)
    parts = [f"{sum(g.passed is True for g in results)} of {len(results)} gates passed"]
    if failed:
        parts.append("failed: " + "; ".join(g.message for g in failed))
    if undecided:
        parts.append("not decided: " + "; ".join(g.message for g in undecided))
    if not comparable and regression:
        parts.append("the run cannot pass while its baseline is not comparable")
    return passed, ". ".join(parts)
