"""Eval metrics: ROUGE-L and BLEU cross-checked against the packages called directly and hand
computations, semantic similarity, per-sample retrieval metrics against
domain/retrieval_metrics, the LLM judge (a scripted judge callable: the real model is in
tests/services/test_eval_judge_model.py), settings checks and every error path."""

from __future__ import annotations

import doctest
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from rippleops.domain import eval_metrics
from rippleops.domain.eval_metrics import REGISTRY, MetricContext, MetricError, Outcome, Sample, parse_metric
from rippleops.domain.retrieval_metrics import query_metrics
from rippleops.errors import InvalidError, UnavailableError

CTX = MetricContext()
JUDGE = {"name": "judge", "prompt": "prompt/judge-correctness@latest", "model": "model/judge@production"}


def sample(expected: Any = "the cat sat on the mat", **kw: Any) -> Sample:
    return Sample(kw.pop("idx", 0), kw.pop("key", "s0"), kw.pop("input", "What did the cat do?"), expected, **kw)


def test_doctests() -> None:
    assert doctest.testmod(eval_metrics).failed == 0


def test_registry_lists_every_metric_with_a_summary() -> None:
    expected = {
        "exact_match", "contains", "regex", "json_valid", "latency_ms", "tokens", "cost", "guard_block_rate",
        "rouge_l", "bleu", "semantic_similarity", "hit_rate", "recall", "precision", "mrr", "ndcg", "judge",
        "faithfulness", "answer_relevancy", "context_precision", "context_recall",
    }  # fmt: skip
    assert expected <= set(REGISTRY)
    assert all(kind.summary for kind in REGISTRY.values())


# -- ROUGE-L and BLEU ---------------------------------------------------------------------------------

PAIRS = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat on the mat", "the cat is on the mat"),
    ("labels are movable pointers to versions", "a label is a movable pointer to one version"),
    ("Roll back with ripple prompt label NAME production N.", "To roll back, move the production label back."),
    ("completely different", "nothing shared here"),
    ("", "something"),
]


@pytest.mark.parametrize(("output", "expected"), PAIRS)
def test_rouge_l_is_rouge_score(output: str, expected: str) -> None:
    direct = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(expected, output)["rougeL"].fmeasure
    assert parse_metric("rouge_l").score(sample(expected), Outcome(output), CTX) == pytest.approx(direct)
    plain = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False).score(expected, output)["rougeL"].fmeasure
    got = parse_metric({"name": "rouge_l", "stemmer": False}).score(sample(expected), Outcome(output), CTX)
    assert got == pytest.approx(plain)


def test_rouge_l_by_hand() -> None:
    rouge = parse_metric("rouge_l")
    assert rouge.score(sample("the cat sat"), Outcome("the cat sat"), CTX) == 1.0
    # LCS of "the cat" in "the cat sat" is 2: precision 2/2, recall 2/3, F = 2PR/(P+R) = 0.8
    assert rouge.score(sample("the cat sat"), Outcome("the cat"), CTX) == pytest.approx(0.8)
    # LCS("a b c d", "a c b d") = 3 (a b d or a c d): P = R = 3/4
    assert rouge.score(sample("a b c d"), Outcome("a c b d"), CTX) == pytest.approx(0.75)
    assert rouge.score(sample("x y"), Outcome("z"), CTX) == 0.0


@pytest.mark.parametrize(("output", "expected"), PAIRS)
def test_bleu_is_sacrebleu(output: str, expected: str) -> None:
    direct = sacrebleu.sentence_bleu(output, [expected]).score / 100
    assert parse_metric("bleu").score(sample(expected), Outcome(output), CTX) == pytest.approx(direct)


def test_bleu_by_hand_and_lowercase() -> None:
    bleu = parse_metric("bleu")
    assert bleu.score(sample("the cat sat on the mat"), Outcome("the cat sat on the mat"), CTX) == pytest.approx(1.0)
    assert bleu.score(sample("the cat sat on the mat"), Outcome("dogs run far"), CTX) == 0.0
    assert bleu.score(sample("The Cat sat on the mat"), Outcome("the cat sat on the mat"), CTX) < 1.0
    lower = parse_metric({"name": "bleu", "lowercase": True})
    assert lower.score(sample("The Cat sat on the mat"), Outcome("the cat sat on the mat"), CTX) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["rouge_l", "bleu", "semantic_similarity"])
