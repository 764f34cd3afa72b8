"""Retrieval metrics: hand-computed cases, the edge cases as trec_eval treats them, and a
cross-check against trec_eval itself (pytrec_eval) on seeded random runs and qrels."""

from __future__ import annotations

import doctest
import math
import random

import pytest

from rippleops.domain import retrieval_metrics
from rippleops.domain.retrieval_metrics import evaluate, metric_names, query_metrics
from rippleops.errors import InvalidError


def test_hand_computed_single_query() -> None:
    # relevant: d1 (grade 2) and d4 (grade 1); d2 judged not relevant; d9 unjudged.
    qrels = {"q": {"d1": 2, "d2": 0, "d4": 1}}
    run = {"q": ["d9", "d1", "d2", "d4", "d5"]}
    m = evaluate(run, qrels, ks=(1, 3, 5))["per_query"]["q"]
    assert m["precision@1"] == 0.0
    assert m["precision@3"] == pytest.approx(1 / 3)
    assert m["precision@5"] == pytest.approx(2 / 5)
    assert m["recall@1"] == 0.0
    assert m["recall@3"] == 0.5
    assert m["recall@5"] == 1.0
    assert m["hit_rate@1"] == 0.0
    assert m["hit_rate@3"] == 1.0
    assert m["mrr"] == 0.5
    # DCG@5 = 2/log2(3) + 1/log2(5); ideal = 2/log2(2) + 1/log2(3)
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / 1 + 1 / math.log2(3)
    assert m["ndcg@5"] == pytest.approx(dcg / idcg)
    # nDCG@1: the top doc is unjudged, so 0; nDCG@3: only d1 at rank 2 within the cut.
    assert m["ndcg@1"] == 0.0
    assert m["ndcg@3"] == pytest.approx((2 / math.log2(3)) / idcg)


def test_perfect_ranking_scores_one() -> None:
    m = query_metrics(["a", "b", "c"], {"a": 3, "b": 2, "c": 1}, ks=(3,))
    assert m == {"recall@3": 1.0, "precision@3": 1.0, "hit_rate@3": 1.0, "ndcg@3": 1.0, "mrr": 1.0}


def test_precision_keeps_k_as_denominator_for_short_runs() -> None:
    m = query_metrics(["a"], {"a": 1}, ks=(10,))
    assert m["precision@10"] == 0.1
    assert m["recall@10"] == 1.0


def test_means_and_shape() -> None:
    run = {"q1": ["a", "b"], "q2": ["x", "y"], "q4": ["n"], "extra": ["a"]}
    qrels = {"q1": {"a": 1}, "q2": {"y": 1}, "q3": {"z": 1}, "q4": {"n": 0}}
    result = evaluate(run, qrels, ks=(1, 2))
    assert result["version"] == 1
    assert result["ks"] == [1, 2]
    assert result["metrics"] == metric_names((1, 2))
    assert result["queries"] == 4
    # q1 mrr 1, q2 mrr 0.5, q3 missing from the run -> 0, q4 has no relevant doc -> 0
    assert result["mean"]["mrr"] == pytest.approx(1.5 / 4)
    assert result["mrr"] == result["mean"]["mrr"]
    assert result["ndcg@2"] == result["mean"]["ndcg@2"]
    assert result["missing_from_run"] == ["q3"]
    assert result["no_relevant"] == ["q4"]
    assert result["not_in_qrels"] == ["extra"]
    assert set(result["per_query"]) == {"q1", "q2", "q3", "q4"}
    assert all(v == 0.0 for v in result["per_query"]["q4"].values())


def test_repeated_doc_counts_once_at_its_best_rank() -> None:
    m = query_metrics(["a", "a", "b"], {"a": 1, "b": 1}, ks=(2,))
    assert m["precision@2"] == 1.0  # the copy of a is dropped, so b moves up to rank 2
    assert m["recall@2"] == 1.0


def test_negative_grades_are_not_relevant() -> None:
    m = query_metrics(["a", "b"], {"a": -1, "b": 1}, ks=(1, 2))
    assert m["hit_rate@1"] == 0.0
    assert m["mrr"] == 0.5
    assert m["ndcg@2"] == pytest.approx(1 / math.log2(3))


@pytest.mark.parametrize(
    ("run", "qrels", "ks", "message"),
    [
        ({"q": ["a"]}, {}, (1,), "qrels"),
        ({"q": "abc"}, {"q": {"a": 1}}, (1,), "list of doc ids"),
        ({"q": ["a", 3]}, {"q": {"a": 1}}, (1,), "doc ids are strings"),
        ({"q": ["a"]}, {"q": {"a": 1.5}}, (1,), "whole number"),
        ({"q": ["a"]}, {"q": ["a"]}, (1,), "relevance grades"),
        ({"q": ["a"]}, {"q": {"a": 1}}, (0,), "positive whole number"),
        ({"q": ["a"]}, {"q": {"a": 1}}, (), "non-empty"),
        ({"q": ["a"]}, {"q": {"a": 1}}, 5, "non-empty"),
        (["q"], {"q": {"a": 1}}, (1,), "must map query ids"),
    ],
)
def test_bad_input_is_named(run: object, qrels: object, ks: object, message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        evaluate(run, qrels, ks=ks)  # type: ignore[arg-type]


def test_doctests() -> None:
    assert doctest.testmod(retrieval_metrics).failed == 0


def _random_case(rng: random.Random) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    docs = [f"d{i}" for i in range(40)]
    run: dict[str, list[str]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for q in range(25):
        qid = f"q{q}"
        judged = rng.sample(docs, rng.randint(1, 12))
        qrels[qid] = {d: rng.choice([0, 0, 1, 1, 2, 3]) for d in judged}
        if rng.random() < 0.9:
            run[qid] = rng.sample(docs, rng.randint(0, 30))
    return run, qrels


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_trec_eval(seed: int) -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    run, qrels = _random_case(random.Random(seed))
    ks = (1, 3, 5, 10, 20)
    ours = evaluate(run, qrels, ks=ks)["per_query"]
    measures = {"recip_rank"} | {f"{m}_{k}" for m in ("P", "recall", "ndcg_cut", "success") for k in ks}
    # trec_eval orders by score, so give strictly falling scores in our rank order
    scored = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in run.items()}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(scored)
    # trec_eval skips queries missing from the run (its -c flag would score them 0, as we do)
    assert set(theirs) == {q for q in run if q in qrels}
    for qid, values in theirs.items():
        mine = ours[qid]
        assert mine["mrr"] == pytest.approx(values["recip_rank"], abs=1e-9), qid
        for k in ks:
            assert mine[f"precision@{k}"] == pytest.approx(values[f"P_{k}"], abs=1e-9), (qid, k)
            assert mine[f"recall@{k}"] == pytest.approx(values[f"recall_{k}"], abs=1e-9), (qid, k)
            assert mine[f"ndcg@{k}"] == pytest.approx(values[f"ndcg_cut_{k}"], abs=1e-9), (qid, k)
            assert mine[f"hit_rate@{k}"] == pytest.approx(values[f"success_{k}"], abs=1e-9), (qid, k)
    for qid in set(qrels) - set(run):
        assert all(v == 0.0 for v in ours[qid].values())
