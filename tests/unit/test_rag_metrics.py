"""RAG metrics, heuristic and llm modes: hand-computed values, the defined values for empty
answers and missing contexts, the error cases, settings checks and judge robustness (a
scripted judge callable here; the real model is in tests/services/test_eval_judge_model.py)."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

from rippleops.domain import rag_metrics
from rippleops.domain.eval_metrics import MetricContext, MetricError, Outcome, Sample, parse_metric
from rippleops.domain.rag_metrics import average_precision, content_tokens, sentences, token_recall
from rippleops.errors import InvalidError, UnavailableError

CTX = MetricContext()
MODEL = "model/judge@production"
CONTEXTS = (
    "To roll back a prompt, move its production label back to the previous version.",
    "A new dataset version rebuilds the index; unchanged chunks are reused.",
    "API tokens are hashed in the database and shown once.",
)
QUESTION = "How do I roll back a prompt?"


def sample(expected: Any = "Move the production label back to the previous version.", **kw: Any) -> Sample:
    return Sample(0, "s0", kw.pop("input", QUESTION), expected, **kw)


def scripted(*replies: str | BaseException) -> tuple[MetricContext, list[list[dict[str, str]]]]:
    sent: list[list[dict[str, str]]] = []
    queue = list(replies)

    def chat(messages: list[dict[str, str]]) -> str:
        sent.append(messages)
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return MetricContext(chat={MODEL: chat}), sent


def test_doctests() -> None:
    assert doctest.testmod(rag_metrics).failed == 0


def test_text_helpers() -> None:
    assert sentences("One. Two!  Three?\nFour\n\n...") == ["One.", "Two!", "Three?", "Four"]
    assert sentences("  ") == []
    assert content_tokens("The labels are pointers") == {"label", "pointer"}
    assert content_tokens("it is") == {"it", "is"}  # only stopwords: keep them
    assert token_recall("labels move", "a label can move") == 1.0
    assert token_recall("labels fly", "a label can move") == 0.5
    assert token_recall("", "anything") == 1.0
    assert average_precision([False, True, False, True]) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert average_precision([]) == 0.0 and average_precision([False]) == 0.0


# -- faithfulness ------------------------------------------------------------------------------------


def test_faithfulness_heuristic() -> None:
    m = parse_metric("faithfulness")
    assert m.needs == ()
    answer = "Move the production label back to the previous version. Then restart the server on Mars."
    assert m.score(sample(), Outcome(answer, contexts=CONTEXTS), CTX) == 0.5
    assert m.score(sample(), Outcome("Tokens are hashed.", contexts=CONTEXTS), CTX) == 1.0
    strict = parse_metric({"name": "faithfulness", "threshold": 1.0})
    assert strict.score(sample(), Outcome("Tokens are hashed twice.", contexts=CONTEXTS), CTX) == 0.0
    assert m.score(sample(), Outcome("Tokens are hashed.", contexts=()), CTX) == 0.0  # nothing retrieved
    with pytest.raises(MetricError, match="the answer to sample s0 is empty; there is no statement to check"):
        m.score(sample(), Outcome("  ", contexts=CONTEXTS), CTX)


def onehot(texts: Any) -> list[list[float]]:
    """Embeds a text as which of three topics it mentions (label, index, token)."""
    return [[float(w in t.lower()) for w in ("label", "index", "token")] for t in texts]


def test_faithfulness_with_an_embedder() -> None:
    m = parse_metric({"name": "faithfulness", "embedder": "embedder/minilm", "threshold": 0.9})
    assert m.needs == ("embedder/minilm",)
    ctx = MetricContext(embed=onehot)
    answer = "Move the label back. Rebuild the index. Ask the moon."
    assert m.score(sample(), Outcome(answer, contexts=CONTEXTS), ctx) == pytest.approx(2 / 3)
    with pytest.raises(MetricError, match="faithfulness needs an embedder and none was bound"):
        m.score(sample(), Outcome(answer, contexts=CONTEXTS), CTX)


def test_faithfulness_llm() -> None:
    m = parse_metric({"name": "faithfulness", "mode": "llm", "model": MODEL})
    assert m.needs == (MODEL,)
    ctx, sent = scripted(
        '{"claims": [{"claim": "a", "supported": "yes"}, {"claim": "b", "supported": "no"}, {"claim": "c", "supported": "yes"}]}'
    )
    assert m.score(sample(), Outcome("Move the label back.", contexts=CONTEXTS), ctx) == pytest.approx(2 / 3)
    assert "Context:\nTo roll back a prompt" in sent[0][1]["content"]  # the shipped rubric, rendered
    ctx, sent = scripted("I think so.", "1. The label moves back - yes")
    assert m.score(sample(), Outcome("Move the label back.", contexts=CONTEXTS), ctx) == 1.0
    assert "claims" in sent[1][-1]["content"]
    ctx, _ = scripted("hm", "hm", "hm")
    with pytest.raises(MetricError, match=f"judge {MODEL} gave no list of claims in 3 tries; last reply: 'hm'"):
        m.score(sample(), Outcome("Move the label back.", contexts=CONTEXTS), ctx)


def test_faithfulness_llm_with_own_prompt() -> None:
    m = parse_metric({"name": "faithfulness", "mode": "llm", "model": MODEL, "prompt": "prompt/mine@production"})
    assert m.needs == (MODEL, "prompt/mine@production")
    ctx, sent = scripted('[{"supported": true}]')
    seen: list[dict[str, Any]] = []
    ctx = MetricContext(chat=ctx.chat, prompts={"prompt/mine@production": lambda v: seen.append(v) or "Check it."})
    assert m.score(sample(), Outcome("Move it.", contexts=CONTEXTS), ctx) == 1.0
    assert sent[0] == [{"role": "user", "content": "Check it."}]
    assert set(seen[0]) == {"question", "answer", "expected", "contexts"}


# -- answer relevancy ----------------------------------------------------------------------------------


def test_answer_relevancy_heuristic_and_embedder() -> None:
    m = parse_metric("answer_relevancy")
    # question content tokens: how, roll, back, prompt -> "how" is a stopword: roll, back, prompt
    assert m.score(sample(), Outcome("To roll back a prompt, move the label."), CTX) == 1.0
    assert m.score(sample(), Outcome("Prompts are great."), CTX) == pytest.approx(1 / 3)
    assert m.score(sample(), Outcome(""), CTX) == 0.0
    with pytest.raises(MetricError, match="sample s0 has no question text"):
        m.score(sample(input=""), Outcome("x"), CTX)
    emb = parse_metric({"name": "answer_relevancy", "embedder": "embedder/minilm"})

    def embed(texts: Any) -> list[list[float]]:
        return [[1.0, 0.0] if "roll" in t else [-1.0, 0.1] for t in texts]

    ctx = MetricContext(embed=embed)
    assert emb.score(sample(), Outcome("roll it back"), ctx) == pytest.approx(1.0)
    assert emb.score(sample(), Outcome("bananas"), ctx) == 0.0  # a negative cosine is clipped at 0


def test_answer_relevancy_llm() -> None:
    m = parse_metric({"name": "answer_relevancy", "mode": "llm", "model": MODEL})
    ctx, sent = scripted("Score: 4")
    assert m.score(sample(), Outcome("Move the label."), ctx) == 0.75
    assert "how well the answer addresses the question" in sent[0][1]["content"]
    ctx, _ = scripted(UnavailableError("cannot reach the chat server"))
    with pytest.raises(MetricError, match=f"judge {MODEL} is unavailable"):
        m.score(sample(), Outcome("Move the label."), ctx)


# -- context precision ---------------------------------------------------------------------------------


def test_context_precision_by_doc_id() -> None:
    m = parse_metric("context_precision")
    s = sample(relevant=("rollback.md", "index.md"))
    out = Outcome("x", contexts=CONTEXTS, retrieved=("auth.md", "rollback.md", "index.md"))
    assert m.score(s, out, CTX) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m.score(s, Outcome("x", retrieved=("rollback.md", "index.md")), CTX) == 1.0
    assert m.score(s, Outcome("x"), CTX) == 0.0  # nothing retrieved


def test_context_precision_by_expected_answer() -> None:
    m = parse_metric("context_precision")
    assert m.score(sample(), Outcome("x", contexts=CONTEXTS), CTX) == 1.0  # the relevant one is first
    reordered = (CONTEXTS[2], CONTEXTS[0])
    assert m.score(sample(), Outcome("x", contexts=reordered), CTX) == 0.5
    assert m.score(sample(), Outcome("x"), CTX) == 0.0
    with pytest.raises(MetricError, match="has neither relevant doc ids nor an expected answer"):
        m.score(sample(None), Outcome("x", contexts=CONTEXTS), CTX)


def test_context_precision_llm_asks_per_context() -> None:
    m = parse_metric({"name": "context_precision", "mode": "llm", "model": MODEL})
    ctx, sent = scripted('{"verdict": "no"}', "Yes.", "maybe", "no")
    assert m.score(sample(), Outcome("x", contexts=CONTEXTS), ctx) == 0.5  # [no, yes, no]
    assert len(sent) == 4  # the third context needed a second try
    assert "Context: To roll back a prompt" in sent[0][1]["content"]
    assert "Context: A new dataset version" in sent[1][1]["content"]
    ctx, sent = scripted()
    assert m.score(sample(), Outcome("x"), ctx) == 0.0 and sent == []


# -- context recall ------------------------------------------------------------------------------------


def test_context_recall_heuristic() -> None:
    m = parse_metric("context_recall")
    expected = (
        "Move the production label back to the previous version. Unchanged chunks are reused. Call support on Mars."
    )
    assert m.score(sample(expected), Outcome("x", contexts=CONTEXTS), CTX) == pytest.approx(2 / 3)
    assert m.score(sample(expected), Outcome("x"), CTX) == 0.0
    refs = sample(None, contexts=(CONTEXTS[1], "Something nobody retrieved about llamas."))
    assert m.score(refs, Outcome("x", contexts=CONTEXTS), CTX) == 0.5
    with pytest.raises(MetricError, match="has neither an expected answer nor reference contexts"):
        m.score(sample(None), Outcome("x", contexts=CONTEXTS), CTX)
    with pytest.raises(MetricError, match="reference contexts of sample s0 are all empty"):
        m.score(sample(None, contexts=(" ",)), Outcome("x", contexts=CONTEXTS), CTX)


def test_context_recall_llm_asks_per_sentence() -> None:
    m = parse_metric({"name": "context_recall", "mode": "llm", "model": MODEL})
    ctx, sent = scripted("yes", '{"verdict": "no"}')
    assert m.score(sample("Move the label. Reuse the chunks."), Outcome("x", contexts=CONTEXTS), ctx) == 0.5
    assert "Sentence: Move the label." in sent[0][1]["content"]
    ctx, _ = scripted(OSError("network is unreachable"))
    with pytest.raises(MetricError, match="is unavailable: network is unreachable"):
        m.score(sample(), Outcome("x", contexts=CONTEXTS), ctx)
    with pytest.raises(MetricError, match="mode llm checks the expected answer's sentences"):
        m.score(sample(None, contexts=("c",)), Outcome("x", contexts=CONTEXTS), ctx)


# -- settings --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["faithfulness", "answer_relevancy", "context_precision", "context_recall"])
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "gpt"}, "`mode` must be heuristic \\(no LLM\\) or llm"),
        ({"mode": "llm"}, "mode llm needs `model:`"),
        ({"mode": "llm", "model": "judge"}, "`model` must be a model reference"),
        ({"model": MODEL}, "`model`/`prompt` are for mode llm"),
        ({"mode": "llm", "model": MODEL, "prompt": "rubric"}, "`prompt` must be a prompt reference"),
        ({"threshold": 1.5}, "`threshold` must be a number from 0 to 1"),
        ({"retries": -1}, "`retries` must be a whole number from 0 to 10"),
        ({"k": 3}, "does not take k"),
    ],
)
def test_settings_are_checked(name: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        parse_metric({"name": name, **settings})


def test_embedder_setting() -> None:
    for name in ("context_precision", "context_recall"):
        with pytest.raises(InvalidError, match=f"metric {name} takes no `embedder`"):
            parse_metric({"name": name, "embedder": "embedder/minilm"})
    with pytest.raises(InvalidError, match="`embedder` is for mode heuristic"):
        parse_metric({"name": "faithfulness", "mode": "llm", "model": MODEL, "embedder": "embedder/minilm"})
    with pytest.raises(InvalidError, match="`embedder` must be an embedder reference"):
        parse_metric({"name": "answer_relevancy", "embedder": "minilm"})
