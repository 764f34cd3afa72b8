"""Reading model replies and judging records (pure): JSON out of prose and fences, the line
format, aliases, grounding and similarity, every rule's reason, duplicates exact and near,
and the calls and rows a plan makes."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from rippleops.domain.synth import (
    ALIASES,
    DEFAULT_SCHEMAS,
    LINE_PREFIXES,
    effective_rules,
    parse_synth_spec,
)
from rippleops.domain.synth_dedupe import Deduper
from rippleops.domain.synth_output import (
    answer_overlap,
    apply_aliases,
    check_record,
    extract_json,
    normalise,
    parse_lines,
    plain_text,
    similarity,
)
from rippleops.domain.synth_plan import (
    QA_COLUMNS,
    build_row,
    classify_calls,
    group_by_label,
    identity_text,
    paraphrase_calls,
    qa_calls,
)

QA = {"question": "How often does the Moon orbit the Earth?", "answer": "about every 27 days"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"question": "Q?", "answer": "A"}', [{"question": "Q?", "answer": "A"}]),
        (
            'Sure! Here you go:\n```json\n{"question": "Q?", "answer": "A"}\n```\nAnything else?',
            [{"question": "Q?", "answer": "A"}],
        ),
        ('```\n{"a": 1}\n```', [{"a": 1}]),
        ('Here: {"a": 1} and then {"b": 2} trailing junk {not json', [{"a": 1}, {"b": 2}]),
        ('[{"a": 1}, {"b": 2}, 3]', [{"a": 1}, {"b": 2}]),
        ('{"a": 1, "b": [1, 2,],}', [{"a": 1, "b": [1, 2]}]),
        ('{"a": "brace } in a string", "b": 2,}', [{"a": "brace } in a string", "b": 2}]),
        ('{"question": "a raw\nnewline?", "answer": "ok"}', [{"question": "a raw\nnewline?", "answer": "ok"}]),
        ('{"question": "cut off in the mid', []),
        ("no json here at all", []),
        ("", []),
    ],
)
def test_extract_json(text: str, expected: list[dict[str, Any]]) -> None:
    assert extract_json(text) == expected


def test_line_format_for_tiny_models() -> None:
    prefixes = LINE_PREFIXES["qa"]
    text = "Here are two:\n1. **Q:** What is it?\nA: a thing\nthat spans lines\n\nQuestion 2: Next one?\nAnswer - yes"
    assert parse_lines(text, prefixes) == [
        {"question": "What is it?", "answer": "a thing that spans lines"},
        {"question": "Next one?", "answer": "yes"},
    ]
    assert parse_lines("Q: only a question?", prefixes) == [{"question": "only a question?"}]
    assert parse_lines("nothing labelled", prefixes) == []
    assert parse_lines("Q: x", {}) == []


def test_plain_text_and_aliases() -> None:
    assert plain_text('  "Hello there."  ') == [{"text": "Hello there."}]
    assert plain_text("1. one\n2. two\n- three") == [{"text": "one"}, {"text": "two"}, {"text": "three"}]
    assert plain_text("   ") == []
    assert apply_aliases({"Q": "x?", "A": "y"}, ALIASES["qa"]) == {"question": "x?", "answer": "y"}
    assert apply_aliases({"question": "x?", "q": "other"}, ALIASES["qa"]) == {"question": "x?", "q": "other"}
    assert apply_aliases({"Paraphrase": "t"}, ALIASES["paraphrase"]) == {"text": "t"}


def test_text_measures() -> None:
    assert normalise("  \uff37hat is\tRIPPLE?! ") == "what is ripple"
    assert answer_overlap("every 27 days", "It orbits the Earth about every 27 days.") == 1.0
    assert answer_overlap("", "anything") == 0.0
    assert answer_overlap("the of a", "unrelated") == 0.0  # nothing but stop words
    assert answer_overlap("a marvel of French engineering", "a wrought-iron tower of Gustave Eiffel's company") == 0.0
    assert similarity("the cat sat", "The cat sat!") == 1.0
    assert similarity("a b", "c d") == 0.0


def _rules(task: str, **over: Any) -> Any:
    spec = parse_synth_spec({"task": task, "source": "d", "into": "t", "model": "m", **over})
    return effective_rules(spec, DEFAULT_SCHEMAS[task])


VALIDATOR = jsonschema.Draft202012Validator(DEFAULT_SCHEMAS["qa"])
PASSAGE = "The Moon is Earth's only natural satellite. It orbits the Earth about every 27 days."


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (QA, None),
        ({"question": "How often does the Moon orbit?"}, "schema"),
        ({**QA, "extra": 1}, "schema"),
        ({**QA, "answer": 27}, "schema"),
        ({**QA, "answer": "   "}, "empty"),
        ({**QA, "question": "Why?"}, "too_short"),
        ({**QA, "question": "W" * 300 + "?"}, "too_long"),
        ({**QA, "question": "Tell me about the Moon's orbit"}, "no_match"),
        ({**QA, "question": "What is this thing called?"}, "off_topic"),
        ({**QA, "answer": "Jupiter has sixty moons"}, "not_grounded"),
    ],
)
def test_each_rule_has_its_reason(record: dict[str, Any], reason: str | None) -> None:
    verdict = check_record(record, _rules("qa"), validator=VALIDATOR, passage=PASSAGE)
    assert (verdict[0] if verdict else None) == reason
    if verdict:
        assert verdict[1]  # and a detail that says why


def test_rules_can_be_loosened_and_tightened() -> None:
    record = {"question": "Tell me about the Moon", "answer": "Jupiter has sixty moons"}
    assert check_record(record, _rules("qa"), passage=PASSAGE)[0] == "no_match"  # type: ignore[index]
    assert (
        check_record({**record, "question": "Tell me about the Moon?"}, _rules("qa"), passage=PASSAGE)[0]
        == "not_grounded"
    )  # type: ignore[index]
    loose = _rules("qa", rules={"answer_overlap": 0, "match": {"question": ".*"}})
    assert check_record(record, loose, passage=PASSAGE) is None
    strict = _rules("qa", rules={"max_length": {"answer": 5}})
    assert check_record(QA, strict, passage=PASSAGE)[0] == "too_long"  # type: ignore[index]


def test_paraphrases_must_not_copy_nor_wander() -> None:
    rules = _rules("paraphrase")
    seed = ("The store opens at nine and closes at six on weekdays.",)
    assert (
        check_record({"text": "The store opens at nine and closes at six on weekdays!"}, rules, seeds=seed)[0]
        == "copy_of_seed"
    )  # type: ignore[index]
    assert check_record({"text": "I am ready to help. What can you please?"}, rules, seeds=seed)[0] == "off_topic"  # type: ignore[index]
    assert check_record({"text": "On weekdays the shop is open from nine until six."}, rules, seeds=seed) is None


def test_deduper_exact_near_existing_and_batch() -> None:
    d = Deduper(near_threshold=0.7)
    d.add_existing("What is a label in Ripple?")
    assert d.check("what is a LABEL in ripple") == ("duplicate_existing", "the same text as an existing row")
    assert d.check("What is a label in Ripple, exactly?")[0] == "near_duplicate"  # type: ignore[index]
    assert d.check("How do I roll back a prompt?") is None
    d.add("How do I roll back a prompt?")
    assert d.check("how do i roll back a prompt") == ("duplicate", "the same text as a row accepted in this run")
    near = d.check("How do I roll back a prompt version?")
    assert near is not None and near[0] == "near_duplicate" and "accepted in this run" in near[1]
    assert d.check("") is None and d.size == 2
    exact_only = Deduper(near_threshold=None)
    exact_only.add("How do I roll back a prompt?")
    assert exact_only.check("How do I roll back a prompt version?") is None


def test_deduper_is_deterministic() -> None:
    texts = [f"What does step {i} of the guide say about labels?" for i in range(30)]
    verdicts = []
    for _ in range(2):
        d = Deduper(near_threshold=0.8)
        out = []
        for t in texts:
            v = d.check(t)
            out.append(v)
            if v is None:
                d.add(t)
        verdicts.append(out)
    assert verdicts[0] == verdicts[1]


DOC = "# Moon\n\nThe Moon orbits the Earth about every 27 days.\n\n" + "Filler sentence about the sky. " * 60


def test_qa_plan_rotates_passages_and_keeps_spans() -> None:
    spec = parse_synth_spec({"task": "qa", "source": "d", "into": "t", "model": "m", "n": 3, "passage_chars": 400})
    rows = [(1, {"doc_id": "moon.md", "text": DOC, "title": "Moon"}), (2, {"doc_id": "empty.md", "text": "  "})]
    calls = list(qa_calls(rows, spec, "doc_id"))
    assert [c.seed_id for c in calls] == ["moon.md"] * 3  # the empty document makes no calls
    assert len({c.span for c in calls}) == 3 and len({c.seed for c in calls}) == 3
    for c in calls:
        assert c.span is not None and DOC[c.span[0] : c.span[1]] == c.passage == c.values["passage"]
    again = list(qa_calls(rows, spec, "doc_id"))
    assert [(c.span, c.seed) for c in again] == [(c.span, c.seed) for c in calls]
    row = build_row(spec, calls[0], {"question": "How often?", "answer": "every 27 days"}, 0, None)
    assert tuple(row) == QA_COLUMNS and row["doc_id"] == "moon.md" and row["relevance"] == 1
    if "every 27 days" in (calls[0].passage or ""):
        assert DOC[row["answer_start"] : row["answer_start"] + 13] == "every 27 days"


def test_paraphrase_and_classify_plans() -> None:
    spec = parse_synth_spec({"task": "paraphrase", "source": "d", "into": "t", "model": "m", "n": 2})
    rows = [(1, {"id": "a", "text": "Hello there.", "label": "greet"}), (2, {"id": "b", "text": None})]
    calls = list(paraphrase_calls(rows, spec, "id"))
    assert [(c.seed_id, c.candidate) for c in calls] == [("a", 0), ("a", 1)]
    assert calls[0].seeds == ("Hello there.",) and calls[0].base == {"label": "greet", "paraphrase_of": "a"}
    row = build_row(spec, calls[0], {"text": "Hi!"}, 0, "id")
    assert row["text"] == "Hi!" and row["paraphrase_of"] == "a" and row["label"] == "greet" and row["id"] != "a"
    cspec = parse_synth_spec({"task": "classify", "source": "d", "into": "t", "model": "m", "n": 2,
                              "label_column": "label", "examples_per_label": 2})  # fmt: skip
    by_label = group_by_label([{"text": f"t{i}", "label": "pos" if i % 2 else "neg"} for i in range(10)], cspec)
    assert list(by_label) == ["neg", "pos"] and len(by_label["pos"]) == 5
    ccalls = list(classify_calls(by_label, cspec))
    assert [c.seed_id for c in ccalls] == ["neg", "neg", "pos", "pos"]
    assert all(len(c.values["examples"]) == 2 and set(c.seeds) <= set(by_label[c.seed_id]) for c in ccalls)
    assert build_row(cspec, ccalls[0], {"text": "new"}, 0, None)["label"] == "neg"
    assert identity_text("custom", {"b": "two", "a": "one", "n": 3}, None) == "one\ntwo"
    assert identity_text("qa", QA, ["question", "answer"]) == f"{QA['question']}\n{QA['answer']}"
