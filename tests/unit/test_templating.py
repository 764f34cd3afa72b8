"""Prompt templates: schema, rendering, includes, inference and optional variables."""

from __future__ import annotations

from typing import Any

import pytest

from rippleops.domain.templating import (
    check_syntax,
    find_includes,
    infer_variables,
    normalize_messages,
    normalize_variables,
    render,
)
from rippleops.errors import InvalidError

HISTORY = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!", "name": "bot"}]


def text(template: str, **values: Any) -> Any:
    return render("text", template=template, values=values)


# -- rendering ----------------------------------------------------------------------------------------------


def test_text_renders_and_keeps_trailing_newline() -> None:
    assert (
        text(
            "Answer {{ question }} from:\n{% for d in docs %}- {{ d }}\n{% endfor %}", question="why?", docs=["a", "b"]
        )
        == "Answer why? from:\n- a\n- b\n"
    )
    assert text("{{ x }}\n", x=1) == "1\n"


def test_chat_renders_messages_and_fills_placeholders_with_history() -> None:
    messages = [
        {"role": "system", "content": "Be {{ tone }}.", "name": "rules"},
        {"placeholder": "history"},
        {"role": "user", "content": "{{ question }}"},
    ]
    out = render("chat", messages=messages, values={"tone": "brief", "history": HISTORY, "question": "Why?"})
    assert out == [
        {"role": "system", "content": "Be brief.", "name": "rules"},
        *HISTORY,
        {"role": "user", "content": "Why?"},
    ]


def test_placeholder_history_is_validated_and_not_rendered_as_a_template() -> None:
    messages = [{"placeholder": "history"}]
    assert render("chat", messages=messages, values={"history": [{"role": "user", "content": "{{ x }}"}]}) == [
        {"role": "user", "content": "{{ x }}"}
    ]
    with pytest.raises(InvalidError, match=r"history\[0\] has role 'wizard'"):
        render("chat", messages=messages, values={"history": [{"role": "wizard", "content": "hi"}]})
    with pytest.raises(InvalidError, match="'history' must be a list of messages"):
        render("chat", messages=messages, values={"history": "hi"})


def test_defaults_fill_in_and_optional_variables_are_none() -> None:
    schema = normalize_variables({"name": None, "greeting": {"default": "Hello"}, "title": {"required": False}})
    template = "{{ greeting }} {% if title %}{{ title }} {% endif %}{{ name }}"
    assert render("text", template=template, variables=schema, values={"name": "Ada"}) == "Hello Ada"
    assert render("text", template=template, variables=schema, values={"name": "Ada", "title": "Dr"}) == "Hello Dr Ada"


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(InvalidError) as err:
        text("{{ question }} {{ context }} {{ style }}", style="short")
    assert "missing variables: context, question" in err.value.message
    assert "--var name=value" in err.value.message


def test_unknown_variables_are_named_with_the_known_ones() -> None:
    with pytest.raises(InvalidError) as err:
        text("{{ question }}", question="q", questoin="typo", extra=1)
    assert "unknown variables: extra, questoin" in err.value.message
    assert "known variables: question" in err.value.message


def test_strings_are_coerced_to_declared_types() -> None:
    schema = normalize_variables(
        {"n": {"type": "integer"}, "x": {"type": "number"}, "flag": {"type": "boolean"}, "tags": {"type": "array"}}
    )
    template = "{{ n + 1 }} {{ x * 2 }} {{ 'yes' if flag else 'no' }} {{ tags|join(',') }}"
    values: dict[str, object] = {"n": "41", "x": "1.25", "flag": "false", "tags": '["a", "b"]'}
    assert render("text", template=template, variables=schema, values=values) == "42 2.5 no a,b"


@pytest.mark.parametrize(
    ("vtype", "value"),
    [
        ("integer", "forty"),
        ("integer", 1.5),
        ("number", "nan"),
        ("boolean", "maybe"),
        ("string", 3),
        ("object", [1]),
        ("messages", [{"role": "user"}]),
    ],
)
def test_values_of_the_wrong_type_are_refused(vtype: str, value: object) -> None:
    schema = normalize_variables({"v": {"type": vtype}})
    with pytest.raises(InvalidError, match=r"'v'|v\[0\]"):
        render("text", template="{{ v }}", variables=schema, values={"v": value})


# -- schema and messages --------------------------------------------------------------------------------------


