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

import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rippleops.domain import eval_judge
from rippleops.domain.retrieval_metrics import query_metrics
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
EVAL_EXTRA = "pip install 'rippleops[eval]'"


# -- helpers the metric modules share -----------------------------------------------------------


def input_text(sample: Sample) -> str:
    """The sample's input as text: a string as is; of a dict of prompt variables, its
    ``question``/``input``/``query`` value, else the dict as JSON."""
    value = sample.input
    if isinstance(value, Mapping):
        for key in ("question", "input", "query", "text"):
            if isinstance(value.get(key), str):
                return str(value[key])
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def embed_texts(ctx: MetricContext, metric: str, texts: Sequence[str]) -> list[list[float]]:
    """Embed ``texts`` with the context's embedder, as plain float rows."""
    if ctx.embed is None:
        raise MetricError(f"{metric} needs an embedder and none was bound for this run (set `embedder:` in the metric)")
    rows = ctx.embed(list(texts))
    out = [[float(x) for x in row] for row in rows]
    if len(out) != len(texts):
        raise MetricError(f"{metric}: the embedder gave {len(out)} vectors for {len(texts)} texts")
    return out


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity (0.0 when either vector is all zeros)."""
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(x * x for x in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return max(-1.0, min(1.0, math.fsum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)))


def judged(
    ctx: MetricContext,
    metric: str,
    model: str,
    messages: list[dict[str, str]],
    parse: Callable[[str], Any],
    *,
    retries: int,
    correction: str,
    wants: str = "score",
) -> Any:
    """Ask the judge ``model`` (bound in ``ctx.chat``) through :func:`eval_judge.ask`; its failures
    become a :class:`MetricError` for this sample."""  # fmt: skip
    chat = ctx.chat.get(model)
    if chat is None:
        raise MetricError(f"{metric}: the judge {model} was not bound for this run (the eval service binds `model:`)")
    try:
        return eval_judge.ask(chat, model, messages, parse, retries=retries, correction=correction, wants=wants)
    except eval_judge.JudgeError as exc:
        raise MetricError(str(exc)) from exc


def rendered(ctx: MetricContext, metric: str, prompt: str, variables: Mapping[str, Any]) -> list[dict[str, str]]:
    """The rubric prompt ``prompt`` (bound in ``ctx.prompts``) rendered as chat messages."""
    render = ctx.prompts.get(prompt)
    if render is None:
        raise MetricError(
            f"{metric}: the rubric {prompt} was not bound for this run (the eval service binds `prompt:`)"
        )
    try:
        return eval_judge.as_messages(render(dict(variables)))
    except InvalidError as exc:
        raise MetricError(f"{metric}: the rubric {prompt} does not render: {exc.message}") from exc


def check_ref(metric: str, setting: str, value: Any, kind: str) -> None:
    if not isinstance(value, str) or not value.startswith(f"{kind}/") or len(value) <= len(kind) + 1:
        article = "an" if kind[0] in "aeiou" else "a"
        raise InvalidError(
            f"metric {metric}: `{setting}` must be {article} {kind} reference such as {kind}/NAME@production, not {value!r}"
        )


def check_int(metric: str, setting: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidError(f"metric {metric}: `{setting}` must be a whole number from {lo} to {hi}, not {value!r}")


def check_fraction(metric: str, setting: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidError(f"metric {metric}: `{setting}` must be a number from 0 to 1, not {value!r}")


# -- reference-based text metrics (the `eval` extra) ---------------------------------------------


@functools.cache
def _rouge_scorer(stemmer: bool) -> Any:
    try:
        from rouge_score import rouge_scorer  # type: ignore[import-untyped]  # optional extra: imported on first use
    except ImportError as exc:
        raise InvalidError(f"metric rouge_l needs the rouge-score package: {EVAL_EXTRA}") from exc
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stemmer)


def _rouge_l(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    exp = _expected(sample, "rouge_l")
    return float(_rouge_scorer(bool(s["stemmer"])).score(exp, out.text)["rougeL"].fmeasure)


def _bleu(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    exp = _expected(sample, "bleu")
    try:
        import sacrebleu  # optional extra: imported on first use
    except ImportError as exc:
        raise InvalidError(f"metric bleu needs the sacrebleu package: {EVAL_EXTRA}") from exc
    return float(sacrebleu.sentence_bleu(out.text, [exp], lowercase=bool(s["lowercase"])).score) / 100.0


def _semantic(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    exp = _expected(sample, "semantic_similarity")
    got, want = embed_texts(ctx, "semantic_similarity", [out.text, exp])
    return cosine(got, want)


def _check_semantic(s: Mapping[str, Any]) -> None:
    check_ref("semantic_similarity", "embedder", s["embedder"], "embedder")


register(
    MetricKind("rouge_l", _rouge_l, {"stemmer": True}, "ROUGE-L F-measure against the expected answer (rouge-score)")
)
register(MetricKind("bleu", _bleu, {"lowercase": False}, "sentence BLEU against the expected answer, 0..1 (sacrebleu)"))
register(
    MetricKind(
        "semantic_similarity", _semantic, {"embedder": ...}, "cosine of output and expected answer embeddings",
        needs=lambda s: (str(s["embedder"]),), check=_check_semantic,
    )
)  # fmt: skip


# -- retrieval metrics per sample (the definitions of domain/retrieval_metrics) ------------------


def _retrieval(name: str) -> Callable[[Sample, Outcome, MetricContext, Mapping[str, Any]], float]:
    def fn(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
        if not sample.relevant:
            raise MetricError(
                f"{name} needs relevant doc ids and sample {sample.key} has none (set `columns: relevant:` in the suite)"
            )
        k = int(s["k"])
        scores = query_metrics(list(out.retrieved), dict.fromkeys(sample.relevant, 1), (k,))
        if name == "mrr":  # MRR@k: a first relevant document below rank k counts as none
            mrr = scores["mrr"]
            return mrr if mrr >= 1.0 / k else 0.0
        return scores[f"{name}@{k}"]

    return fn


def _check_k(name: str) -> Callable[[Mapping[str, Any]], None]:
    return lambda s: check_int(name, "k", s["k"], 1, 10_000)


for _name, _summary in (
    ("hit_rate", "1 when a relevant doc is in the top k retrieved"),
    ("recall", "relevant docs in the top k / all relevant docs"),
    ("precision", "relevant docs in the top k / k"),
    ("mrr", "1 / rank of the first relevant doc within the top k"),
    ("ndcg", "nDCG of the top k retrieved"),
):
    register(MetricKind(_name, _retrieval(_name), {"k": 5}, _summary, check=_check_k(_name)))


# -- LLM-as-judge ---------------------------------------------------------------------------------


def judge_variables(sample: Sample, out: Outcome) -> dict[str, str]:
    """What a rubric prompt is rendered with: question, answer, expected ("" when none), contexts."""
    return {
        "question": input_text(sample),
        "answer": out.text,
        "expected": "" if sample.expected is None else str(sample.expected),
        "contexts": "\n\n".join(out.contexts),
    }


def _judge(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    lo, hi = int(s["scale_min"]), int(s["scale_max"])
    messages = rendered(ctx, "judge", str(s["prompt"]), judge_variables(sample, out))
    score = judged(
        ctx, "judge", str(s["model"]), messages, lambda reply: eval_judge.parse_score(reply, lo, hi),
        retries=int(s["retries"]), correction=eval_judge.score_correction(lo, hi),
    )  # fmt: skip
    return (float(score) - lo) / (hi - lo)


def _check_judge(s: Mapping[str, Any]) -> None:
    check_ref("judge", "prompt", s["prompt"], "prompt")
    check_ref("judge", "model", s["model"], "model")
    check_int("judge", "scale_min", s["scale_min"], -1000, 1000)
    check_int("judge", "scale_max", s["scale_max"], -1000, 1000)
    if s["scale_min"] >= s["scale_max"]:
        raise InvalidError(f"metric judge: scale_min ({s['scale_min']}) must be below scale_max ({s['scale_max']})")
    check_int("judge", "retries", s["retries"], 0, 10)


register(
    MetricKind(
        "judge", _judge, {"prompt": ..., "model": ..., "scale_min": 1, "scale_max": 5, "retries": 2},
        "a judge model's rating with a rubric prompt, scaled to 0..1",
        needs=lambda s: (str(s["model"]), str(s["prompt"])), check=_check_judge,
    )
)  # fmt: skip

# The RAG metrics register themselves in REGISTRY; imported last, as they build on the above.
from rippleops.domain import rag_metrics as _rag_metrics  # noqa: E402, F401
