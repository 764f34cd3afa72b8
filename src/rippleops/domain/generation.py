"""What every model call shares, whoever makes it: the input as chat messages, the merge of
decoding parameters, cost from prices, a stream of text deltas that ends in a
:class:`~rippleops.domain.records.GenerationRecord`, and the Server-Sent Events that carry
such a stream over HTTP (the server writes them, the remote SDK reads them).

>>> cost({"prompt_tokens": 1000, "completion_tokens": 500}, {"input_per_1m": 2.0, "output_per_1m": 8.0, "currency": "USD"})
{'input': 0.002, 'output': 0.004, 'total': 0.006, 'currency': 'USD'}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from rippleops.domain.records import GenerationRecord
from rippleops.errors import InvalidError

CHAT_ROLES = ("system", "user", "assistant")
SSE_MEDIA_TYPE = "text/event-stream"


def as_messages(messages: str | Sequence[Mapping[str, Any]], system: str | None = None) -> list[dict[str, str]]:
    """A text (one user turn) or a message list as clean chat messages, ``system`` first.

    >>> as_messages("Hi", system="Be brief.")
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    """
    if isinstance(messages, str):
        items: list[Any] = [{"role": "user", "content": messages}]
    elif isinstance(messages, Sequence) and not isinstance(messages, bytes):
        items = list(messages)
    else:
        raise InvalidError(
            f"the input must be a text or a list of {{'role': ..., 'content': ...}} messages, not {type(messages).__name__}"
        )
    if system is not None:
        items.insert(0, {"role": "system", "content": system})
    out: list[dict[str, str]] = []
    for i, m in enumerate(items):
        if not isinstance(m, Mapping):
            raise InvalidError(f"message {i} is a {type(m).__name__}, not a mapping with role and content")
        if "placeholder" in m:
            raise InvalidError(f"message {i} is a placeholder; render the prompt first (it fills placeholders)")
        role, content = m.get("role"), m.get("content")
        if role not in CHAT_ROLES:
            raise InvalidError(f"message {i} has role {role!r}; a model takes roles {', '.join(CHAT_ROLES)}")
        if not isinstance(content, str):
            raise InvalidError(f"message {i} has content of type {type(content).__name__}; content must be a string")
        out.append({"role": str(role), "content": content})
    if not out:
        raise InvalidError("there are no messages; give a text or at least one {'role': 'user', 'content': ...}")
    return out


def token_bound(messages: Sequence[Mapping[str, str]]) -> int:
    """An upper bound on a chat's prompt tokens without a tokenizer: byte-level BPE tokenizers
    never make more tokens than UTF-8 bytes, plus the chat template's markers per turn and a
    default system prompt some templates add (SmolLM2's is ~25 tokens)."""
    return sum(len(m["content"].encode()) + 16 for m in messages) + 64


def cost(usage: Mapping[str, int], prices: Mapping[str, Any]) -> dict[str, Any]:
    """Tokens times the price per million tokens, per direction and in total."""
    inp = usage["prompt_tokens"] * float(prices.get("input_per_1m", 0.0)) / 1_000_000
    out = usage["completion_tokens"] * float(prices.get("output_per_1m", 0.0)) / 1_000_000
    return {"input": inp, "output": out, "total": inp + out, "currency": str(prices.get("currency", "USD"))}


class GenerationStream(Iterator[str]):
    """The text deltas of one streamed call; once they are exhausted, :attr:`record` holds
    the :class:`~rippleops.domain.records.GenerationRecord` (text, usage, cost ...).

    Example::

        stream = rp.models.get("local-smollm").stream("Write a haiku.", max_tokens=32)
        for delta in stream:
            print(delta, end="", flush=True)
        stream.record.usage.completion_tokens

    ``close()`` (or leaving a ``with`` block) stops early and releases the model; the record
    is then not available.
    """

    def __init__(self, deltas: Iterator[str], finish: Callable[[str], GenerationRecord]) -> None:
        self._deltas = deltas
        self._finish = finish
        self._parts: list[str] = []
        self._record: GenerationRecord | None = None

    def __next__(self) -> str:
        try:
            delta = next(self._deltas)
        except StopIteration:
            if self._record is None:
                self._record = self._finish("".join(self._parts))
            raise
        self._parts.append(delta)
        return delta

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._parts)

    @property
    def record(self) -> GenerationRecord:
        if self._record is None:
            raise InvalidError("the stream has not ended yet; iterate it to the end before reading .record")
        return self._record

    def close(self) -> None:
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def primed(deltas: Iterator[str]) -> Iterator[str]:
    """``deltas`` with its first item already fetched, so that a call that cannot start
    (a server that is down, a bad key) fails when the stream is made, not at the first read."""
    try:
        first = next(deltas)
    except StopIteration:
        return iter(())

    def chain() -> Iterator[str]:
        try:
            yield first
            yield from deltas
        finally:
            close = getattr(deltas, "close", None)
            if close is not None:
                close()

    return chain()


# -- Server-Sent Events: `delta` events ({"text": ...}), then `done` (the record) or `error` --


def sse_event(event: str, data: Any) -> str:
    """One event in the SSE wire format."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) for each event of an SSE body given line by line."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                try:
                    yield event, json.loads("\n".join(data))
                except ValueError:
                    raise InvalidError(f"the server streamed an event that is not JSON: {data[0][:80]!r}") from None
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        # other lines (comments starting with ':', ids, retry) carry nothing we use
    if data:
        raise InvalidError("the server's event stream ended in the middle of an event")