def test_normalize_variables_forms() -> None:
    assert normalize_variables(None) == {}
    assert normalize_variables(["a", "b"]) == {
        "a": {"type": "any", "required": True},
        "b": {"type": "any", "required": True},
    }
    assert normalize_variables({"q": "the question", "n": {"type": "integer", "default": "3"}}) == {
        "q": {"type": "any", "required": True, "description": "the question"},
        "n": {"type": "integer", "required": False, "default": 3},
    }
    canonical = normalize_variables({"n": {"type": "integer", "default": 3, "description": "how many"}})
    assert normalize_variables(canonical) == canonical


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (["1bad"], "not a valid variable name"),
        (["a", "a"], "listed twice"),
        ({"for": None}, "not a valid"),
        ({"a": {"type": "text"}}, "types: string"),
        ({"a": {"kind": "x"}}, "type, description, required"),
        ({"a": {"required": "yes"}}, "true or false"),
        ("a", "list of names"),
        ({"n": {"type": "integer", "default": "x"}}, "'n'"),
    ],
)
def test_normalize_variables_refuses_bad_schemas(raw: object, problem: str) -> None:
    with pytest.raises(InvalidError, match=problem):
        normalize_variables(raw)


def test_normalize_messages() -> None:
    assert normalize_messages([{"role": "developer", "content": "x", "name": "n"}, {"placeholder": "h"}]) == [
        {"role": "developer", "content": "x", "name": "n"},
        {"placeholder": "h"},
    ]
    for bad, problem in [
        ([], "non-empty|list of messages"),
        ([{"role": "user", "content": "ok"}, {"role": "boss", "content": "x"}], "message 1 has role 'boss'"),
        ([{"role": "user", "content": 3}], "message 0: content"),
        ([{"role": "user", "content": "x", "extra": 1}], "message 0 has unknown keys extra"),
        ([{"placeholder": "h", "role": "user"}], "message 0 is a placeholder"),
        ([{"placeholder": "not valid"}], "message 0 placeholder"),
        (["hi"], "message 0 is a str"),
    ]:
        with pytest.raises(InvalidError, match=problem):
            normalize_messages(bad)


# -- syntax, includes, inference ------------------------------------------------------------------------------


def test_syntax_errors_name_the_message_and_line() -> None:
    check_syntax("text", "{{ ok }}", None)
    with pytest.raises(InvalidError, match=r"template line 3: .*endfor"):
        check_syntax("text", "a\nb\n{% for x in y %}", None)
    messages = [{"role": "system", "content": "fine"}, {"role": "user", "content": "x\n{{ broken }"}]
    with pytest.raises(InvalidError, match=r"message 1 line 2: unexpected '}'"):
        check_syntax("chat", None, messages)
    with pytest.raises(InvalidError, match="template line 1"):
        render("text", template="{% if %}")
    with pytest.raises(InvalidError, match="kinds: text, chat"):
        check_syntax("json", "x", None)
    with pytest.raises(InvalidError, match="drop the template"):
        check_syntax("chat", "x", [{"role": "user", "content": "x"}])


def test_find_includes_lists_literal_names_and_refuses_dynamic_ones() -> None:
    template = '{% include "prompt/b@production" %}{% import "prompt/m" as m %}{% include ["prompt/a", "prompt/m"] %}'
    assert find_includes("text", template, None) == ["prompt/a", "prompt/b@production", "prompt/m"]
    with pytest.raises(InvalidError, match="include names must be literal references"):
        find_includes("text", "{% include name %}", None)
    with pytest.raises(InvalidError, match="message 0: include names must be literal"):
        find_includes("chat", None, [{"role": "user", "content": "{% include 'prompt/' ~ x %}"}])


INCLUDES = {
    "prompt/outer": "Outer {{ a }} {% include 'prompt/inner@production' %}",
    "prompt/inner@production": "Inner {{ b }}",
}


def test_includes_render_from_the_given_sources_only_including_nested_ones() -> None:
    out = render(
        "text", template="{% include 'prompt/outer' %} {{ c }}", includes=INCLUDES, values={"a": 1, "b": 2, "c": 3}
    )
    assert out == "Outer 1 Inner 2 3"
    macros = {"base": "<{% block body %}{% endblock %}>", "m": "{% macro shout(s) %}{{ s|upper }}!{% endmacro %}"}
    template = "{% extends 'base' %}{% import 'm' as m %}{% block body %}{{ m.shout(word) }}{% endblock %}"
    assert render("text", template=template, includes=macros, values={"word": "hi"}) == "<HI!>"
    with pytest.raises(
        InvalidError, match="include 'prompt/gone' was not given; includes given: prompt/inner@production"
    ):
        render("text", template="{% include 'prompt/gone' %}", includes=INCLUDES)
    with pytest.raises(InvalidError, match="include 'prompt/bad' line 1"):
        render("text", template="{% include 'prompt/bad' %}", includes={"prompt/bad": "{{ x "})


