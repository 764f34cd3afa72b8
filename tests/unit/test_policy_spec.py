"""The policy spec parser: defaults, and every refusal naming where, what and the way out."""

from __future__ import annotations

from typing import Any

import pytest

from rippleops.domain.guards import strongest
from rippleops.domain.policies import TYPES, parse_policy
from rippleops.errors import InvalidError


def test_defaults_are_filled_in() -> None:
    spec = parse_policy({"input": [{"type": "injection"}], "output": [{"type": "length", "max_chars": 10}]})
    assert spec.content() == {
        "input": [{"type": "injection", "action": "block", "threshold": 0.8, "rules": True, "similarity": True}],
        "output": [{"type": "length", "action": "fix", "max_chars": 10}],
        "safe_answer": "I can't help with that.",
        "on_error": "closed",
        "max_reasks": 1,
        "stream_window": 64,
    }
    assert spec.uses_embeddings
    assert not parse_policy({"input": [{"type": "injection", "similarity": False}]}).uses_embeddings
    named = parse_policy({"input": [{"type": "regex", "pattern": "x", "name": "no-x"}], "embedder": "minilm@prod"})
    assert named.content()["input"][0]["name"] == "no-x" and named.embedder == "embedder/minilm@prod"


def test_strongest_decision() -> None:
    assert strongest([]) == "allow"
    assert strongest(["warn", "reask", "redact"]) == "reask"
    assert strongest(["error", "block"]) == "block"


BAD: list[tuple[Any, str]] = [
    ("input: []", r"policy must be a mapping with `input:` and/or `output:` lists of validators, got str"),
    ({"inputs": []}, r"policy has unknown fields: inputs; allowed: input, output, safe_answer"),
    ({}, r"policy has no validators; give `input:` and/or `output:` lists"),
    ({"input": {"type": "pii"}}, r"policy: input must be a list of validators"),
    ({"input": ["pii"]}, r"policy: input\[0\] must be a mapping such as \{type: pii, action: redact\}"),
    ({"input": [{"type": "toxicity"}]}, r"input\[0\]: unknown validator type 'toxicity'; known types: deny \(whole"),
    (
        {"input": [{"type": "topic", "allowed": ["x"], "action": "redact"}]},
        r"input\[0\] \(topic\) cannot redact; a topic validator can: block, warn, reask",
    ),
    (
        {"input": [{"type": "pii", "action": "explode"}]},
        r"input\[0\] \(pii\): unknown action 'explode'; a pii validator can: redact, block, warn",
    ),
    (
        {"input": [{"type": "regex", "pattern": "x", "action": "reask"}]},
        r"input\[0\] \(regex\): reask is for outputs only \(the model writes again\); on input use block or warn",
    ),
    (
        {"input": [{"type": "json_schema"}]},
        r"input\[0\] \(json_schema\): a json_schema validator checks outputs only; move it to `output:`",
    ),
    ({"input": [{"type": "regex"}]}, r"input\[0\] \(regex\) needs `pattern`"),
    (
        {"input": [{"type": "regex", "pattern": "(unclosed"}]},
        r"input\[0\] \(regex\): pattern is not a valid regular expression: missing \)",
    ),
    ({"input": [{"type": "regex", "pattern": "a" * 1001}]}, r"pattern is 1001 characters; the limit is 1000"),
    (
        {"input": [{"type": "regex", "pattern": "x", "flags": "i"}]},
        r"input\[0\] \(regex\) has unknown fields: flags; a regex validator takes: type, action, name, pattern, ignore_case",
    ),
    ({"input": [{"type": "deny", "words": "secret"}]}, r"input\[0\] \(deny\): words must be a list of strings"),
    ({"input": [{"type": "deny", "words": ["ok", ""]}]}, r"words must hold non-empty strings only"),
    ({"input": [{"type": "topic"}]}, r"input\[0\] \(topic\) needs `allowed` and/or `blocked` topic descriptions"),
    (
        {"input": [{"type": "injection", "threshold": 2}]},
        r"input\[0\] \(injection\): threshold must be a number from 0 to 1, not 2",
    ),
    ({"input": [{"type": "injection", "rules": False, "similarity": False}]}, r"rules and similarity are both off"),
    ({"output": [{"type": "length"}]}, r"output\[0\] \(length\) needs max_chars and/or min_chars"),
    ({"output": [{"type": "length", "min_chars": 9, "max_chars": 3}]}, r"min_chars 9 is more than max_chars 3"),
    ({"output": [{"type": "length", "min_chars": 9, "action": "fix"}]}, r"fix truncates to max_chars"),
    (
        {"output": [{"type": "length", "max_chars": "ten"}]},
        r"max_chars must be a whole number from 1 to 10000000, not 'ten'",
    ),
    ({"output": [{"type": "format"}]}, r"output\[0\] \(format\) takes exactly one of `json: true`"),
    (
        {"output": [{"type": "format", "pattern": "x", "action": "fix"}]},
        r"fix strips the text to its JSON value, so it needs `json: true`",
    ),
    (
        {"output": [{"type": "json_schema", "schema": {"type": "objekt"}}]},
        r"output\[0\] \(json_schema\): schema is not a valid JSON schema at type: 'objekt' is not valid",
    ),
    ({"output": [{"type": "json_schema", "schema": "object"}]}, r"schema must be a JSON schema object"),
    ({"input": [{"type": "pii", "name": "has space"}]}, r"name must be 1-64 letters, digits or _.:-"),
    (
        {"input": [{"type": "pii"}], "on_error": "ignore"},
        r"on_error must be closed \(a validator that raises blocks\) or open",
    ),
    ({"input": [{"type": "pii"}], "safe_answer": ""}, r"safe_answer must be a non-empty string"),
    ({"input": [{"type": "pii"}], "max_reasks": 9}, r"max_reasks must be a whole number from 0 to 5, not 9"),
    ({"input": [{"type": "pii"}], "stream_window": -1}, r"stream_window must be a whole number from 0 to 8192"),
    ({"input": [{"type": "pii"}], "embedder": "index/docs"}, r"policy: embedder: .*embedder"),
    ({"input": [{"type": "pii"}] * 51}, r"input has 51 validators; the limit is 50"),
]


@pytest.mark.parametrize(("spec", "message"), BAD)
def test_bad_specs_name_the_problem(spec: Any, message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        parse_policy(spec)


def test_unknown_type_lists_every_known_type() -> None:
    with pytest.raises(InvalidError) as info:
        parse_policy({"output": [{"type": "nsfw"}]})
    for known in TYPES:
        assert f"{known} (" in info.value.message