def test_reference_metrics_need_an_expected_answer(name: str) -> None:
    spec: Any = {"name": name, "embedder": "embedder/minilm"} if name == "semantic_similarity" else name
    with pytest.raises(MetricError, match=f"{name} needs an expected answer and sample s0 has none"):
        parse_metric(spec).score(sample(None), Outcome("x"), MetricContext(embed=bag_of_words))


def test_missing_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rouge_score", None)  # what `import` sees when the package is absent
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    eval_metrics._rouge_scorer.cache_clear()
    try:
        with pytest.raises(InvalidError, match=r"rouge-score package: pip install 'rippleops\[eval\]'"):
            parse_metric("rouge_l").score(sample(), Outcome("x"), CTX)
        with pytest.raises(InvalidError, match=r"sacrebleu package: pip install 'rippleops\[eval\]'"):
            parse_metric("bleu").score(sample(), Outcome("x"), CTX)
    finally:
        eval_metrics._rouge_scorer.cache_clear()


def test_rouge_scorer_is_built_once() -> None:
    assert eval_metrics._rouge_scorer(True) is eval_metrics._rouge_scorer(True)


# -- semantic similarity ---------------------------------------------------------------------------

VOCAB = ["cat", "sat", "mat", "dog", "ran", "park", "the", "on"]


def bag_of_words(texts: Any) -> list[list[float]]:
    """A tiny deterministic embedder: word counts over a fixed vocabulary (the real MiniLM is
    exercised in the slow test)."""
    return [[float(t.lower().split().count(w)) for w in VOCAB] for t in texts]


def test_semantic_similarity_is_the_cosine_of_the_embeddings() -> None:
    m = parse_metric({"name": "semantic_similarity", "embedder": "embedder/minilm@production"})
    assert m.needs == ("embedder/minilm@production",)
    ctx = MetricContext(embed=bag_of_words)
    assert m.score(sample("the cat sat"), Outcome("the cat sat"), ctx) == pytest.approx(1.0)
    # [cat, sat, the] vs [dog, ran, the]: one shared word of three -> 1/3
    assert m.score(sample("the dog ran"), Outcome("the cat sat"), ctx) == pytest.approx(1 / 3)
    assert m.score(sample("the dog ran"), Outcome("zzz"), ctx) == 0.0  # an all-zero vector


def test_semantic_similarity_errors() -> None:
    with pytest.raises(InvalidError, match="metric semantic_similarity needs embedder"):
        parse_metric("semantic_similarity")
    with pytest.raises(InvalidError, match="`embedder` must be an embedder reference"):
        parse_metric({"name": "semantic_similarity", "embedder": "model/x"})
    m = parse_metric({"name": "semantic_similarity", "embedder": "embedder/minilm"})
    with pytest.raises(MetricError, match="needs an embedder and none was bound"):
        m.score(sample(), Outcome("x"), CTX)
    with pytest.raises(MetricError, match="gave 1 vectors for 2 texts"):
        m.score(sample(), Outcome("x"), MetricContext(embed=lambda texts: [[1.0]]))


# -- retrieval ---------------------------------------------------------------------------------------


