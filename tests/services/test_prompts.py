"""Prompts through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from rippleops.domain.access import Principal
from rippleops.domain.prompts import parse_spec, parse_spec_text
from rippleops.errors import InvalidError, NotFoundError
from rippleops.services import Services

P = "default"


def create(services: Services, who: Principal, name: str, **spec: object):  # type: ignore[no-untyped-def]
    return services.prompts.create(who, P, name, parse_spec(spec))


def test_text_and_chat_prompts_render(services: Services, admin: Principal) -> None:
    create(services, admin, "answer", template="Answer briefly: {{ question }}", params={"temperature": 0.2})
    assert services.prompts.render(admin, P, "answer", {"question": "why?"}) == "Answer briefly: why?"
    create(
        services,
        admin,
        "chat",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"placeholder": "history"},
            {"role": "user", "content": "{{ question }}"},
        ],
    )
    out = services.prompts.render(
        admin, P, "chat", {"question": "and now?", "history": [{"role": "user", "content": "hi"}]}
    )
    assert out == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "user", "content": "and now?"},
    ]


def test_missing_and_unknown_variables_are_named(services: Services, admin: Principal) -> None:
    create(services, admin, "answer", template="{{ question }} {{ context }}")
    with pytest.raises(InvalidError, match="context, question"):
        services.prompts.render(admin, P, "answer", {})
    with pytest.raises(InvalidError, match="colour"):
        services.prompts.render(admin, P, "answer", {"question": 1, "context": 2, "colour": 3})


def test_include_is_pinned_and_recorded_as_lineage(services: Services, admin: Principal) -> None:
    create(services, admin, "system", template="You are terse.")
    services.labels.set(admin, P, "prompt/system", "production", 1)
    ans = create(services, admin, "answer", template='{% include "prompt/system@production" %} Q: {{ q }}')
    assert [(i.ref, i.resolved, i.role) for i in ans.inputs] == [
        ("prompt/system@production", "prompt/system:1", "include")
    ]
    create(services, admin, "system", template="You are verbose.")
    services.labels.set(admin, P, "prompt/system", "production", 2)
    # a version is immutable: it renders with the include it was built from
    assert services.prompts.render(admin, P, "answer:1", {"q": "x"}) == "You are terse. Q: x"
    down = services.lineage.walk(admin, P, "prompt/system:1", direction="down")
    assert [n.ref for n in down.downstream] == ["prompt/answer:1"]
    with pytest.raises(NotFoundError, match="no label 'staging'"):
        create(services, admin, "other", template='{% include "prompt/system@staging" %}')


def test_only_text_prompts_can_be_included(services: Services, admin: Principal) -> None:
    create(services, admin, "chat", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(InvalidError, match="only text prompts"):
        create(services, admin, "x", template='{% include "prompt/chat" %}')


def test_declared_variables_must_cover_the_template(services: Services, admin: Principal) -> None:
    with pytest.raises(InvalidError, match="not declared under `variables:`: context"):
        create(services, admin, "answer", template="{{ question }} {{ context }}", variables=["question"])


def test_template_errors_and_escapes(services: Services, admin: Principal) -> None:
    with pytest.raises(InvalidError, match="line 2"):
        create(services, admin, "broken", template="ok\n{% if %}")
    create(services, admin, "evil", template="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(InvalidError):
        services.prompts.render(admin, P, "evil", {})
    create(services, admin, "big", template="{{ 'a' * 10**9 }}")
    with pytest.raises(InvalidError):
        services.prompts.render(admin, P, "big", {})


def test_diff_lists_changes(services: Services, admin: Principal) -> None:
    create(services, admin, "answer", template="Answer: {{ q }}", params={"temperature": 0.2})
    create(services, admin, "answer", template="Answer briefly: {{ q }}", params={"temperature": 0.5})
    d = services.prompts.diff(admin, P, "answer:1", "answer:2")
    assert "-Answer: {{ q }}" in d["diff"] and "+Answer briefly: {{ q }}" in d["diff"]
    assert d["changes"] == [{"field": "params", "from": {"temperature": 0.2}, "to": {"temperature": 0.5}}]
    assert services.prompts.diff(admin, P, "answer:2", "answer")["same"] is True


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("template: [unclosed", "not valid YAML at line 1"),
        ("- just a list", "must be a mapping"),
        ("template: a\nmessages: []", "exactly one of"),
        ("templte: a", "unknown fields: templte"),
        ("template: a\nparams: {temperature: 5}", "params.temperature must be between"),
        ("messages: [{role: wizard, content: hi}]", "wizard"),
        ("template: a\nmodel: 'model/Bad Name'", "not valid"),
    ],
)
def test_malformed_prompt_files(text: str, match: str) -> None:
    with pytest.raises(InvalidError, match=match):
        parse_spec_text(text).content()


def test_metadata_is_not_hashed(services: Services, admin: Principal) -> None:
    a = create(services, admin, "answer", template="x", tags=["a"], message="one")
    b = create(services, admin, "answer", template="x", tags=["b"], message="two")
    assert a.hash == b.hash and b.version == 1 and b.created is False
