"""What a run's metrics may call, bound to the versions the suite pinned: the embedder,
judge models (each behind a circuit breaker) and rubric prompts.

A judge model that fails to answer three times in a row (a refused port, a timeout) is not
called again for the rest of the run: every later sample records
``judge model/x:1 unavailable (3 consecutive failures; last: ...)`` for its metric at once,
instead of waiting for the same failure once per sample.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.eval_metrics import Chat, Embed, MetricContext
from rippleops.domain.generation import as_messages
from rippleops.domain.records import VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.domain.suites import SuiteSpec
from rippleops.errors import UnavailableError
from rippleops.services.prompts import render_record
from rippleops.services.suites import pinned

if TYPE_CHECKING:
    from rippleops.services import Services

BREAKER_FAILURES = 3


class JudgeBreaker:
    """Counts consecutive transport failures of one judge model; opens after ``limit``."""

    def __init__(self, model: str, call: Callable[[list[dict[str, str]]], str], limit: int = BREAKER_FAILURES) -> None:
        self.model = model
        self._call = call
        self.limit = limit
        self.failures = 0
        self.calls = 0
        self.last = ""
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.failures >= self.limit

    def __call__(self, messages: list[dict[str, str]]) -> str:
        with self._lock:
            if self.open:
                raise UnavailableError(self.message)
            self.calls += 1
        try:
            reply = self._call(messages)
        except (UnavailableError, OSError) as exc:  # transport: count it; anything else is the reply's problem
            with self._lock:
                self.failures += 1
                self.last = exc.message if isinstance(exc, UnavailableError) else str(exc)
            raise
        with self._lock:
            self.failures = 0
        return reply

    @property
    def message(self) -> str:
        return f"judge {self.model} unavailable ({self.failures} consecutive failures; last: {self.last[:300]})"


def bind_context(
    services: Services, principal: Principal, project: str, suite: VersionRecord, spec: SuiteSpec
) -> tuple[MetricContext, dict[str, JudgeBreaker]]:
    """The metric context of a run of ``suite``, and the breaker of each judge model."""
    embed: Embed | None = None
    chats: dict[str, Chat] = {}
    prompts: dict[str, Any] = {}
    breakers: dict[str, JudgeBreaker] = {}
    for metric in spec.metrics:
        for need in metric.needs:
            exact = pinned(suite, need)
            kind = parse_ref(exact).kind
            keys = {need, parse_ref(need).text}
            if kind == "embedder" and embed is None:
                embed = _embedder(services, principal, project, exact)
            elif kind == "model":
                breaker = breakers.get(exact) or JudgeBreaker(exact, _chat(services, principal, project, exact))
                breakers[exact] = breaker
                chats.update(dict.fromkeys(keys, breaker))
            elif kind == "prompt":
                prompts.update(dict.fromkeys(keys, _renderer(services, principal, project, exact)))
    return MetricContext(embed=embed, chat=chats, prompts=prompts), breakers


def _embedder(services: Services, principal: Principal, project: str, exact: str) -> Embed:
    def embed(texts: Sequence[str]) -> Any:
        return services.embedders.embed(principal, project, exact, texts)

    return embed


def _chat(services: Services, principal: Principal, project: str, exact: str) -> Callable[[list[dict[str, str]]], str]:
    def chat(messages: list[dict[str, str]]) -> str:
        return services.models.generate_with(principal, project, exact, messages, {}).text

    return chat


def _renderer(services: Services, principal: Principal, project: str, exact: str) -> Callable[[Mapping[str, Any]], Any]:
    record = services.prompts.get(principal, project, exact)

    def render(values: Mapping[str, Any]) -> list[dict[str, str]]:
        return as_messages(render_record(record, dict(values)))

    return render
