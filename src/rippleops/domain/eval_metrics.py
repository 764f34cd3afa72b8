"""Eval metrics: what a suite can score a sample with (pure; model and embedder calls come in
as callables, so nothing here does I/O).

A suite lists metrics by name with settings (``{"name": "regex", "pattern": "..."}`` or just
``"exact_match"``). :func:`parse_metric` checks a spec and returns a :class:`Metric`; its
:meth:`Metric.score` takes one :class:`Sample` (a dataset row) and the :class:`Outcome` of
calling the target on it, and returns a float (higher is better unless ``lower_is_better``)
or raises :class:`MetricError` — the sample is then recorded with that error for the metric,
never as NaN.

>>> m = parse_metric("exact_match")
>>> m.score(Sample(0, "0", "2+2?", "4"), Outcome(text=" 4 "), MetricContext())
1.0
>>> parse_metric({"name": "regex", "pattern": "^[0-9]+$"}).score(Sample(0, "0", "q", None), Outcome(text="42"), MetricContext())
1.0
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rippleops.errors import InvalidError

#: texts -> one unit-length row vector per text (numpy array of shape (n, dim))
Embed = Callable[[Sequence[str]], Any]
#: chat messages ([{"role", "content"}]) -> the model's reply text; raises on a transport failure
Chat = Callable[[list[dict[str, str]]], str]


class MetricError(Exception):
    """This sample gets no score for this metric; the message says why (stored per sample)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One row of the suite's dataset, mapped through the suite's column settings."""

    idx: int
    key: str
    input: Any  # str, or a dict of prompt variables
    expected: Any = None  # reference answer (str), or None
    contexts: tuple[str, ...] | None = None  # reference contexts (RAG recall), when the dataset has them
    relevant: tuple[str, ...] | None = None  # relevant doc ids (retrieval metrics), when the dataset has them
    row: Mapping[str, Any] = field(default_factory=dict)  # the whole row, for metrics that need more


@dataclass(frozen=True, slots=True)
class Outcome:
    """What calling the target on a sample gave."""

    text: str = ""
    contexts: tuple[str, ...] = ()  # retrieved chunk texts, in rank order
    retrieved: tuple[str, ...] = ()  # retrieved doc ids, in rank order
    blocked: bool = False  # a guard blocked the call
    latency_ms: float = 0.0
    tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class MetricContext:
    """The callables a metric may need, bound by the eval service per run: ``embed`` for the
    suite's embedder, ``chat`` for a metric's judge model (keyed by the model reference the
    metric names, so two judges can use two models)."""

    embed: Embed | None = None
    chat: Mapping[str, Chat] = field(default_factory=dict)
    prompts: Mapping[str, Any] = field(default_factory=dict)  # judge rubric prompt ref -> renderer


@dataclass(frozen=True, slots=True)
class Metric:
    """A configured metric. ``needs`` lists the references (``embedder/...``, ``model/...``,
    ``prompt/...``) the suite pins and the service must bind in the context."""

    name: str  # the result key: exact_match, rouge_l, judge_correctness
    kind: str  # the registry name
    settings: Mapping[str, Any]
    fn: Callable[[Sample, Outcome, MetricContext, Mapping[str, Any]], float]
    needs: tuple[str, ...] = ()
    lower_is_better: bool = False
    per_sample: bool = True

    def score(self, sample: Sample, outcome: Outcome, ctx: MetricContext) -> float:
        value = float(self.fn(sample, outcome, ctx, self.settings))
        if value != value:  # NaN: a metric bug must not hide as a number
            raise MetricError(f"{self.name} computed NaN")
        return value


@dataclass(frozen=True, slots=True)
class MetricKind:
    """A registry entry: the settings it takes (name -> default; ``...`` means required)."""

    name: str
    fn: Callable[[Sample, Outcome, MetricContext, Mapping[str, Any]], float]
    settings: Mapping[str, Any]
    summary: str
    needs: Callable[[Mapping[str, Any]], tuple[str, ...]] = lambda s: ()
    lower_is_better: bool = False
    check: Callable[[Mapping[str, Any]], None] | None = None


REGISTRY: dict[str, MetricKind] = {}


def register(kind: MetricKind) -> MetricKind:
    REGISTRY[kind.name] = kind
    return kind


def parse_metric(spec: str | Mapping[str, Any]) -> Metric:
    """A metric from its suite entry: ``"exact_match"`` or ``{"name": ..., settings..., "as": key}``."""
    raw: dict[str, Any] = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = raw.pop("name", None)
    if not isinstance(name, str) or name not in REGISTRY:
        raise InvalidError(f"unknown metric {name!r}; metrics: {', '.join(sorted(REGISTRY))}")
    kind = REGISTRY[name]
    key = raw.pop("as", None) or name
    if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,59}", key):
        raise InvalidError(f"metric {name}: `as` must be a lowercase name such as {name}_strict, not {key!r}")
    unknown = sorted(set(raw) - set(kind.settings))
    if unknown:
        takes = ", ".join(sorted(kind.settings)) or "no settings"
        raise InvalidError(f"metric {name} does not take {', '.join(unknown)}; it takes {takes}")
    settings = {**{k: v for k, v in kind.settings.items() if v is not ...}, **raw}
    missing = sorted(k for k, v in kind.settings.items() if v is ... and k not in raw)
    if missing:
        raise InvalidError(f"metric {name} needs {', '.join(missing)}")
    if kind.check is not None:
        kind.check(settings)
    return Metric(
        name=key, kind=name, settings=settings, fn=kind.fn, needs=kind.needs(settings),
        lower_is_better=kind.lower_is_better,
    )  # fmt: skip


def _norm(text: Any) -> str:
    return " ".join(str(text).split()).casefold()


def _expected(sample: Sample, metric: str) -> str:
    if sample.expected is None:
        raise MetricError(f"{metric} needs an expected answer and sample {sample.key} has none")
    return str(sample.expected)


def _exact(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    exp = _expected(sample, "exact_match")
    got = out.text
    if s["normalize"]:
        return float(_norm(got) == _norm(exp))
    return float(got == exp)


def _contains(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    exp = _expected(sample, "contains")
    return float(_norm(exp) in _norm(out.text)) if s["normalize"] else float(exp in out.text)


def _check_regex(s: Mapping[str, Any]) -> None:
    try:
        re.compile(str(s["pattern"]))
    except re.error as exc:
        raise InvalidError(f"metric regex: pattern {s['pattern']!r} is not a valid regular expression: {exc}") from exc


def _regex(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    return float(re.search(str(s["pattern"]), out.text, 0 if s["case_sensitive"] else re.IGNORECASE) is not None)


def _json_valid(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    text = out.text.strip()
    if s["strip_fences"]:
        text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    try:
        json.loads(text)
    except ValueError:
        return 0.0
    return 1.0


def _field(name: str) -> Callable[[Sample, Outcome, MetricContext, Mapping[str, Any]], float]:
    def fn(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
        return float(getattr(out, name))

    return fn


register(MetricKind("exact_match", _exact, {"normalize": True}, "1 when the output equals the expected answer"))
register(MetricKind("contains", _contains, {"normalize": True}, "1 when the output contains the expected answer"))
register(
    MetricKind(
        "regex", _regex, {"pattern": ..., "case_sensitive": False}, "1 when the output matches the pattern",
        check=_check_regex,
    )
)  # fmt: skip
register(MetricKind("json_valid", _json_valid, {"strip_fences": True}, "1 when the output parses as JSON"))
register(MetricKind("latency_ms", _field("latency_ms"), {}, "the call's latency", lower_is_better=True))
register(MetricKind("tokens", _field("tokens"), {}, "tokens the call used", lower_is_better=True))
register(MetricKind("cost", _field("cost"), {}, "what the call cost", lower_is_better=True))
register(MetricKind("guard_block_rate", _field("blocked"), {}, "1 when a guard blocked the call", lower_is_better=True))

#: metrics every run records besides the suite's own (from the call itself)
ALWAYS = ("latency_ms", "tokens", "cost", "guard_block_rate")
