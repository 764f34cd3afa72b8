"""App specs and requests (domain/apps.py): normalisation, references, and strict errors
that name the step index and the field."""

from __future__ import annotations

from typing import Any

import pytest

from rippleops.domain.app_requests import parse_request
from rippleops.domain.apps import parse_app_spec
from rippleops.domain.hashing import version_hash
from rippleops.errors import InvalidError

FULL: dict[str, Any] = {
    "description": "answers questions",
    "steps": [
        {"guard_input": "policy/support@production"},
        {"retrieve": {"index": "index/docs@production", "k": 3, "max_chars": 600}},
        {"tool": {"name": "status", "args": {"q": "{{ question }}"}}},
        {"render": {"prompt": "prompt/rag@production"}},
        {"generate": {"model": "model/local-smollm@production", "params": {"max_tokens": 64}}},
        {"guard_output": {"policy": "policy/support@production"}},
    ],
    "tools": [
        {"name": "add", "python": "mypkg.tools:add", "timeout_s": 2},
        {"name": "lookup", "entry_point": "lookup"},
        {"name": "status", "http": {"url": "http://127.0.0.1:9000/status", "method": "get"}, "timeout_s": 5},
    ],
    "tags": ["support"],
    "message": "first",
}


def test_a_full_spec_normalises_and_lists_its_references() -> None:
    spec = parse_app_spec(FULL)
    content = spec.content()
    assert content["steps"][0] == {"guard_input": {"policy": "policy/support@production"}}
    assert content["steps"][1] == {
        "retrieve": {"index": "index/docs@production", "k": 3, "mode": "hybrid", "max_chars": 600, "filters": {}}
    }
    assert content["steps"][2] == {"tool": {"name": "status", "args": {"q": "{{ question }}"}, "as": "status"}}
    assert content["tools"][1] == {"name": "lookup", "entry_point": "ripple.tools:lookup", "timeout_s": 10.0,
                                   "description": ""}  # fmt: skip
    assert content["tools"][2]["http"] == {"url": "http://127.0.0.1:9000/status", "method": "GET", "headers": {}}
    assert [(r.step, r.role, r.kind, r.ref) for r in spec.refs()] == [
        (0, "guard_input", "policy", "policy/support@production"),
        (1, "retrieve", "index", "index/docs@production"),
        (3, "render", "prompt", "prompt/rag@production"),
        (4, "generate", "model", "model/local-smollm@production"),
        (5, "guard_output", "policy", "policy/support@production"),
    ]
    assert [s.name for s in spec.steps][2] == "tool:status"
    assert (spec.description, spec.message, spec.tags) == ("answers questions", "first", ("support",))
    # metadata is not content; the short and long forms hash the same
    long = {**FULL, "description": "other", "steps": [{"guard_input": {"policy": "policy/support@production"}},
                                                      *FULL["steps"][1:]]}  # fmt: skip
    assert version_hash(parse_app_spec(long).content()) == version_hash(content)
    # the stored content parses back to the same content (an app version is compiled from it)
    assert parse_app_spec(content).content() == content


