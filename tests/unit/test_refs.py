from __future__ import annotations

import pytest

from rippleops.domain.hashing import canonical_json, content_hash
from rippleops.domain.refs import Ref, make_ref, parse_ref
from rippleops.errors import InvalidError


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("prompt/answer", None, Ref("prompt", "answer")),
        ("prompt/answer@production", None, Ref("prompt", "answer", label="production")),
        ("prompt/answer:3", None, Ref("prompt", "answer", version=3)),
        ("answer@staging", "prompt", Ref("prompt", "answer", label="staging")),
        ("answer", "prompt", Ref("prompt", "answer")),
        ("prompt/answer@latest", None, Ref("prompt", "answer")),
        ("index/docs-minilm.v2:1", None, Ref("index", "docs-minilm.v2", version=1)),
    ],
)
def test_parse(text: str, kind: str | None, expected: Ref) -> None:
    assert parse_ref(text, kind) == expected


@pytest.mark.parametrize(
    ("text", "kind", "match"),
    [
        ("", None, "empty"),
        ("answer", None, "has no kind"),
        ("widget/answer", None, "unknown asset kind"),
        ("prompt/Answer", None, "not valid"),
        ("prompt/answer:0", None, "positive number"),
        ("prompt/answer:x", None, "positive number"),
        ("prompt/answer@3", None, "is a number"),
        ("prompt/a/b", None, "malformed"),
        ("model/x", "prompt", "is a model"),
        ("prompt/" + "a" * 101, None, "limit is 100"),
    ],
)
def test_parse_errors_name_the_problem(text: str, kind: str | None, match: str) -> None:
    with pytest.raises(InvalidError, match=match):
        parse_ref(text, kind)


def test_make_ref_and_text() -> None:
    assert make_ref("prompt", "answer", label="production").text == "prompt/answer@production"
    assert make_ref("prompt", "answer:2").text == "prompt/answer:2"
    with pytest.raises(InvalidError, match="not both"):
        make_ref("prompt", "answer", label="x", version=1)
    with pytest.raises(InvalidError, match="already carries"):
        make_ref("prompt", "answer@x", version=1)


def test_content_hash_is_canonical() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert content_hash({"b": 1, "a": [1, 2]}) == content_hash({"a": [1, 2], "b": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 1.5})
    assert content_hash({"a": 1}).startswith("sha256:") and len(content_hash({})) == 71