def test_retrieval_metrics_by_hand() -> None:
    s = sample(relevant=("d1", "d4"))
    out = Outcome("x", retrieved=("d9", "d1", "d2", "d4", "d5", "d1"))
    assert parse_metric("hit_rate").score(s, out, CTX) == 1.0
    assert parse_metric({"name": "hit_rate", "k": 1}).score(s, out, CTX) == 0.0
    assert parse_metric({"name": "recall", "k": 3}).score(s, out, CTX) == 0.5
    assert parse_metric("recall").score(s, out, CTX) == 1.0
    assert parse_metric({"name": "precision", "k": 2}).score(s, out, CTX) == 0.5
    assert parse_metric("precision").score(s, out, CTX) == pytest.approx(2 / 5)
    assert parse_metric("mrr").score(s, out, CTX) == 0.5
    assert parse_metric({"name": "mrr", "k": 1}).score(s, out, CTX) == 0.0  # first relevant at rank 2 > k
    idcg = 1 + 1 / math.log2(3)
    assert parse_metric("ndcg").score(s, out, CTX) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / idcg)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_retrieval_metrics_are_retrieval_metrics_query_metrics(k: int) -> None:
    s = sample(relevant=("a", "c", "f"))
    ranking = ("b", "c", "a", "x", "f", "g", "h")
    want = query_metrics(list(ranking), {"a": 1, "c": 1, "f": 1}, (k,))
    for name in ("hit_rate", "recall", "precision", "ndcg"):
        got = parse_metric({"name": name, "k": k}).score(s, Outcome(retrieved=ranking), CTX)
        assert got == pytest.approx(want[f"{name}@{k}"]), name
    assert parse_metric({"name": "mrr", "k": k}).score(s, Outcome(retrieved=ranking), CTX) == (0.5 if k >= 2 else 0.0)


@pytest.mark.parametrize("name", ["hit_rate", "recall", "precision", "mrr", "ndcg"])
def test_retrieval_metrics_errors(name: str) -> None:
    m = parse_metric(name)
    for relevant in (None, ()):
        with pytest.raises(MetricError, match=f"{name} needs relevant doc ids and sample s0 has none"):
            m.score(sample(relevant=relevant), Outcome(retrieved=("d1",)), CTX)
    assert m.score(sample(relevant=("d1",)), Outcome(retrieved=()), CTX) == 0.0  # nothing retrieved
    for bad in (0, -1, 2.5, True, "5"):
        with pytest.raises(InvalidError, match=f"metric {name}: `k` must be a whole number from 1"):
            parse_metric({"name": name, "k": bad})


# -- LLM-as-judge ------------------------------------------------------------------------------------


def judge_ctx(
    *replies: str | BaseException,
    model: str = "model/judge@production",
    prompt: str = "prompt/judge-correctness@latest",
) -> tuple[MetricContext, list[list[dict[str, str]]], list[dict[str, Any]]]:
    """A context whose judge answers from a script; it records the messages and the variables."""
    sent: list[list[dict[str, str]]] = []
    rendered: list[dict[str, Any]] = []
    queue = list(replies)

    def chat(messages: list[dict[str, str]]) -> str:
        sent.append(messages)
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def render(variables: dict[str, Any]) -> list[dict[str, str]]:
        rendered.append(variables)
        return [{"role": "user", "content": f"Q: {variables['question']} A: {variables['answer']}"}]

    return MetricContext(chat={model: chat}, prompts={prompt: render}), sent, rendered


def test_judge_scales_the_score_to_0_1() -> None:
    m = parse_metric({**JUDGE, "as": "correctness"})
    assert (m.name, m.kind, m.needs) == (
        "correctness",
        "judge",
        ("model/judge@production", "prompt/judge-correctness@latest"),
    )
    for reply, want in (('{"score": 5}', 1.0), ("Score: 1", 0.0), ("3", 0.5), ("Rating: four", 0.75)):
        ctx, _, _ = judge_ctx(reply)
        assert m.score(sample(), Outcome("It sat on the mat."), ctx) == want
    ctx, _, _ = judge_ctx("7")
    ten = parse_metric({**JUDGE, "scale_min": 0, "scale_max": 10})
    assert ten.score(sample(), Outcome("x"), ctx) == 0.7


def test_judge_renders_the_rubric_with_the_sample() -> None:
    ctx, sent, rendered = judge_ctx('{"score": 4}')
    s = sample("on the mat", input={"question": "Where did the cat sit?", "tone": "brief"})
    parse_metric(JUDGE).score(s, Outcome("On the mat.", contexts=("c1", "c2")), ctx)
    assert rendered == [
        {
            "question": "Where did the cat sit?",
            "answer": "On the mat.",
            "expected": "on the mat",
            "contexts": "c1\n\nc2",
        }
    ]
    assert sent[0] == [{"role": "user", "content": "Q: Where did the cat sit? A: On the mat."}]
    ctx, _, rendered = judge_ctx('{"score": 4}')
    parse_metric(JUDGE).score(sample(None, input={"a": 1}), Outcome("x"), ctx)
    assert rendered[0]["expected"] == "" and rendered[0]["question"] == '{"a": 1}'


