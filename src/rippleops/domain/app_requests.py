"""What one app call takes and gives back as it goes: the request (``input`` or ``messages``,
plus variables, decoding overrides and metadata), checked; and the stream of a streamed call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from rippleops.domain.apps import BUILTIN_VARIABLES, mapping_field
from rippleops.domain.generation import as_messages
from rippleops.domain.records import AppRunRecord
from rippleops.errors import InvalidError

# -- requests ------------------------------------------------------------------------------------

REQUEST_FIELDS: tuple[str, ...] = ("input", "messages", "variables", "params", "metadata")
MAX_INPUT_CHARS = 100_000


@dataclass(frozen=True)
class AppRequest:
    """One call's input: the question (the last user turn), the turns before it, extra prompt
    variables, decoding overrides and metadata to record on the trace."""

    question: str
    history: list[dict[str, str]]
    variables: dict[str, Any]
    params: dict[str, Any]
    metadata: dict[str, Any]


def parse_request(request: Any) -> AppRequest:
    """``{"input": "text"}`` or ``{"messages": [...]}`` plus optional ``variables``,
    ``params`` and ``metadata``, checked.

    >>> parse_request({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
    ...                             {"role": "user", "content": "How do I roll back?"}]}).question
    'How do I roll back?'
    """
    if not isinstance(request, Mapping):
        raise InvalidError(f"the request must be a mapping with `input` or `messages`, not {type(request).__name__}")
    unknown = sorted(map(str, set(request) - set(REQUEST_FIELDS)))
    if unknown:
        raise InvalidError(
            f"the request has unknown fields: {', '.join(unknown)}; allowed: {', '.join(REQUEST_FIELDS)}"
        )
    if ("input" in request) == ("messages" in request):
        raise InvalidError(
            'give exactly one of "input" (the question) or "messages" (a chat, the last turn the user\'s)'
        )
    if "input" in request:
        question = request["input"]
        if not isinstance(question, str):
            raise InvalidError(f'"input" must be a string, not {type(question).__name__}')
        history: list[dict[str, str]] = []
    else:
        messages = as_messages(request["messages"])
        if messages[-1]["role"] != "user":
            raise InvalidError(
                f'the last of "messages" must be the user\'s turn (the question), not {messages[-1]["role"]!r}'
            )
        question, history = messages[-1]["content"], messages[:-1]
    if not question.strip():
        raise InvalidError("the question is empty; ask something")
    if len(question) > MAX_INPUT_CHARS:
        raise InvalidError(f"the question is {len(question)} characters; the limit is {MAX_INPUT_CHARS}")
    variables = mapping_field(request.get("variables"), '"variables"')
    taken = sorted(set(variables) & set(BUILTIN_VARIABLES))
    if taken:
        raise InvalidError(
            f'"variables" may not set {", ".join(taken)}: the app gives them ({", ".join(BUILTIN_VARIABLES)})'
        )
    return AppRequest(
        question, history, variables, mapping_field(request.get("params"), '"params"'),
        mapping_field(request.get("metadata"), '"metadata"'),
    )  # fmt: skip


# -- streams ---------------------------------------------------------------------------------------


class AppStream(Iterator[str]):
    """The text deltas of one streamed app call; ``.record`` holds the
    :class:`~rippleops.domain.records.AppRunRecord` once they are exhausted, and ``close()``
    stops early (the trace then says cancelled).

    >>> stream = rp.apps.get("support-bot@production").stream("How do I roll back?")  # doctest: +SKIP
    >>> for delta in stream: print(delta, end="")                                       # doctest: +SKIP
    >>> stream.record.trace_id                                                           # doctest: +SKIP
    """

    def __init__(
        self,
        deltas: Iterator[str],
        record: Callable[[], AppRunRecord | None],
        trace_id: str | None = None,
        *,
        on_close_unstarted: Callable[[], None] | None = None,
    ) -> None:
        self._deltas = deltas
        self._get_record = record
        self.trace_id = trace_id  # known from the start (the OpenAI routes send it before the first delta)
        self._parts: list[str] = []
        self._lock = threading.Lock()  # close() from another thread waits for a pending next()
        # A generator closed before its first next() never runs its `finally`: who made the
        # stream says what closing it then must still do (end the trace, release the model).
        self._on_close_unstarted = on_close_unstarted
        self._started = False

    def __next__(self) -> str:
        with self._lock:
            self._started = True
            delta = next(self._deltas)
        self._parts.append(delta)
        return delta

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def record(self) -> AppRunRecord:
        got = self._get_record()
        if got is None:
            raise InvalidError("the stream has not ended yet; iterate it to the end before reading .record")
        return got

    def close(self) -> None:
        with self._lock:
            close = getattr(self._deltas, "close", None)
            if close is not None:
                close()
            if not self._started and self._on_close_unstarted is not None:
                self._started = True  # once
                self._on_close_unstarted()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
