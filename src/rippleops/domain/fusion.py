"""Reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): merge rankings that
score on different scales (cosine similarity, BM25) by rank alone.

An item's fused score is ``sum(weight_i / (k + rank_i))`` over the rankings that hold it,
ranks counted from 1. ``k`` (60 in the paper, and here by default) damps the head: with a
large ``k`` an item ranked well by both lists beats one ranked first by only one.

>>> reciprocal_rank_fusion([["a", "b", "c"], ["b", "c", "d"]])[:2]
[('b', 0.03252247488101534), ('c', 0.03200204813108039)]
"""

from __future__ import annotations

from collections.abc import Sequence

from rippleops.errors import InvalidError

DEFAULT_RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    *,
    k: int = DEFAULT_RRF_K,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
) -> list[tuple[str, float]]:
    """Fuse ``rankings`` (each a list of ids, best first) into one list of (id, score), best
    first. Ties go to the item with the better best rank, then to the earlier ranking.
    A duplicate id within one ranking counts at its first (best) position only."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidError(f"the RRF constant k must be a positive whole number (60 is usual), not {k!r}")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise InvalidError(f"{len(weights)} weights for {len(rankings)} rankings; give one weight per ranking")
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}  # id -> (best rank, index of the ranking it came first in)
    for li, (ranking, weight) in enumerate(zip(rankings, weights, strict=True)):
        seen: set[str] = set()
        for rank, item in enumerate(ranking, 1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            if item not in best or rank < best[item][0]:
                best[item] = (rank, li)
    fused = sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]]))
    return fused if limit is None else fused[:limit]
