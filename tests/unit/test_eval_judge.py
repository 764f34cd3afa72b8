"""Reading judge replies: scores, yes/no verdicts and claim lists in every shape small models
answer in, malformed replies, the retry loop and its errors, and the shipped rubric prompts."""

from __future__ import annotations

import doctest
from collections.abc import Callable

import pytest

from rippleops.domain import eval_judge
from rippleops.domain.eval_judge import JudgeError, ask, parse_claims, parse_score, parse_verdict
from rippleops.domain.prompts import parse_spec
from rippleops.errors import InvalidError, NotFoundError, UnavailableError


def test_doctests() -> None:
    assert doctest.testmod(eval_judge).failed == 0


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"score": 4}', 4.0),
        ('{"Score": "5"}', 5.0),
        ('{"rating": 3, "reason": "partly right"}', 3.0),
        ('```json\n{"score": 2}\n```', 2.0),
        ('```\n{"grade": 4}\n```\nThat is my verdict.', 4.0),
        ('Here is my evaluation: {"score": 5, "reason": "exact"} Hope this helps!', 5.0),
        ('{"result": {"score": 3}}', 3.0),
        ('{"score": "4/5"}', 4.0),
        ("Score: 4/5", 4.0),
        ("Score: 4", 4.0),
        ("**Score:** 2", 2.0),
        ("## Rating\n5", 5.0),
        ("Rating: four", 4.0),
        ("Rating: Four out of five", 4.0),
        ("4", 4.0),
        ("4.", 4.0),
        ("Five.", 5.0),
        ("  3  ", 3.0),
        ("4.5", 4.5),
        ("3/5", 3.0),
        ("I would rate this 4 out of 5.", 4.0),
        ("On a scale of 1 to 5, I give it 3.", 3.0),
        ("Rating (1-5): 4", 4.0),
        ("Score from 1 to 5: 2", 2.0),
        ("The answer lists 2 facts. Score: 4", 4.0),
        ("3 - mostly right, misses the version number", 3.0),
        ('{"score": 9} Sorry, on your scale: Score: 5', 5.0),  # first *valid* score
        ("Grade: 5.", 5.0),
        ("```json\n{score: 4\n```", 4.0),  # broken JSON, but a labelled score
        ('{"score": [4]}', 4.0),
    ],
)
def test_scores_in_every_shape(reply: str, score: float) -> None:
    assert parse_score(reply, 1, 5) == score


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "I cannot judge this.",
        "The answer is good.",
        "No one would say that.",  # a word number in prose is not a score
        '{"score": 7}',  # out of range
        '{"score": 0}',
        "Score: 0",
        "Score: 8/10",  # another scale
        "10",
        "-3",
        '{"score": null}',
        '{"score": true}',
        '{"score": "high"}',
        '{"reason": "no score key"}',
        "Score: N/A",
        "```json\n{score: ?\n```",  # broken JSON, no usable number either
        "Rating: excellent",
        "v2.3.4",
        "1-5",  # the scale alone
        "Score: ?",
    ],
)
def test_malformed_or_out_of_range_gives_none(reply: str) -> None:
    assert parse_score(reply, 1, 5) is None


def test_other_scales() -> None:
    assert parse_score("Score: 8/10", 0, 10) == 8.0
    assert parse_score('{"score": 0}', 0, 1) == 0.0
    assert parse_score("7", 1, 5) is None
    assert parse_score("7", 1, 10) == 7.0


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("yes", True),
        ("Yes.", True),
        ("No", False),
        ("No, the context does not say so.", False),
        ('{"verdict": "yes"}', True),
        ('{"verdict": "No"}', False),
        ('```json\n{"relevant": true}\n```', True),
        ('{"supported": false}', False),
        ('{"supported": 1}', True),
        ("The context is relevant to the question.", True),
        ("Not supported: the context talks about labels.", False),
        ("unsupported", False),
        ("Verdict: yes", True),
        ("TRUE", True),
        ("The context supports the sentence.", True),  # what SmolLM2 answers
        ("The context does not support the sentence.", False),
        ("It doesn't support it.", False),
    ],
)
def test_verdicts(reply: str, verdict: bool) -> None:
    assert parse_verdict(reply) is verdict


@pytest.mark.parametrize(
    "reply", ["", "maybe", "I am not sure.", '{"verdict": "perhaps"}', "The answer mentions Paris."]
)
def test_no_verdict(reply: str) -> None:
    assert parse_verdict(reply) is None


@pytest.mark.parametrize(
    ("reply", "claims"),
    [
        ('{"claims": [{"claim": "a", "supported": "yes"}, {"claim": "b", "supported": "no"}]}', [True, False]),
        ('```json\n{"statements": [{"statement": "a", "verdict": true}]}\n```', [True]),
        ('[{"claim": "a", "supported": "yes"}, {"claim": "b", "supported": "yes"}]', [True, True]),
        ('{"verdicts": ["yes", "no", "no"]}', [True, False, False]),
        ("1. Paris is in France - yes\n2. Paris has 9 million people - no", [True, False]),
        ("- The index is rebuilt: supported\n- Chunks are reused: not supported", [True, False]),
    ],
)
def test_claims(reply: str, claims: list[bool]) -> None:
    assert parse_claims(reply) == claims