def test_an_agent_step() -> None:
    spec = parse_app_spec(
        {"steps": [{"agent": {"model": "model/m", "tools": ["add", "add"], "max_steps": 3}}],
         "tools": [{"name": "add", "python": "m:add"}]}
    )  # fmt: skip
    assert spec.content()["steps"] == [{"agent": {"model": "model/m", "tools": ["add"], "max_steps": 3, "params": {}}}]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("steps: []", "must be a mapping with `steps:`"),
        ({"steps": [], "x": 1}, "unknown fields: x; allowed: steps, tools"),
        ({"steps": []}, "`steps:` must be a non-empty list"),
        (
            {"steps": [{"retrieve": "index/d", "render": "prompt/p"}]},
            r"steps\[0\] must be a mapping with exactly one key",
        ),
        ({"steps": [{"fetch": {}}]}, r"steps\[0\]: unknown step kind 'fetch'"),
        (
            {"steps": [{"generate": {"model": "model/m", "temperature": 0}}]},
            r"steps\[0\] \(generate\) has unknown fields: temperature; allowed: model, params",
        ),
        (
            {"steps": [{"retrieve": {"index": "index/d", "k": 0}}, {"generate": "model/m"}]},
            r"steps\[0\] \(retrieve\): k must be a whole number from 1 to 100, not 0",
        ),
        (
            {"steps": [{"retrieve": {"index": "index/d", "mode": "fuzzy"}}, {"generate": "model/m"}]},
            r"steps\[0\] \(retrieve\): mode must be one of vector, bm25, hybrid",
        ),
        (
            {"steps": [{"retrieve": {"index": "prompt/d"}}, {"generate": "model/m"}]},
            r"steps\[0\] \(retrieve\): index: reference 'prompt/d' is a prompt, but a index is expected",
        ),
        ({"steps": [{"render": {}}, {"generate": "model/m"}]}, r"steps\[0\] \(render\): prompt is required"),
        ({"steps": [{"render": "prompt/p"}]}, "exactly one answering step .generate or agent.; it has 0"),
        ({"steps": [{"generate": "model/a"}, {"generate": "model/b"}]}, "it has 2"),
        (
            {"steps": [{"generate": "model/a"}, {"guard_input": "policy/p"}]},
            r"steps\[1\] \(guard_input\) must be the first step",
        ),
        (
            {"steps": [{"guard_output": "policy/p"}, {"generate": "model/a"}]},
            r"steps\[0\] \(guard_output\) must be the last step",
        ),
        (
            {"steps": [{"generate": "model/a"}, {"retrieve": "index/d"}]},
            r"steps\[1\] \(retrieve\) comes after the answering step",
        ),
        (
            {"steps": [{"render": "prompt/p"}, {"retrieve": "index/d"}, {"generate": "model/a"}]},
            r"steps\[1\] \(retrieve\) comes after steps\[0\] \(render\), so the prompt never sees",
        ),
        ({"steps": [{"render": "prompt/p"}, {"render": "prompt/q"}, {"generate": "model/a"}]}, "at most one render"),
        ({"steps": [{"generate": {}}]}, r"steps\[0\] \(generate\): model is required when no render step"),
        (
            {"steps": [{"tool": {"name": "nope"}}, {"generate": "model/a"}]},
            r"steps\[0\] \(tool\): name 'nope' is not a tool of this app; tools under `tools:`: none",
        ),
        (
            {
                "steps": [{"tool": {"name": "t", "as": "question"}}, {"generate": "model/a"}],
                "tools": [{"name": "t", "python": "m:f"}],
            },
            r"as 'question' must be a variable name",
        ),
        (
            {"steps": [{"agent": {"model": "model/a", "tools": ["x"]}}], "tools": [{"name": "t", "python": "m:f"}]},
            r"steps\[0\] \(agent\): tools x are not defined under `tools:` \(defined: t\)",
        ),
        (
            {
                "steps": [{"agent": {"model": "model/a", "tools": ["t"], "max_steps": 0}}],
                "tools": [{"name": "t", "python": "m:f"}],
            },
            r"max_steps must be a whole number from 1 to 50",
        ),
        (
            {"steps": [{"generate": "model/a"}], "tools": [{"name": "t", "python": "not a path"}]},
            r"tools\[0\] \(t\): python must be an import path module:function",
        ),
        (
            {"steps": [{"generate": "model/a"}], "tools": [{"name": "t", "python": "m:f", "http": {}}]},
            "needs exactly one of python",
        ),
        (
            {"steps": [{"generate": "model/a"}], "tools": [{"name": "t", "http": {"url": "ftp://x"}}]},
            r"http.url must start with http:// or https://",
        ),
        (
            {"steps": [{"generate": "model/a"}], "tools": [{"name": "t", "python": "m:f", "timeout_s": 0}]},
            r"timeout_s must be a number of seconds",
        ),
        (
            {
                "steps": [{"generate": "model/a"}],
                "tools": [{"name": "t", "python": "m:f"}, {"name": "t", "python": "m:g"}],
            },
            "a tool named 't' is defined twice",
        ),
    ],
)
def test_bad_specs_are_refused_naming_the_step_and_field(spec: Any, message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        parse_app_spec(spec)


def test_requests() -> None:
    r = parse_request({"input": "Hi?", "variables": {"tone": "dry"}, "params": {"max_tokens": 5},
                       "metadata": {"user_id": "u1"}})  # fmt: skip
    assert (r.question, r.history, r.variables, r.params, r.metadata) == (
        "Hi?", [], {"tone": "dry"}, {"max_tokens": 5}, {"user_id": "u1"}
    )  # fmt: skip
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}]
    assert parse_request({"messages": chat}).history == chat[:1]
    for bad, message in [
        ({}, "exactly one of"),
        ({"input": "a", "messages": []}, "exactly one of"),
        ({"input": "a", "stream": True}, "unknown fields: stream"),
        ({"input": 3}, '"input" must be a string'),
        ({"input": "  "}, "the question is empty"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "must be the user's turn"),
        ({"input": "a", "variables": {"chunks": []}}, '"variables" may not set chunks'),
        ({"input": "a", "params": [1]}, '"params" must be a mapping'),
    ]:
        with pytest.raises(InvalidError, match=message):
            parse_request(bad)