def test_infer_variables() -> None:
    assert infer_variables(
        "text", "{% set n = 2 %}{% for d in docs %}{{ d }}{{ n }}{% endfor %}{{ range(3)|list }}", None
    ) == {"docs"}
    messages = [{"role": "system", "content": "{{ tone }}"}, {"placeholder": "history"}]
    assert infer_variables("chat", None, messages) == {"tone", "history"}
    assert infer_variables("text", "{% include 'prompt/outer' %}{{ c }}", None, INCLUDES) == {"a", "b", "c"}
    loop = {"x": "{% include 'y' %}{{ p }}", "y": "{% include 'x' %}{{ q }}"}
    assert infer_variables("text", "{% include 'x' %}", None, loop) == {"p", "q"}


# -- optional variables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "Be {{ tone | default('kind') }}.",
        "Be {{ tone | d('kind') }}.",
        "Be {{ tone | default('kind', true) }}.",
        "Be {% if tone is defined %}{{ tone }}{% else %}kind{% endif %}.",
        "Be {% if tone is undefined %}kind{% else %}{{ tone }}{% endif %}.",
        "Be {{ tone if tone is defined else 'kind' }}.",
    ],
)
def test_inferred_variables_with_a_fallback_are_optional(template: str) -> None:
    assert render("text", template=template, values={}) == "Be kind."
    assert render("text", template=template) == "Be kind."
    assert text(template, tone="brief") == "Be brief."
    assert infer_variables("text", template, None) == {"tone"}


def test_a_variable_also_used_bare_stays_required() -> None:
    for template in [
        "{{ tone | default('kind') }} {{ tone }}",
        "{{ tone|upper|default('x') }}",
        "{{ x | default(tone) }}",
    ]:
        with pytest.raises(InvalidError, match="missing variables: tone"):
            render("text", template=template, values={})
    with pytest.raises(InvalidError, match="missing variables: tone"):  # bare in one message, a fallback in another
        render(
            "chat",
            messages=[{"role": "system", "content": "{{ tone|d('kind') }}"}, {"role": "user", "content": "{{ tone }}"}],
        )
    includes = {"prompt/rules": "Be {{ tone }}."}
    with pytest.raises(InvalidError, match="missing variables: tone"):  # bare in an include
        render("text", template="{% include 'prompt/rules' %} {{ tone|default('kind') }}", includes=includes)
    assert render("text", template="{{ a|default('x') }}{{ b }}", values={"b": "y"}) == "xy"
    with pytest.raises(InvalidError, match="missing variables: b;"):
        render("text", template="{{ a|default('x') }}{{ b }}")


def test_declared_optional_variables_without_a_default_are_undefined() -> None:
    schema = normalize_variables({"tone": {"required": False}, "title": {"required": False}, "n": {"default": 2}})
    template = (
        "Be {{ tone | default('kind') }}{% if title %}, {{ title }}{% endif %} x{{ n | default(9) }}[{{ title }}]"
    )
    assert render("text", template=template, variables=schema, values={}) == "Be kind x2[]"
    assert render("text", template=template, variables=schema, values={"tone": "brief", "title": "Dr"}) == (
        "Be brief, Dr x2[Dr]"
    )
    tests = "{{ title is defined }} {{ title is undefined }} {{ title is none }} {{ title|length }}"
    assert render("text", template=tests, variables=schema) == "False True False 0"
    with pytest.raises(InvalidError, match="'title' is undefined; pass it as a variable"):
        render("text", template="{{ title.upper() }}", variables=schema)
    history = normalize_variables({"history": {"type": "messages", "required": False}})
    assert render("chat", messages=[{"placeholder": "history"}], variables=history) == []


def test_an_explicit_none_value_or_default_is_defined() -> None:
    schema = normalize_variables({"tone": {"default": None}})
    assert render("text", template="{{ tone | default('kind') }}", variables=schema) == "None"
    assert render("text", template="{{ tone | default('kind', true) }}", variables=schema) == "kind"
    assert text("{{ tone | default('kind') }}", tone=None) == "None"