@pytest.mark.parametrize(
    "reply",
    ["", "The answer is fine.", '{"claims": []}', '{"claims": [{"claim": "a"}]}', "yes", '{"claims": "unclear"}'],
)
def test_no_claims(reply: str) -> None:
    assert parse_claims(reply) is None


def scripted(*replies: str | BaseException) -> tuple[Callable[[list[dict[str, str]]], str], list[list[dict[str, str]]]]:
    """A judge that answers from a script and records what it was sent."""
    seen: list[list[dict[str, str]]] = []
    queue = list(replies)

    def chat(messages: list[dict[str, str]]) -> str:
        seen.append([dict(m) for m in messages])
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return chat, seen


MESSAGES = [{"role": "user", "content": "Rate it."}]


def _score(reply: str) -> float | None:
    return parse_score(reply, 1, 5)


def test_ask_retries_with_a_correction_then_succeeds() -> None:
    chat, seen = scripted("Great answer!", "I think it is good", "Score: 4")
    assert ask(chat, "model/j", MESSAGES, _score, retries=2, correction="Only a number.") == 4.0
    assert len(seen) == 3
    assert seen[1][-2:] == [
        {"role": "assistant", "content": "Great answer!"},
        {"role": "user", "content": "Only a number."},
    ]
    assert len(seen[2]) == 5  # the original, then two bad replies with their corrections


def test_ask_gives_up_after_retries_plus_one_tries() -> None:
    chat, seen = scripted("meh", "still meh", "x" * 500)
    with pytest.raises(JudgeError) as err:
        ask(chat, "model/j@production", MESSAGES, _score, retries=2, correction="Only a number.")
    message = str(err.value)
    assert message.startswith("judge model/j@production gave no score in 3 tries; last reply: 'xxx")
    assert message.endswith("...'") and len(message) < 300
    assert len(seen) == 3


def test_ask_without_retries_tries_once() -> None:
    chat, seen = scripted("nope")
    with pytest.raises(JudgeError, match="in 1 try;"):
        ask(chat, "model/j", MESSAGES, _score, retries=0, correction="x")
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (UnavailableError("cannot reach the chat server at http://127.0.0.1:9/v1"), "is unavailable: cannot reach"),
        (ConnectionRefusedError(111, "Connection refused"), "is unavailable: [Errno 111] Connection refused"),
        (TimeoutError("timed out"), "is unavailable: timed out"),
        (InvalidError("the prompt is 3000 tokens, which does not fit"), "failed: the prompt is 3000 tokens"),
        (NotFoundError("model/j has no label 'production'"), "failed: model/j has no label"),
    ],
)
def test_ask_turns_transport_failures_into_judge_errors(fault: BaseException, says: str) -> None:
    chat, seen = scripted(fault)
    with pytest.raises(JudgeError) as err:
        ask(chat, "model/j", MESSAGES, _score, retries=2, correction="x")
    assert str(err.value).startswith(f"judge model/j {says}")
    assert len(seen) == 1  # a model that is down is not asked three times


def test_ask_lets_bugs_through() -> None:
    chat, _ = scripted(ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        ask(chat, "model/j", MESSAGES, _score, retries=2, correction="x")


def test_shipped_prompts_are_valid_prompt_specs() -> None:
    prompts = eval_judge.default_judge_prompts()
    assert sorted(prompts) == sorted(eval_judge.JUDGE_PROMPTS)
    for name, spec in prompts.items():
        parsed = parse_spec(spec, name)
        assert parsed.kind == "chat" and parsed.description
        content = parsed.content()
        assert {"question", "answer", "expected", "contexts"} <= set(content["variables"]), name
    prompts["judge-correctness"]["messages"] = []
    assert eval_judge.default_judge_prompts()["judge-correctness"]["messages"]  # a fresh copy each call


def test_render_default_drops_variables_the_prompt_does_not_take() -> None:
    variables = {"question": "Where is Paris?", "answer": "In France.", "expected": "", "contexts": "c", "extra": 1}
    messages = eval_judge.render_default("judge-correctness", variables)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Reference answer: (none)" in messages[1]["content"]
    assert "Answer: In France." in messages[1]["content"]
    recall = eval_judge.render_default("judge-context-recall", {**variables, "sentence": "Paris is in France."})
    assert "Sentence: Paris is in France." in recall[1]["content"]


def test_as_messages() -> None:
    assert eval_judge.as_messages("Rate it") == [{"role": "user", "content": "Rate it"}]
    assert eval_judge.as_messages([{"role": "system", "content": "x", "name": "n"}]) == [
        {"role": "system", "content": "x"}
    ]
