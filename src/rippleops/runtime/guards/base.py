"""The validator interface: ``check(text, ctx) -> Outcome``, plus what a validator can do
with a failing text (redact spans, fix it, ask for another try).

A validator is built once per policy version and shared by threads: it keeps no state per
call, and loads what it needs (models, vectors) once, lazily, under a lock.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import ValidatorSpec
from rippleops.errors import InvalidError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class Span:
    """``text[start:end]`` is to be replaced by ``replacement``."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Outcome:
    """A validator's verdict. ``spans`` say what to redact, ``fixed`` is the fixed text,
    ``reask`` the instruction for another try; each is set when the validator can give it."""

    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    spans: tuple[Span, ...] = ()
    fixed: str | None = None
    reask: str | None = None


@dataclass(frozen=True)
class Embedding:
    """How embedding validators get vectors: ``embed(texts)`` (one unit row per text) and
    a ``key`` that names the vectors (the same key, the same vectors), for caching."""

    key: str
    embed: Callable[[Sequence[str]], npt.NDArray[np.float32]]


class Validator(ABC):
    """One configured validator of a policy."""

    #: Whether it judges the whole text only (on a stream it runs once, at the end).
    whole_text: ClassVar[bool] = False
    #: On a stream: whether it checks the text near the head (a window) rather than all of
    #: the text so far (a length check needs all of it; a pattern needs only the window).
    windowed: ClassVar[bool] = True

    def __init__(self, spec: ValidatorSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.action = spec.action
        self._lock = threading.Lock()

    @abstractmethod
    def check(self, text: str, ctx: GuardContext) -> Outcome:
        """Judge ``text``; raise only when the check itself cannot be made."""

    def warm(self) -> None:  # noqa: B027 - optional: most validators load nothing
        """Load models or vectors now rather than on the first check."""

    @property
    def where(self) -> str:
        return self.spec.where


def require_text(text: Any, validator: str) -> str:
    if not isinstance(text, str):
        raise InvalidError(f"the {validator} validator checks text, not {type(text).__name__}")
    return text


def matches_as_spans(matches: Sequence[tuple[int, int]], replacement: str) -> tuple[Span, ...]:
    return tuple(Span(s, e, replacement) for s, e in matches)


def apply_spans(text: str, spans: Sequence[Span], start: int = 0) -> str:
    """``text`` with ``spans`` replaced; spans overlapping an earlier one are skipped, and
    spans (or their parts) before ``start`` are left alone (that text has gone already)."""
    parts: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: s.start):
        s, e = max(span.start, start), span.end
        if s < pos or e <= s:
            continue
        parts.append(text[pos:s])
        parts.append(span.replacement)
        pos = e
    parts.append(text[pos:])
    return "".join(parts)
