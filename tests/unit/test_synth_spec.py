"""Synth specs (pure): validation with errors that name the field, output schemas checked by
jsonschema, the rules in effect per task, and the seeds calls derive from the job's seed."""

from __future__ import annotations

import doctest
from types import ModuleType
from typing import Any

import pytest

from rippleops.domain import synth, synth_dedupe, synth_output
from rippleops.domain.synth import (
    DEFAULT_SCHEMAS,
    call_seed,
    check_output_schema,
    effective_rules,
    grammar_schema,
    parse_synth_spec,
    parse_synth_spec_text,
    row_id,
)
from rippleops.errors import InvalidError

BASE = {"task": "qa", "source": "dataset/docs", "into": "docs-qa", "model": "model/local-smollm"}


def spec(**over: Any) -> dict[str, Any]:
    return {**BASE, **over}


def test_minimal_spec_fills_defaults_and_normalises_refs() -> None:
    s = parse_synth_spec({**BASE, "source": "docs@production", "model": "local-smollm:2", "into": "dataset/docs-qa"})
    assert (s.source, s.model, s.into, s.prompt) == ("dataset/docs@production", "model/local-smollm:2", "docs-qa", None)
    assert (s.n, s.params.seed, s.params.temperature, s.constrained) == (1, 0, 0.7, "auto")
    assert s.dedupe.against == ["batch", "source", "target"]
    assert "message" not in s.identity() and s.identity()["task"] == "qa"


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"task": "summarise"}, "unknown task 'summarise'; tasks: qa, paraphrase, classify, custom"),
        ({"colour": "red"}, "unknown fields: colour"),
        ({"n": 0}, r"n: Input should be greater than or equal to 1"),
        ({"params": {"temperature": 3}}, r"params\.temperature"),
        ({"params": {"top_k": 3}}, r"params\.top_k: Extra inputs"),
        ({"into": "docs-qa:2"}, "names a version"),
        ({"source": "prompt/x"}, "is a prompt, but a dataset is expected"),
        ({"task": "classify"}, "task classify needs `label_column`"),
        ({"task": "custom"}, "task custom needs `prompt`"),
        ({"rules": {"match": {"question": "(["}}}, r"rules\.match: .*not a regular expression"),
        ({"rules": {"min_length": {"question": -1}}}, "at least 0"),
        ({"dedupe": {"against": ["everything"]}}, r"dedupe\.against"),
        ({"output_schema": {"type": "objekt"}}, "output_schema is not a valid JSON schema"),
        ({"output_schema": {"type": "string"}}, "must describe a JSON object"),
        (
            {"output_schema": {"properties": {"a": {"minLength": "x"}}}},
            r"not a valid JSON schema: .* \(at properties/a/minLength\)",
        ),
    ],
)
def test_bad_specs_name_the_problem(over: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidError, match=match):
        parse_synth_spec(spec(**over))


def test_spec_text_reports_yaml_errors_with_their_place() -> None:
    with pytest.raises(InvalidError, match="not valid YAML at line 3, column 1"):
        parse_synth_spec_text("task: qa\nsource: [oops\n")
    with pytest.raises(InvalidError, match="must be a mapping"):
        parse_synth_spec_text("- qa\n")
    assert parse_synth_spec_text("task: qa\nsource: docs\ninto: q\nmodel: m\nn: 3\n").n == 3


def test_check_output_schema_takes_any_draft() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["q"]}
    assert check_output_schema(schema) == schema
    with pytest.raises(InvalidError, match="JSON schema object, not list"):
        check_output_schema([1])


def test_rules_take_task_defaults_and_merge_per_field() -> None:
    qa = effective_rules(parse_synth_spec(spec(rules={"min_length": {"question": 20}})), DEFAULT_SCHEMAS["qa"])
    assert qa.required == ["question", "answer"]
    assert qa.min_length == {"question": 20, "answer": 1} and qa.max_length["answer"] == 500
    assert qa.match == {"question": r"\?\s*$"} and qa.answer_overlap == 0.5 and qa.question_overlap == 0.3
    para = effective_rules(parse_synth_spec(spec(task="paraphrase")), DEFAULT_SCHEMAS["paraphrase"])
    assert (para.max_seed_similarity, para.min_seed_similarity, para.answer_overlap) == (0.9, 0.15, 0.0)
    custom = parse_synth_spec(spec(task="custom", prompt="prompt/mine", rules={"answer_overlap": 0}))
    rules = effective_rules(custom, {"type": "object", "required": ["title", "body"]})
    assert rules.required == ["title", "body"] and rules.match == {} and rules.max_seed_similarity is None


def test_call_seeds_are_stable_distinct_and_in_range() -> None:
    seeds = {call_seed(7, "qa", f"doc{i}", k) for i in range(50) for k in range(4)}
    assert len(seeds) == 200 and all(0 <= s < 2**32 for s in seeds)
    assert call_seed(7, "qa", "a", 0) == call_seed(7, "qa", "a", 0)
    assert call_seed(7, "qa", "a", 0) != call_seed(8, "qa", "a", 0)
    assert call_seed(0, "qa", "a", 0) == 0x0D7E3672  # pinned: a change here changes every run's rows
    assert row_id("qa", "a", 0) == row_id("qa", "a", 0) and len(row_id("x")) == 16


def test_grammar_schema_drops_slow_limits_and_orders_by_required() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "maxLength": 200}, "question": {"type": "string", "minLength": 1},
                       "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}}},
        "required": ["question", "answer"],
    }  # fmt: skip
    out = grammar_schema(schema)
    assert list(out["properties"]) == ["question", "answer", "tags"]
    assert out["properties"]["answer"] == {"type": "string"}
    assert out["properties"]["tags"]["items"] == {"type": "string"}
    assert schema["properties"]["answer"]["maxLength"] == 200  # the input is left alone


@pytest.mark.parametrize("module", [synth, synth_output, synth_dedupe], ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
