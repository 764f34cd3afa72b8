"""The OpenAI chat-completions wire format, as pure functions: a request parsed into an app
request (or refused, naming the field), and the ``chat.completion`` / ``chat.completion.chunk``
bodies, Server-Sent Events and error bodies that the official ``openai`` client reads.

The request's ``model`` names the app (``support-bot``, ``support-bot@production``,
``app/support-bot:3``). What an app cannot honour (``n > 1``, ``tools``, ``logprobs`` ...)
is refused with a 400 rather than silently ignored.

>>> req = parse_request({"model": "support-bot", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8})
>>> req.ref.text, req.app_request()["params"]
('app/support-bot', {'max_tokens': 8})
>>> error_body(400, "n must be 1", param="n")["error"]["type"]
'invalid_request_error'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rippleops.domain.refs import Ref, parse_ref
from rippleops.errors import InvalidError, RippleError

APP = "app"
OWNED_BY = "ripple"
SSE_MEDIA_TYPE = "text/event-stream"
DONE = b"data: [DONE]\n\n"
#: Fields a client may send that change nothing here (OpenAI-side features with no effect on an app).
IGNORED = frozenset(
    {"store", "service_tier", "prompt_cache_key", "safety_identifier", "parallel_tool_calls", "reasoning_effort"}
)
#: Fields refused when set to anything but their neutral value: (field, neutral values, why).
REFUSED: tuple[tuple[str, tuple[Any, ...], str], ...] = (
    ("n", (None, 1), "an app answers with one choice; send n=1 (or leave it out)"),
    ("tools", (None, []), "tools belong to the app spec (its tool and agent steps), not to the request"),
    ("tool_choice", (None, "none"), "the app decides its tool calls; leave tool_choice out"),
    ("functions", (None, []), "functions are not supported; tools belong to the app spec"),
    ("function_call", (None, "none"), "functions are not supported; tools belong to the app spec"),
    ("logprobs", (None, False), "log probabilities are not available from an app"),
    ("top_logprobs", (None, 0), "log probabilities are not available from an app"),
    ("logit_bias", (None, {}), "logit_bias is not supported"),
    ("presence_penalty", (None, 0, 0.0), "penalties are not supported; set them on the model version"),
    ("frequency_penalty", (None, 0, 0.0), "penalties are not supported; set them on the model version"),
    ("audio", (None,), "audio output is not supported"),
    ("modalities", (None, ["text"]), "only text output is supported"),
    ("prediction", (None,), "predicted outputs are not supported"),
    ("web_search_options", (None,), "web search is not supported"),
)
KNOWN = frozenset(
    {"model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens", "max_completion_tokens"}
    | {"stop", "seed", "user", "metadata", "response_format", "verbosity"}
    | {name for name, _, _ in REFUSED}
    | IGNORED
)
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_STOP = 4
FINISH_REASONS = {"stop": "stop", "length": "length", "blocked": "content_filter"}


class BadRequest(InvalidError):
    """A chat-completions request that cannot be honoured; ``param`` names the field."""

    http_status = 400

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, details={"param": param, "code": code})
        self.param = param
        self.code = code


class Usage(Protocol):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AppRun(Protocol):
    """What the wire format reads of an :class:`~rippleops.domain.records.AppRunRecord`."""

    @property
    def app(self) -> str: ...
    @property
    def output(self) -> str: ...
    @property
    def finish_reason(self) -> str: ...
    @property
    def trace_id(self) -> str: ...
    @property
    def usage(self) -> Usage: ...


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A parsed chat-completions request."""

    model: str  # as the client wrote it
    ref: Ref  # the app it names
    messages: list[dict[str, str]]
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    include_usage: bool = False

    def app_request(self) -> dict[str, Any]:
        """The request for ``services.apps.invoke/stream``."""
        out: dict[str, Any] = {"messages": self.messages}
        if self.params:
            out["params"] = self.params
        if self.metadata:
            out["metadata"] = self.metadata
        return out


def parse_model(model: Any) -> Ref:
    """The app a ``model`` string names: ``support-bot``, ``support-bot@production``, ``app/support-bot:3``."""
    if not isinstance(model, str) or not model.strip():
        raise BadRequest(
            "model is required: the name of an app, such as support-bot or support-bot@production", "model"
        )
    try:
        return parse_ref(model, APP)
    except InvalidError as exc:
        raise BadRequest(f"model {model!r} does not name an app: {exc.message}", "model", "model_not_found") from exc


