"""Pareto fronts of sweep points, the marginal gain per extra cost along the front, and which
point to pick (pure).

A point is a mapping with numeric objectives (``{"quality": 0.8, "cost": 0.002, ...}``); a
point missing an objective (its run failed) is on no front.

>>> pts = [{"q": 0.5, "c": 1.0}, {"q": 0.8, "c": 2.0}, {"q": 0.7, "c": 3.0}]
>>> pareto_front(pts, [("q", "max"), ("c", "min")])
[0, 1]
>>> recommend(pts, quality="q", cost="c")[0]
1
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from rippleops.errors import InvalidError

Point = Mapping[str, Any]
#: how far below the best quality a cheaper point may be and still be recommended (relative)
TOLERANCE = 0.01


def _values(point: Point, objectives: Sequence[tuple[str, str]]) -> tuple[float, ...] | None:
    """The point's objectives turned into "smaller is better" numbers, or None if one is missing."""
    out = []
    for key, sense in objectives:
        value = point.get(key)
        if value is None:
            return None
        out.append(-float(value) if sense == "max" else float(value))
    return tuple(out)


def pareto_front(points: Sequence[Point], objectives: Sequence[tuple[str, str]]) -> list[int]:
    """Indexes of the points no other point dominates (at least as good on every objective and
    better on one), in input order. Equal points do not dominate each other: both stay."""
    if not objectives:
        raise InvalidError("a Pareto front needs at least one objective, such as ('quality', 'max')")
    for key, sense in objectives:
        if sense not in ("max", "min"):
            raise InvalidError(f"objective {key!r} must be 'max' or 'min', not {sense!r}")
    values = [_values(p, objectives) for p in points]
    front = []
    for i, vi in enumerate(values):
        if vi is None:
            continue
        dominated = any(
            vj is not None and all(a <= b for a, b in zip(vj, vi, strict=True)) and vj != vi for vj in values
        )
        if not dominated:
            front.append(i)
    return front


def marginal_gains(points: Sequence[Point], *, quality: str = "quality", cost: str = "cost") -> list[dict[str, Any]]:
    """Steps along the quality-cost front sorted by cost: from each front point to the next,
    the extra cost, the quality gained and the gain per extra cost (None when the step costs
    nothing more)."""
    front = sorted(
        pareto_front(points, [(quality, "max"), (cost, "min")]),
        key=lambda i: (float(points[i][cost]), -float(points[i][quality]), i),
    )
    steps = []
    for prev, nxt in itertools.pairwise(front):
        extra = float(points[nxt][cost]) - float(points[prev][cost])
        gain = float(points[nxt][quality]) - float(points[prev][quality])
        steps.append(
            {
                "from": prev,
                "to": nxt,
                "extra_cost": extra,
                "gain": gain,
                "gain_per_cost": gain / extra if extra > 0 else None,
            }
        )
    return steps


def recommend(
    points: Sequence[Point],
    *,
    quality: str = "quality",
    cost: str = "cost",
    latency: str | None = None,
    tolerance: float = TOLERANCE,
) -> tuple[int, str]:
    """The point to pick and why: the cheapest point whose quality is within ``tolerance``
    (relative) of the best quality; among equally cheap ones the fastest (when ``latency``
    is given), then the better one, then the first."""
    scored = [i for i, p in enumerate(points) if p.get(quality) is not None and p.get(cost) is not None]
    if not scored:
        raise InvalidError(
            "no point has both a quality and a cost to recommend from; check that the sweep's runs succeeded"
        )
    best = max(scored, key=lambda i: (float(points[i][quality]), -float(points[i][cost])))
    top = float(points[best][quality])
    floor = top - tolerance * abs(top)
    near = [i for i in scored if float(points[i][quality]) >= floor]

    def rank(i: int) -> tuple[float, float, float, int]:
        lat = points[i].get(latency) if latency else None
        return (float(points[i][cost]), float(lat) if lat is not None else 0.0, -float(points[i][quality]), i)

    pick = min(near, key=rank)
    q, c = float(points[pick][quality]), float(points[pick][cost])
    pct = f"{tolerance:.0%}" if tolerance * 100 == int(tolerance * 100) else f"{tolerance:.1%}"
    if float(points[best][cost]) <= c or pick == best:
        reason = f"the best {quality} ({q:.4g}) at cost {c:.4g}; no cheaper point comes within {pct} of it"
    else:
        reason = (
            f"the cheapest point within {pct} of the best {quality}: {q:.4g} vs {top:.4g} "
            f"at cost {c:.4g} instead of {float(points[best][cost]):.4g}"
        )
    others = [i for i in near if i != pick and float(points[i][cost]) == c]
    if latency and others:
        reason += f"; the fastest of {len(others) + 1} equally cheap points"
    return pick, reason