def test_judge_retries_malformed_replies_then_records_an_error() -> None:
    ctx, sent, _ = judge_ctx("Great answer!", "Score: 9", '{"score": 4}')
    assert parse_metric(JUDGE).score(sample(), Outcome("x"), ctx) == 0.75
    assert len(sent) == 3 and "from 1 to 5" in sent[2][-1]["content"]
    ctx, sent, _ = judge_ctx("good", "very good", "the best")
    with pytest.raises(MetricError) as err:
        parse_metric(JUDGE).score(sample(), Outcome("x"), ctx)
    assert str(err.value) == "judge model/judge@production gave no score in 3 tries; last reply: 'the best'"
    ctx, sent, _ = judge_ctx("good")
    with pytest.raises(MetricError, match="gave no score in 1 try"):
        parse_metric({**JUDGE, "retries": 0}).score(sample(), Outcome("x"), ctx)


def test_judge_that_is_down_is_an_error_not_a_nan() -> None:
    ctx, sent, _ = judge_ctx(UnavailableError("cannot reach the chat server at http://127.0.0.1:9/v1"))
    with pytest.raises(MetricError, match="judge model/judge@production is unavailable: cannot reach the chat server"):
        parse_metric(JUDGE).score(sample(), Outcome("x"), ctx)
    assert len(sent) == 1
    ctx, _, _ = judge_ctx(ConnectionResetError(104, "Connection reset by peer"))
    with pytest.raises(MetricError, match=r"is unavailable: .*Connection reset"):
        parse_metric(JUDGE).score(sample(), Outcome("x"), ctx)


def test_judge_bindings_missing_or_broken() -> None:
    m = parse_metric(JUDGE)
    with pytest.raises(MetricError, match="the rubric prompt/judge-correctness@latest was not bound"):
        m.score(sample(), Outcome("x"), CTX)
    ctx, _, _ = judge_ctx("4", model="model/other")
    with pytest.raises(MetricError, match="the judge model/judge@production was not bound"):
        m.score(sample(), Outcome("x"), ctx)

    def broken(variables: Mapping[str, Any]) -> Any:
        raise InvalidError("unknown variables: contexts; known variables: question, answer")

    ctx = MetricContext(chat={"model/judge@production": lambda m: "4"}, prompts={JUDGE["prompt"]: broken})
    with pytest.raises(MetricError, match="does not render: unknown variables: contexts"):
        m.score(sample(), Outcome("x"), ctx)
    text = MetricContext(chat={"model/judge@production": lambda m: "4"}, prompts={JUDGE["prompt"]: lambda v: "Rate it"})
    assert m.score(sample(), Outcome("x"), text) == 0.75  # a text prompt renders to a string: one user turn


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prompt": None}, "metric judge needs prompt"),
        ({"model": None}, "metric judge needs model"),
        ({"prompt": "judge-correctness"}, "`prompt` must be a prompt reference"),
        ({"model": "prompt/x"}, "`model` must be a model reference"),
        ({"scale_min": 5, "scale_max": 5}, r"scale_min \(5\) must be below scale_max \(5\)"),
        ({"scale_max": "5"}, "`scale_max` must be a whole number"),
        ({"retries": -1}, "`retries` must be a whole number from 0 to 10"),
        ({"retries": 11}, "`retries` must be a whole number from 0 to 10"),
        ({"temperature": 0}, "metric judge does not take temperature; it takes model, prompt, retries"),
    ],
)
def test_judge_settings_are_checked(changes: dict[str, Any], message: str) -> None:
    spec = {**JUDGE, **changes}
    spec = {k: v for k, v in spec.items() if v is not None}
    with pytest.raises(InvalidError, match=message):
        parse_metric(spec)


def test_a_nan_from_a_metric_is_an_error() -> None:
    nan: Callable[..., float] = lambda *a: float("nan")  # noqa: E731
    metric = eval_metrics.Metric("broken", "broken", {}, nan)
    with pytest.raises(MetricError, match="broken computed NaN"):
        metric.score(sample(), Outcome("x"), CTX)
