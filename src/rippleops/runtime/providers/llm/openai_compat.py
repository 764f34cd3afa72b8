"""Any server that speaks OpenAI's ``POST /v1/chat/completions``: OpenAI, vLLM, llama.cpp
(``python -m llama_cpp.server``), Ollama, or another Ripple.

Failures are told apart by whose fault they are: a server that cannot be reached, times out
or keeps answering 429/5xx is :class:`~rippleops.errors.UnavailableError` (retry later); a
server that answers but refuses the request or answers nonsense (bad key, unknown model,
not JSON) is :class:`~rippleops.errors.InvalidError` (fix the settings).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from rippleops.errors import InvalidError, UnavailableError

from ..openai_http import DEFAULT_BACKOFF, DEFAULT_RETRIES, OpenAIHTTP, error_text
from ..openai_http import DEFAULT_CONNECT_TIMEOUT as DEFAULT_CONNECT_TIMEOUT
from ..openai_http import MAX_RETRY_AFTER as MAX_RETRY_AFTER
from ..openai_http import RETRY_STATUSES as RETRY_STATUSES
from .base import (
    DEFAULT_MAX_TOKENS,
    LLM,
    FinishReason,
    Generation,
    Sampling,
    StreamResult,
    check_messages,
    check_sampling,
)

DEFAULT_TIMEOUT = 30.0


class OpenAICompatibleLLM(LLM):
    """Chat completions from an OpenAI-compatible HTTP endpoint.

    Example::

        llm = OpenAICompatibleLLM("http://127.0.0.1:8000/v1", "smollm2")
        reply = llm.generate([{"role": "user", "content": "Say hello."}], max_tokens=16)

    ``base_url`` ends where OpenAI's ends (``https://api.openai.com/v1``); ``/chat/completions``
    is added. 429 and 5xx answers and timeouts are retried ``max_retries`` times with jittered
    exponential backoff, honouring ``Retry-After``; a refused connection is not retried. A
    stream is retried only until its first byte. ``extra_body`` is merged into every request,
    for server-specific knobs (llama.cpp's server applies ``repeat_penalty`` 1.1 unless told
    ``{"repeat_penalty": 1.0}``).
    """

    provider: ClassVar[str] = "openai-compatible"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_RETRIES,
        *,
        backoff: float = DEFAULT_BACKOFF,
        context_size: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidError(f"base_url must start with http:// or https://, not {base_url!r}")
        if not model:
            raise InvalidError("model must name the server's chat model")
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise InvalidError("timeout must be positive; max_retries and backoff must not be negative")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._context_size = context_size
        self._extra = dict(extra_body or {})
        self._http = OpenAIHTTP(self.url, "chat server", model, api_key, timeout, max_retries, backoff)

    @property
    def model_id(self) -> str:
        return self._model

    @property
    def context_size(self) -> int | None:
        return self._context_size

    def describe(self) -> dict[str, Any]:
        # Not the URL or the key: they say where the model runs and who pays, not what it is.
        # The extra body changes outputs, so it is part of what the model is.
        return {**super().describe(), "extra_body": self._extra}

    def generate(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        """``json_schema``: sent as ``response_format: {type: json_object, schema: ...}`` (what
        llama.cpp's server and others take to constrain the reply to JSON fitting the schema)."""
        payload = self._payload(messages, check_sampling(max_tokens, temperature, top_p, stop, seed), stream=False)
        _set_response_format(payload, json_schema)
        started = time.perf_counter()
        body = self._http.json(self._http.post(payload))
        if not isinstance(body, dict):
            raise InvalidError(f"the chat server at {self.url} answered {type(body).__name__}, not a JSON object")
        text, finish, usage = _parse_completion(body, self.url)
        return Generation(
            text=text,
            finish_reason=finish,
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            latency_s=time.perf_counter() - started,
            model=str(body.get("model") or self._model),
        )

    def stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> StreamResult:
        """Deltas from the server's SSE stream. Usage comes from the stream's last chunk when the
        server sends one (``stream_options.include_usage``); otherwise the counts are 0."""
        payload = self._payload(messages, check_sampling(max_tokens, temperature, top_p, stop, seed), stream=True)
        _set_response_format(payload, json_schema)
        payload["stream_options"] = {"include_usage": True}
        started = time.perf_counter()
        state: dict[str, Any] = {"finish_reason": "length", "usage": (0, 0), "model": self._model}

        def finish(text: str) -> Generation:
            return Generation(
                text=text,
                finish_reason=state["finish_reason"],
                prompt_tokens=state["usage"][0],
                completion_tokens=state["usage"][1],
                latency_s=time.perf_counter() - started,
                model=state["model"],
            )

        return StreamResult(self._stream(payload, state), finish)

    def close(self) -> None:
        self._http.close()

    def _payload(self, messages: Sequence[Mapping[str, str]], sampling: Sampling, *, stream: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": check_messages(messages),
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "stream": stream,
        }
        if sampling.stop:
            payload["stop"] = sampling.stop
        if sampling.seed is not None:
            payload["seed"] = sampling.seed
        return {**payload, **self._extra}

    def _stream(self, payload: dict[str, Any], state: dict[str, Any]) -> Iterator[str]:
        response = self._http.post(payload, stream=True)
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # SSE comments, event names, keep-alives
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise InvalidError(
                        f"the chat server at {self.url} streamed a line that is not JSON: {data[:80]!r}"
                    ) from None
                if not isinstance(chunk, dict):
                    raise InvalidError(f"the chat server at {self.url} streamed {type(chunk).__name__}, not an object")
                if "error" in chunk:
                    raise InvalidError(f"the chat server at {self.url} failed mid-stream: {error_text(chunk)}")
                if isinstance(chunk.get("usage"), dict):
                    state["usage"] = _usage(chunk["usage"], self.url)
                if chunk.get("model"):
                    state["model"] = str(chunk["model"])
                for choice in chunk.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        yield str(delta)
                    if choice.get("finish_reason") is not None:
                        state["finish_reason"] = _finish_reason(choice["finish_reason"])
        except httpx.TransportError as err:
            raise UnavailableError(
                f"the chat server at {self.url} broke off the stream: {err or type(err).__name__}"
            ) from err
        finally:
            response.close()


def _set_response_format(payload: dict[str, Any], schema: Mapping[str, Any] | None) -> None:
    """The request field for constrained JSON (added for synthetic data). A ``response_format``
    in the model's ``extra_body`` (OpenAI's ``json_schema`` form, say) is kept as it is."""
    if schema is None:
        return
    if not isinstance(schema, Mapping):
        raise InvalidError(f"json_schema must be a JSON schema object, not {type(schema).__name__}")
    payload.setdefault("response_format", {"type": "json_object", "schema": dict(schema)})


def _parse_completion(body: dict[str, Any], url: str) -> tuple[str, FinishReason, tuple[int, int]]:
    if "error" in body:
        raise InvalidError(f"the chat server at {url} answered an error: {error_text(body)}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise InvalidError(f"the chat server at {url} answered malformed JSON: no 'choices' list")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise InvalidError(f"the chat server at {url} answered malformed JSON: the choice has no 'message'")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise InvalidError(f"the chat server at {url} answered malformed JSON: 'content' is not a string")
    usage = body.get("usage")
    counts = _usage(usage, url) if isinstance(usage, dict) else (0, 0)
    return content or "", _finish_reason(choices[0].get("finish_reason")), counts


def _usage(usage: dict[str, Any], url: str) -> tuple[int, int]:
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        raise InvalidError(f"the chat server at {url} answered malformed JSON: token counts are not integers")
    return prompt, completion


def _finish_reason(raw: Any) -> FinishReason:
    # OpenAI also says "content_filter" or "tool_calls"; both end the turn, as "stop" does.
    return "length" if raw == "length" else "stop"
