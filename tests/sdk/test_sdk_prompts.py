"""The SDK's prompt collection, identical on the embedded and the remote transport."""

from __future__ import annotations

import pytest

from rippleops import Client, ConflictError, ForbiddenError, InvalidError, NotFoundError

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"placeholder": "history"},
    {"role": "user", "content": "{{ question }}"},
]


def test_create_get_render(rp: Client) -> None:
    p1 = rp.prompts.create("answer", template="Answer: {{ question }}", params={"temperature": 0.2}, message="one")
    assert (p1.ref, p1.version, p1.type, p1.created) == ("prompt/answer:1", 1, "text", True)
    p2 = rp.prompts.create("answer", messages=CHAT, tags=["support"], model="model/local-smollm@production")
    again = rp.prompts.create("answer", messages=CHAT, model="model/local-smollm@production")
    assert p2.version == 2 and again.version == 2 and again.created is False
    rp.prompts.label("answer", "production", 1)
    p = rp.prompts.get("answer", label="production")
    assert p.version == 1 and p.labels == ["production"] and p.params == {"temperature": 0.2}
    assert rp.prompts.get("answer@production").version == 1
    assert rp.prompts.get("answer", version=2).model == "model/local-smollm@production"
    assert rp.prompts.get("prompt/answer").labels == ["latest"]
    assert p.render(question="why?") == "Answer: why?"
    out = rp.prompts.render("answer", version=2, question="now?", history=[{"role": "assistant", "content": "hi"}])
    assert out == [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": "now?"},
    ]


def test_record_has_the_contract_fields(rp: Client) -> None:
    rec = rp.prompts.create("answer", template="{{ q }}").to_dict()
    for field in ("ref", "kind", "name", "version", "hash", "labels", "inputs", "created_at", "created_by", "template"):
        assert field in rec, field
    assert rec["kind"] == "prompt" and rec["created_by"] == "alice" and rec["hash"].startswith("sha256:")


def test_history_diff_and_rollback(rp: Client) -> None:
    rp.prompts.create("answer", template="Answer: {{ q }}")
    rp.prompts.create("answer", template="Answer briefly: {{ q }}")
    rp.prompts.label("answer", "production", 2)
    rp.prompts.label("answer", "production", 1)
    assert rp.prompts.get("answer@production", cache_ttl=0).version == 1
    assert [(e.from_version, e.to_version) for e in rp.prompts.history("answer")] == [(None, 2), (2, 1)]
    assert [v.version for v in rp.prompts.versions("answer")] == [1, 2]
    d = rp.prompts.diff("answer:1", "answer:2")
    assert "+Answer briefly: {{ q }}" in d["diff"] and not d["same"]
    rp.prompts.label("answer", "staging", 2)
    rp.prompts.unlabel("answer", "staging")
    with pytest.raises(NotFoundError, match="labels: production"):
        rp.prompts.get("answer@staging")


def test_includes_and_lineage(rp: Client) -> None:
    rp.prompts.create("system", template="You are terse.")
    rp.prompts.label("system", "production", 1)
    p = rp.prompts.create("answer", template='{% include "prompt/system@production" %} {{ q }}')
    assert p.includes == {"prompt/system@production": "You are terse."}
    assert p.render(q="go") == "You are terse. go"
    lin = rp.lineage("prompt/answer:1")
    assert [(n.ref, n.via) for n in lin.upstream] == [("prompt/system:1", "prompt/system@production")]


def test_errors_are_the_same_types(rp: Client) -> None:
    with pytest.raises(InvalidError, match="not valid"):
        rp.prompts.create("Bad Name", template="x")
    with pytest.raises(InvalidError, match="exactly one of"):
        rp.prompts.create("answer")
    with pytest.raises(InvalidError, match="line 1"):
        rp.prompts.create("answer", template="{% if %}")
    with pytest.raises(NotFoundError, match="does not exist"):
        rp.prompts.get("missing")
    rp.prompts.create("answer", template="{{ q }}")
    with pytest.raises(InvalidError, match="missing variables: q"):
        rp.prompts.get("answer").render()
    with pytest.raises(NotFoundError, match="no version 5"):
        rp.prompts.label("answer", "production", 5)
    with pytest.raises(InvalidError):
        rp.prompts.create("answer", template="x" * (rp.settings.max_payload_bytes + 10))


def test_roles_apply_on_both_transports(rp: Client) -> None:
    rp.prompts.create("answer", template="{{ q }}")
    rp.users.create("vera")
    rp.roles.grant("vera", "viewer")
    token = rp.tokens.create(user="vera").token
    assert token
    url = rp.transport.url if rp.is_remote else None
    vera = Client(url=url, token=token, settings=rp.settings)
    try:
        assert vera.prompts.get("answer").version == 1
        with pytest.raises(ForbiddenError, match="needs engineer"):
            vera.prompts.create("answer", template="new")
    finally:
        vera.close()
    with pytest.raises(ConflictError):
        rp.users.create("vera")
