"""RAG metrics: faithfulness, answer relevancy, context precision and context recall, each with
a ``heuristic`` mode (token overlap or embeddings, no LLM; the default) and an ``llm`` mode
(a judge model, with Ripple's rubric prompt or your own). Registered in
:data:`rippleops.domain.eval_metrics.REGISTRY` when that module is imported.

What each returns when there is nothing to score (docs/evals-metrics.md has the table):

- faithfulness: no retrieved context -> 0.0 (nothing supports the answer); empty answer -> MetricError;
- answer_relevancy: empty answer -> 0.0; empty question -> MetricError;
- context_precision: no retrieved context -> 0.0; no way to tell relevance (no relevant ids,
  no expected answer, heuristic mode) -> MetricError;
- context_recall: no retrieved context -> 0.0; no expected answer and no reference contexts
  -> MetricError.

>>> from rippleops.domain.eval_metrics import MetricContext, Outcome, Sample, parse_metric
>>> m = parse_metric("faithfulness")
>>> m.score(Sample(0, "0", "Where is Paris?"), Outcome("Paris is in France.", contexts=("Paris is the capital of France.",)), MetricContext())
1.0
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rippleops.domain import eval_judge
from rippleops.domain.eval_metrics import (
    MetricContext,
    MetricError,
    MetricKind,
    Outcome,
    Sample,
    check_fraction,
    check_int,
    check_ref,
    cosine,
    embed_texts,
    input_text,
    judge_variables,
    judged,
    register,
    rendered,
)
from rippleops.errors import InvalidError

MODES = ("heuristic", "llm")
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_STOPWORDS = """
a an the and or but if of to in on at by for with from as is are was were be been being it its this that these
those there here do does did done have has had not no yes so than then too very can could would should will shall
may might must i you he she we they me him her us them my your his our their what which who whom whose when where
why how all any each both few more most other some such only own same just also into about
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def tokens(text: str) -> list[str]:
    """Lowercased word tokens, a plural ``s`` dropped (``indexes`` ~ ``indexe``, ``labels`` ~ ``label``)."""
    out = []
    for word in _WORD.findall(text.casefold()):
        out.append(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return out


def content_tokens(text: str) -> set[str]:
    """The tokens that carry meaning (stopwords dropped; all tokens if that leaves none)."""
    toks = tokens(text)
    content = {t for t in toks if t not in STOPWORDS}
    return content or set(toks)


def token_recall(text: str, against: str) -> float:
    """Share of ``text``'s content tokens found in ``against`` (1.0 when ``text`` has none)."""
    want = content_tokens(text)
    if not want:
        return 1.0
    return len(want & set(tokens(against))) / len(want)


def sentences(text: str) -> list[str]:
    """``text`` split after ``.``, ``!``, ``?`` and at line breaks; pieces without a word dropped."""
    return [p.strip() for p in _SENTENCE_END.split(text.strip()) if _WORD.search(p)]


# -- settings shared by the four metrics ---------------------------------------------------------

SETTINGS = {"mode": "heuristic", "threshold": 0.5, "embedder": None, "model": None, "prompt": None, "retries": 2}


def _needs(s: Mapping[str, Any]) -> tuple[str, ...]:
    if s["mode"] == "llm":
        return tuple(str(s[k]) for k in ("model", "prompt") if s.get(k))
    return (str(s["embedder"]),) if s.get("embedder") else ()


def _check(name: str, embeds: bool) -> Callable[[Mapping[str, Any]], None]:
    def check(s: Mapping[str, Any]) -> None:
        if s["mode"] not in MODES:
            raise InvalidError(
                f"metric {name}: `mode` must be heuristic (no LLM) or llm (a judge model), not {s['mode']!r}"
            )
        check_fraction(name, "threshold", s["threshold"])
        check_int(name, "retries", s["retries"], 0, 10)
        if s["mode"] == "llm":
            if s.get("model") is None:
                raise InvalidError(
                    f"metric {name}: mode llm needs `model:` (the judge, such as model/local-smollm@production)"
                )
            check_ref(name, "model", s["model"], "model")
        elif s.get("model") is not None or s.get("prompt") is not None:
            raise InvalidError(f"metric {name}: `model`/`prompt` are for mode llm; add `mode: llm` or drop them")
        if s.get("prompt") is not None:
            check_ref(name, "prompt", s["prompt"], "prompt")
        if s.get("embedder") is not None:
            if not embeds:
                raise InvalidError(f"metric {name} takes no `embedder` (it compares tokens or asks a judge); drop it")
            if s["mode"] == "llm":
                raise InvalidError(f"metric {name}: `embedder` is for mode heuristic; drop it or drop `mode: llm`")
            check_ref(name, "embedder", s["embedder"], "embedder")

    return check


def _messages(
    ctx: MetricContext, name: str, s: Mapping[str, Any], builtin: str, variables: Mapping[str, Any]
) -> list[dict[str, str]]:
    if s.get("prompt"):
        return rendered(ctx, name, str(s["prompt"]), variables)
    return eval_judge.render_default(builtin, variables)


def _verdict(ctx: MetricContext, name: str, s: Mapping[str, Any], builtin: str, variables: Mapping[str, Any]) -> bool:
    messages = _messages(ctx, name, s, builtin, variables)
    got = judged(
        ctx, name, str(s["model"]), messages, eval_judge.parse_verdict,
        retries=int(s["retries"]), correction=eval_judge.VERDICT_CORRECTION, wants="yes/no verdict",
    )  # fmt: skip
    return bool(got)


# -- faithfulness ---------------------------------------------------------------------------------


def _faithfulness(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    claims = sentences(out.text)
    if not claims:
        raise MetricError(f"faithfulness: the answer to sample {sample.key} is empty; there is no statement to check")
    if not out.contexts:
        return 0.0  # nothing was retrieved, so nothing supports the answer
    threshold = float(s["threshold"])
    if s["mode"] == "llm":
        messages = _messages(ctx, "faithfulness", s, "judge-faithfulness", judge_variables(sample, out))
        verdicts: list[bool] = judged(
            ctx, "faithfulness", str(s["model"]), messages, eval_judge.parse_claims,
            retries=int(s["retries"]), correction=eval_judge.CLAIMS_CORRECTION, wants="list of claims",
        )  # fmt: skip
        return sum(verdicts) / len(verdicts)
    if s.get("embedder"):
        rows = embed_texts(ctx, "faithfulness", [*claims, *out.contexts])
        chunks = rows[len(claims) :]
        supported = sum(1 for row in rows[: len(claims)] if max(cosine(row, c) for c in chunks) >= threshold)
        return supported / len(claims)
    context = "\n".join(out.contexts)
    return sum(1 for c in claims if token_recall(c, context) >= threshold) / len(claims)


# -- answer relevancy -----------------------------------------------------------------------------


def _answer_relevancy(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    question = input_text(sample)
    if not question.strip():
        raise MetricError(f"answer_relevancy: sample {sample.key} has no question text to compare the answer with")
    if not out.text.strip():
        return 0.0  # an empty answer addresses nothing
    if s["mode"] == "llm":
        messages = _messages(ctx, "answer_relevancy", s, "judge-relevancy", judge_variables(sample, out))
        score = judged(
            ctx, "answer_relevancy", str(s["model"]), messages, lambda r: eval_judge.parse_score(r, 1, 5),
            retries=int(s["retries"]), correction=eval_judge.score_correction(1, 5),
        )  # fmt: skip
        return (float(score) - 1.0) / 4.0
    if s.get("embedder"):
        q, a = embed_texts(ctx, "answer_relevancy", [question, out.text])
        return max(0.0, cosine(q, a))
    return token_recall(question, out.text)


# -- context precision ----------------------------------------------------------------------------


def average_precision(relevant: Sequence[bool]) -> float:
    """Mean of precision@i over the ranks i holding a relevant item (0.0 when none is relevant).

    >>> average_precision([True, False, True])
    0.8333333333333333
    """
    hits, total = 0, 0.0
    for i, rel in enumerate(relevant, start=1):
        if rel:
            hits += 1
            total += hits / i
    return total / hits if hits else 0.0


def _context_precision(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    if s["mode"] == "llm":
        if not out.contexts:
            return 0.0
        base = judge_variables(sample, out)
        flags = [
            _verdict(ctx, "context_precision", s, "judge-context-precision", {**base, "context": c})
            for c in out.contexts
        ]
        return average_precision(flags)
    if sample.relevant:
        if not out.retrieved:
            return 0.0
        wanted = set(sample.relevant)
        return average_precision([doc in wanted for doc in out.retrieved])
    if sample.expected is None or not str(sample.expected).strip():
        raise MetricError(
            f"context_precision: sample {sample.key} has neither relevant doc ids nor an expected answer to judge the "
            "contexts by (set `columns:` in the suite, or use mode: llm)"
        )
    if not out.contexts:
        return 0.0
    threshold = float(s["threshold"])
    return average_precision([token_recall(str(sample.expected), c) >= threshold for c in out.contexts])


# -- context recall -------------------------------------------------------------------------------


def _context_recall(sample: Sample, out: Outcome, ctx: MetricContext, s: Mapping[str, Any]) -> float:
    expected = "" if sample.expected is None else str(sample.expected)
    claims = sentences(expected)
    if not claims and not sample.contexts:
        raise MetricError(
            f"context_recall: sample {sample.key} has neither an expected answer nor reference contexts to recall "
            "(set `columns: expected:` or `columns: contexts:` in the suite)"
        )
    if not out.contexts:
        return 0.0
    threshold = float(s["threshold"])
    context = "\n".join(out.contexts)
    if s["mode"] == "llm":
        if not claims:
            raise MetricError(
                f"context_recall: mode llm checks the expected answer's sentences; sample {sample.key} has none"
            )
        base = judge_variables(sample, out)
        flags = [_verdict(ctx, "context_recall", s, "judge-context-recall", {**base, "sentence": c}) for c in claims]
        return sum(flags) / len(flags)
    references = claims or [r for r in sample.contexts or () if r.strip()]
    if not references:
        raise MetricError(f"context_recall: the reference contexts of sample {sample.key} are all empty")
    return sum(1 for r in references if token_recall(r, context) >= threshold) / len(references)


for _name, _fn, _embeds, _summary in (
    ("faithfulness", _faithfulness, True, "share of the answer's statements the retrieved contexts support"),
    ("answer_relevancy", _answer_relevancy, True, "how well the answer addresses the question"),
    ("context_precision", _context_precision, False, "rank-weighted precision of the relevant retrieved contexts"),
    ("context_recall", _context_recall, False, "share of the expected answer covered by the retrieved contexts"),
):
    register(MetricKind(_name, _fn, dict(SETTINGS), _summary, needs=_needs, check=_check(_name, _embeds)))
