"""Pareto fronts, marginal gains along the front, and the recommended point."""

from __future__ import annotations

import pytest

from rippleops.domain.pareto import marginal_gains, pareto_front, recommend
from rippleops.errors import InvalidError

QC = [("quality", "max"), ("cost", "min")]


def pts(*pairs: tuple[float | None, float | None]) -> list[dict[str, float | None]]:
    return [{"quality": q, "cost": c} for q, c in pairs]


def test_dominated_points_are_removed() -> None:
    points = pts((0.5, 1.0), (0.8, 2.0), (0.7, 3.0), (0.4, 1.5), (0.9, 4.0))
    assert pareto_front(points, QC) == [0, 1, 4]


def test_three_objectives_keep_a_point_that_is_only_faster() -> None:
    points = [
        {"quality": 0.8, "cost": 1.0, "latency": 500.0},
        {"quality": 0.8, "cost": 1.0, "latency": 200.0},
        {"quality": 0.7, "cost": 2.0, "latency": 100.0},
    ]
    assert pareto_front(points, [*QC, ("latency", "min")]) == [1, 2]


def test_ties_stay_on_the_front() -> None:
    points = pts((0.8, 1.0), (0.8, 1.0), (0.6, 1.0))
    assert pareto_front(points, QC) == [0, 1]


def test_single_point_and_all_equal() -> None:
    assert pareto_front(pts((0.1, 9.0)), QC) == [0]
    assert pareto_front(pts((0.5, 1.0), (0.5, 1.0), (0.5, 1.0)), QC) == [0, 1, 2]
    assert recommend(pts((0.5, 1.0), (0.5, 1.0), (0.5, 1.0)))[0] == 0


def test_points_without_a_score_are_on_no_front() -> None:
    points = pts((None, 1.0), (0.3, 2.0), (0.9, None))
    assert pareto_front(points, QC) == [1]
    assert pareto_front([], QC) == []


def test_bad_objectives_are_refused() -> None:
    with pytest.raises(InvalidError, match="'max' or 'min'"):
        pareto_front(pts((0.1, 1.0)), [("quality", "up")])
    with pytest.raises(InvalidError, match="at least one objective"):
        pareto_front(pts((0.1, 1.0)), [])


def test_marginal_gain_per_extra_cost_along_the_front() -> None:
    points = pts((0.9, 4.0), (0.5, 1.0), (0.7, 3.0), (0.8, 2.0))
    steps = marginal_gains(points)
    assert [(s["from"], s["to"]) for s in steps] == [(1, 3), (3, 0)]
    assert steps[0]["extra_cost"] == pytest.approx(1.0) and steps[0]["gain"] == pytest.approx(0.3)
    assert steps[0]["gain_per_cost"] == pytest.approx(0.3)
    assert steps[1]["gain_per_cost"] == pytest.approx(0.05)
    assert marginal_gains(pts((0.5, 1.0))) == []


def test_recommend_takes_the_cheapest_point_near_the_best_quality() -> None:
    points = pts((0.5, 1.0), (0.796, 2.0), (0.8, 4.0))
    i, reason = recommend(points)
    assert i == 1
    assert "cheapest point within 1% of the best quality" in reason and "0.796" in reason


def test_recommend_takes_the_best_when_nothing_cheaper_is_close() -> None:
    i, reason = recommend(pts((0.5, 1.0), (0.8, 4.0)))
    assert i == 1 and reason.startswith("the best quality (0.8)")


def test_recommend_breaks_cost_ties_by_latency() -> None:
    points = [
        {"quality": 0.8, "cost": 0.0, "latency": 900.0},
        {"quality": 0.8, "cost": 0.0, "latency": 300.0},
        {"quality": 0.2, "cost": 0.0, "latency": 10.0},
    ]
    i, reason = recommend(points, latency="latency")
    assert i == 1 and "fastest of 2 equally cheap points" in reason


def test_recommend_needs_a_scored_point() -> None:
    with pytest.raises(InvalidError, match="runs succeeded"):
        recommend(pts((None, 1.0)))
