"""Retrieval metrics over a run (query id -> ranked doc ids) and relevance judgements (qrels).

The definitions are the ones of ``trec_eval`` and ``ranx`` (the tests cross-check against
``ranx``), so that numbers here can be compared with published ones:

- a document is **relevant** when its judgement is ``> 0``; ``0`` or negative means judged
  not relevant, and a document with no judgement counts as not relevant;
- ``precision@k`` = relevant documents in the top ``k`` / ``k`` (a run shorter than ``k``
  is not rewarded for it: the denominator stays ``k``, as in trec_eval's ``P_k``);
- ``recall@k`` = relevant documents in the top ``k`` / all relevant documents of the query;
- ``hit_rate@k`` = 1 when at least one relevant document is in the top ``k``, else 0;
- ``mrr`` = 1 / rank of the first relevant document in the whole ranking (0 if none);
- ``ndcg@k`` = DCG@k / ideal DCG@k with graded gains ``rel`` and the discount
  ``log2(rank + 1)`` (trec_eval's ``ndcg_cut``, ranx's ``ndcg``); the ideal ranking is
  built from the qrels, best judgements first.

Edge cases, as the established tools treat them:

- a query judged but with **no relevant document** scores 0 on every metric and *is*
  counted in the means (trec_eval and ranx do the same); it is also listed under
  ``no_relevant`` so that a caller can see why the mean is low;
- a query in the qrels but **missing from the run** counts as an empty ranking (0 on
  every metric), like ``trec_eval -c`` and ranx: a retriever that returns nothing for a
  query must not raise the mean by being left out; listed under ``missing_from_run``;
- a query in the run but **not in the qrels** cannot be scored and is left out of the
  means (every tool does that); listed under ``not_in_qrels``;
- a doc id repeated in one ranking (several chunks of one document) counts at its first,
  best position only; later copies are dropped before ``k`` is applied.

>>> result = evaluate({"q1": ["d3", "d1", "d2"]}, {"q1": {"d1": 1, "d2": 0}}, ks=(1, 2))
>>> result["mean"]["mrr"], result["mean"]["recall@2"], result["mean"]["precision@2"]
(0.5, 1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rippleops.errors import InvalidError

#: Version of the result's shape; bump when a key changes meaning.
RESULT_VERSION = 1
DEFAULT_KS = (1, 5, 10)
_AT_K = ("recall", "precision", "hit_rate", "ndcg")


def metric_names(ks: Sequence[int] = DEFAULT_KS) -> list[str]:
    """The metric keys :func:`evaluate` reports for ``ks``, in report order."""
    return [f"{name}@{k}" for name in _AT_K for k in ks] + ["mrr"]


def evaluate(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, Any]:
    """Score ``run`` against ``qrels`` at every cut-off in ``ks``.

    Returns a JSON-able dict::

        {"version": 1, "ks": [1, 5, 10], "metrics": ["recall@1", ..., "mrr"],
         "queries": 2,                       # queries scored (those in the qrels)
         "mean": {"recall@1": 0.5, ..., "mrr": 0.75},
         "per_query": {"q1": {"recall@1": 1.0, ...}, "q2": {...}},
         "no_relevant": [], "missing_from_run": [], "not_in_qrels": []}

    The means are also at the top level (``result["ndcg@10"]``), the way ranx returns them.
    Raises :class:`~rippleops.errors.InvalidError` for malformed input or no judged query.

    >>> evaluate({"q": ["a", "b"]}, {"q": {"b": 2}}, ks=(1,))["per_query"]["q"]["ndcg@1"]
    0.0
    """
    cutoffs = _check_ks(ks)
    _check_run(run)
    _check_qrels(qrels)
    names = metric_names(cutoffs)
    per_query: dict[str, dict[str, float]] = {}
    no_relevant: list[str] = []
    missing: list[str] = []
    for qid in sorted(qrels):
        judged = qrels[qid]
        if not any(rel > 0 for rel in judged.values()):
            no_relevant.append(qid)
        if qid not in run:
            missing.append(qid)
        per_query[qid] = query_metrics(run.get(qid, ()), judged, cutoffs)
    n = len(per_query)
    mean = {name: math.fsum(scores[name] for scores in per_query.values()) / n for name in names}
    return {
        "version": RESULT_VERSION,
        "ks": list(cutoffs),
        "metrics": names,
        "queries": n,
        "mean": mean,
        **mean,
        "per_query": per_query,
        "no_relevant": no_relevant,
        "missing_from_run": missing,
        "not_in_qrels": sorted(q for q in run if q not in qrels),
    }


def query_metrics(
    ranking: Sequence[str], judged: Mapping[str, int], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Every metric for one query: ``ranking`` best first, ``judged`` doc id -> relevance."""
    ranked = _dedupe(ranking)
    gains = [max(judged.get(doc, 0), 0) for doc in ranked]
    relevant = sum(1 for rel in judged.values() if rel > 0)
    ideal = sorted((rel for rel in judged.values() if rel > 0), reverse=True)
    out: dict[str, float] = {}
    for k in ks:
        hits = sum(1 for g in gains[:k] if g > 0)
        out[f"recall@{k}"] = hits / relevant if relevant else 0.0
    for k in ks:
        out[f"precision@{k}"] = sum(1 for g in gains[:k] if g > 0) / k
    for k in ks:
        out[f"hit_rate@{k}"] = 1.0 if any(g > 0 for g in gains[:k]) else 0.0
    for k in ks:
        idcg = _dcg(ideal[:k])
        out[f"ndcg@{k}"] = _dcg(gains[:k]) / idcg if idcg > 0 else 0.0
    first = next((i for i, g in enumerate(gains) if g > 0), None)
    out["mrr"] = 1.0 / (first + 1) if first is not None else 0.0
    return out


def _dcg(gains: Sequence[int]) -> float:
    # rank r (from 1) is discounted by log2(r + 1); enumerate counts from 0, hence + 2.
    return math.fsum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)


def _dedupe(ranking: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for doc in ranking:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
    return out


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, int | str) or not isinstance(ks, Sequence) or not ks:
        raise InvalidError(f"ks must be a non-empty list of cut-offs such as (1, 5, 10), not {ks!r}")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidError(f"every cut-off k must be a positive whole number, not {k!r}")
    return tuple(sorted(set(ks)))


def _check_run(run: Mapping[str, Sequence[str]]) -> None:
    if not isinstance(run, Mapping):
        raise InvalidError(f"the run must map query ids to ranked lists of doc ids, not {type(run).__name__}")
    for qid, ranking in run.items():
        if isinstance(ranking, str) or not isinstance(ranking, Sequence):
            raise InvalidError(
                f"the run's ranking for query {qid!r} must be a list of doc ids, best first, not {type(ranking).__name__}"
            )
        bad = next((doc for doc in ranking if not isinstance(doc, str)), None)
        if bad is not None:
            raise InvalidError(f"the run's ranking for query {qid!r} holds {bad!r}; doc ids are strings")


def _check_qrels(qrels: Mapping[str, Mapping[str, int]]) -> None:
    if not isinstance(qrels, Mapping) or not qrels:
        raise InvalidError("the relevance judgements (qrels) are empty: give at least one query with judged docs")
    for qid, judged in qrels.items():
        if not isinstance(judged, Mapping):
            raise InvalidError(f"the qrels of query {qid!r} must map doc ids to relevance grades (0, 1, 2 ...)")
        for doc, rel in judged.items():
            if isinstance(rel, bool) or not isinstance(rel, int):
                raise InvalidError(
                    f"query {qid!r}, doc {doc!r}: relevance must be a whole number (0 = not relevant), not {rel!r}"
                )
