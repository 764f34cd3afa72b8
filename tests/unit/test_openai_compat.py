"""The OpenAI chat-completions wire format: requests mapped onto app requests or refused,
and the completion, chunk and error bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from rippleops.domain import openai_compat as oa
from rippleops.errors import ForbiddenError, InvalidError, NotFoundError, UnauthenticatedError

USER = [{"role": "user", "content": "How do I roll back?"}]


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "support-bot", "messages": USER, **extra}


def test_model_names_an_app() -> None:
    assert oa.parse_request(body()).ref.text == "app/support-bot"
    assert oa.parse_request(body(model="support-bot@production")).ref.label == "production"
    assert oa.parse_request(body(model="app/support-bot:3")).ref.version == 3
    with pytest.raises(oa.BadRequest) as e:
        oa.parse_request(body(model="prompt/answer"))
    assert e.value.param == "model"
    with pytest.raises(oa.BadRequest, match="model is required"):
        oa.parse_request({"messages": USER})


def test_parameters_map_onto_the_app_request() -> None:
    req = oa.parse_request(
        body(temperature=0.2, top_p=0.9, max_tokens=32, stop="\n\n", seed=7, user="u-1", metadata={"session": "s"})
    )
    assert req.app_request() == {
        "messages": USER,
        "params": {"temperature": 0.2, "top_p": 0.9, "max_tokens": 32, "seed": 7, "stop": ["\n\n"]},
        "metadata": {"session": "s", "user": "u-1"},
    }
    # max_completion_tokens wins over the older max_tokens
    assert oa.parse_request(body(max_tokens=10, max_completion_tokens=20)).params == {"max_tokens": 20}
    assert oa.parse_request(body()).app_request() == {"messages": USER}


def test_messages_roles_and_text_parts() -> None:
    req = oa.parse_request(
        body(
            messages=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "And?", "name": "bob"},
            ]
        )
    )
    assert req.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "And?"},
    ]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, "messages[0].content"),
        ({"messages": [{"role": "system", "content": "only a system turn"}]}, "messages"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"seed": 1.5}, "seed"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
def test_what_cannot_be_honoured_is_refused_naming_the_field(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(oa.BadRequest) as e:
        oa.parse_request(body(**extra))
    assert e.value.param == param
    status, err = oa.error_of(e.value)
    assert status == 400
    assert err["error"]["type"] == "invalid_request_error"
    assert err["error"]["param"] == param


def test_neutral_values_of_refused_fields_pass() -> None:
    req = oa.parse_request(body(n=1, tools=[], logprobs=False, presence_penalty=0, response_format={"type": "text"}))
    assert req.params == {}
    req = oa.parse_request(body(stream=True, stream_options={"include_usage": True}, store=False))
    assert req.stream and req.include_usage


@dataclass
class _Usage:
    prompt_tokens: int = 12
    completion_tokens: int = 5
    total_tokens: int = 17


@dataclass
class _Run:
    app: str = "app/support-bot:3"
    output: str = "Move the label back."
    finish_reason: str = "stop"
    trace_id: str = "0af7651916cd43dd8448eb211c80319c"
    usage: _Usage = field(default_factory=_Usage)


def test_completion_body() -> None:
    out = oa.completion(_Run(), 1700000000)
    assert out["id"] == "chatcmpl-0af7651916cd43dd8448eb211c80319c"
    assert out["object"] == "chat.completion"
    assert out["model"] == "app/support-bot:3"
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Move the label back.", "refusal": None}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    assert oa.completion(_Run(finish_reason="blocked"), 0)["choices"][0]["finish_reason"] == "content_filter"
    assert oa.completion(_Run(finish_reason="length"), 0)["choices"][0]["finish_reason"] == "length"


def test_chunks_and_events() -> None:
    first = oa.chunk("chatcmpl-x", "app/a:1", 5, {"role": "assistant", "content": ""})
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"] == [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                 "finish_reason": None}]  # fmt: skip
    last = oa.chunk("chatcmpl-x", "app/a:1", 5, {}, "stop")
    assert last["choices"][0]["finish_reason"] == "stop"
    usage = oa.chunk("chatcmpl-x", "app/a:1", 5, None, usage_of={"prompt_tokens": 1})
    assert usage["choices"] == [] and usage["usage"] == {"prompt_tokens": 1}
    event = oa.sse({"a": "é"})
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert json.loads(event[6:]) == {"a": "é"}
    assert oa.DONE == b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (InvalidError("bad"), 400, "invalid_request_error", None),
        (NotFoundError("no app", details={"param": "model"}), 404, "invalid_request_error", "model_not_found"),
        (UnauthenticatedError("no token"), 401, "authentication_error", "invalid_api_key"),
        (ForbiddenError("viewer"), 403, "permission_error", None),
    ],
)
def test_errors_in_openai_shape(error: Exception, status: int, kind: str, code: str | None) -> None:
    assert isinstance(error, oa.RippleError)
    got_status, got = oa.error_of(error)
    assert got_status == status
    assert set(got["error"]) == {"message", "type", "param", "code"}
    assert got["error"]["type"] == kind
    assert got["error"]["code"] == code