def parse_request(body: Any) -> ChatRequest:
    """Check a chat-completions body and map it onto an app request; refuse what an app
    cannot honour with :class:`BadRequest` naming the field."""
    if not isinstance(body, Mapping):
        raise BadRequest("the request body must be a JSON object with model and messages")
    unknown = sorted(k for k in body if k not in KNOWN)
    if unknown:
        raise BadRequest(f"unrecognized request argument: {', '.join(unknown)}", unknown[0])
    for name, neutral, why in REFUSED:
        if name in body and body[name] not in neutral:
            raise BadRequest(f"{name}={json.dumps(body[name])[:60]} cannot be honoured: {why}", name, "unsupported")
    _check_response_format(body.get("response_format"))
    ref = parse_model(body.get("model"))
    messages = parse_messages(body.get("messages"))
    stream = _bool(body, "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, Mapping):
        raise BadRequest('stream_options must be an object such as {"include_usage": true}', "stream_options")
    include_usage = bool(options and options.get("include_usage"))
    if options and not stream:
        raise BadRequest("stream_options is only allowed with stream: true", "stream_options")
    return ChatRequest(
        model=str(body["model"]),
        ref=ref,
        messages=messages,
        params=_params(body),
        metadata=_metadata(body),
        stream=stream,
        include_usage=include_usage,
    )


def parse_messages(messages: Any) -> list[dict[str, str]]:
    """Chat messages as ``{role, content}`` with text content (text parts joined)."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest('messages must be a non-empty list of {"role": ..., "content": ...}', "messages")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, Mapping):
            raise BadRequest(f"{where} must be an object with role and content", where)
        role = ROLES.get(str(m.get("role")))
        if role is None:
            raise BadRequest(
                f"{where}.role is {m.get('role')!r}; an app takes the roles system, developer, user and assistant "
                "(tool calls are the app's own)",
                f"{where}.role",
            )
        if m.get("tool_calls") or m.get("function_call"):
            raise BadRequest(f"{where} carries tool calls, which an app does not take", f"{where}.tool_calls")
        out.append({"role": role, "content": _content(m.get("content"), where)})
    if not any(m["role"] == "user" for m in out):
        raise BadRequest("messages hold no user message; the last user message is the question", "messages")
    return out


def _content(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for j, part in enumerate(content):
            if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise BadRequest(
                    f"{where}.content[{j}] is of type {kind!r}; an app takes text parts only", f"{where}.content"
                )
            texts.append(part["text"])
        return "".join(texts)
    if content is None:
        return ""
    raise BadRequest(f"{where}.content must be a string or a list of text parts", f"{where}.content")


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRequest(f"{name} must be a number", name)
            params[name] = value
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is not None and "max_tokens" not in params:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadRequest(f"{name} must be a positive integer", name)
            params["max_tokens"] = value
    seed = body.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise BadRequest("seed must be an integer", "seed")
        params["seed"] = seed
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise BadRequest("stop must be a string or a list of non-empty strings", "stop")
        if len(stops) > MAX_STOP:
            raise BadRequest(f"stop takes at most {MAX_STOP} sequences, not {len(stops)}", "stop")
        if stops:
            params["stop"] = stops
    return params


def _metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata")
    out: dict[str, Any] = {}
    if meta is not None:
        if not isinstance(meta, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
            raise BadRequest("metadata must be an object of string keys and string values", "metadata")
        out.update(meta)
    user = body.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise BadRequest("user must be a string", "user")
        out["user"] = user
    return out


def _check_response_format(fmt: Any) -> None:
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind != "text":
        raise BadRequest(
            f"response_format {kind or fmt!r} cannot be honoured: an app's output format is set by its prompt "
            "(output_schema); leave response_format out",
            "response_format",
            "unsupported",
        )


def _bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false", name)
    return value


# -- responses ---------------------------------------------------------------------------------


def completion_id(trace_id: str) -> str:
    return f"chatcmpl-{trace_id}"


def finish_reason(run_finish: str) -> str:
    """An app's finish reason in OpenAI's words: a guard block is ``content_filter``."""
    return FINISH_REASONS.get(run_finish, "stop")


def usage(run: AppRun) -> dict[str, int]:
    u = run.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}


def completion(run: AppRun, created: int) -> dict[str, Any]:
    """A ``chat.completion`` body for a finished app run."""
    return {
        "id": completion_id(run.trace_id),
        "object": "chat.completion",
        "created": created,
        "model": run.app,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": run.output, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason(run.finish_reason),
            }
        ],
        "usage": usage(run),
        "system_fingerprint": None,
    }


def chunk(
    cid: str,
    model: str,
    created: int,
    delta: dict[str, Any] | None,
    finish: str | None = None,
    usage_of: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; ``delta=None`` is the usage chunk (no choices)."""
    body: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
    body["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    if usage_of is not None:
        body["usage"] = usage_of
    return body


def sse(data: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event carrying ``data`` as JSON."""
    return b"data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def model_entry(model_id: str, created: int, owned_by: str = OWNED_BY) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


# -- errors ------------------------------------------------------------------------------------

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    503: "service_unavailable",
}


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape, which its client turns into its exceptions."""
    return {"error": {"message": message, "type": _TYPES.get(status, "server_error"), "param": param, "code": code}}


def error_of(exc: RippleError) -> tuple[int, dict[str, Any]]:
    """The status and OpenAI error body of a Ripple error (invalid input is a 400, as OpenAI says it)."""
    status = exc.http_status
    if status == 422:
        status = 400
    param = exc.details.get("param") if isinstance(exc.details.get("param"), str) else None
    code = exc.details.get("code") if isinstance(exc.details.get("code"), str) else None
    if code is None:
        code = {401: "invalid_api_key", 404: "model_not_found" if param == "model" else "not_found"}.get(status)
    return status, error_body(status, exc.message, param=param, code=code)
