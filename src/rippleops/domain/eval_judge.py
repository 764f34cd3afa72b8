"""LLM-as-judge: reading scores and verdicts out of what a judge model replies, the retry loop
around the judge's chat callable, and Ripple's shipped rubric prompts (pure: the model call
comes in as a callable; the rubric prompts are package data, read once).

Small judges answer in every shape: ``{"score": 4}``, a fenced JSON block, ``Score: 4/5``,
``**Rating:** four``, ``4``, or prose around any of these. :func:`parse_score` takes the first
score inside the scale from the most explicit form present; a reply with none gives ``None``,
and :func:`ask` asks again (with a short corrective message) before giving up with a
:class:`JudgeError` (the metric records it as a
MetricError) — never a NaN.

>>> parse_score('```json\\n{"score": 4, "reason": "mostly right"}\\n```', 1, 5)
4.0
>>> parse_score("Rating: four out of five", 1, 5)
4.0
>>> parse_score("I cannot judge this.", 1, 5) is None
True
>>> parse_verdict("No, the context does not say so.")
False
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any, TypeVar

import yaml

from rippleops.domain import templating
from rippleops.errors import RippleError, UnavailableError

T = TypeVar("T")

#: the shipped rubric prompts: name (registered as ``prompt/NAME``) -> file under rippleops/eval_prompts
JUDGE_PROMPTS = (
    "judge-correctness",
    "judge-faithfulness",
    "judge-relevancy",
    "judge-context-precision",
    "judge-context-recall",
)
REPLY_SHOWN = 200  # characters of the last bad reply quoted in an error
_SCORE_KEYS = ("score", "rating", "grade", "value", "result", "overall")
_VERDICT_KEYS = ("verdict", "supported", "relevant", "answer", "result", "faithful", "attributed")
_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_NUM = r"(-?\d+(?:\.\d+)?|" + "|".join(_WORDS) + r")"
_LABELLED = re.compile(
    r"\b(?:score|rating|rated|grade|mark)\b[^\w\n]{0,3}(?:is|of|=|:)?\s*(?:a\s+)?\**\s*"
    + _NUM
    + r"(?:\s*(?:/|out\s+of)\s*(\d+))?",
    re.I,
)
# bare numbers are digits only: "no one" is not a score of 1
_BARE = re.compile(r"(?<![\w.\-/])(-?\d+(?:\.\d+)?)(?:\s*(?:/|out\s+of)\s*(\d+))?(?![\w/]|\.\d)", re.I)
# "on a scale of 1 to 5", "(1-5)", "from 1 to 5": the scale itself is not a score
_SCALE = re.compile(r"(?:scale\s+(?:of|from)\s+|from\s+|\()?\b\d+\s*(?:-|\u2013|to)\s*\d+\b\)?", re.I)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_YES = {"yes", "true", "supported", "relevant", "y", "1", "correct", "faithful", "present", "attributed"}
_NO = {"no", "false", "unsupported", "irrelevant", "n", "0", "incorrect", "unfaithful", "absent", "not"}
_VERDICT_WORD = re.compile(
    r"\b(does\s+not\s+support|doesn't\s+support|not\s+supported|not\s+relevant|unsupported|irrelevant|supports|supported"
    r"|relevant|yes|no|true|false)\b",
    re.I,
)


# -- reading replies --------------------------------------------------------------------------


def json_values(text: str) -> list[Any]:
    """Every JSON object or array in ``text`` (fenced or inline), outermost first, in order."""
    found: list[Any] = []
    bodies = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for body in bodies:
        i = 0
        while i < len(body):
            if body[i] in "{[":
                try:
                    value, end = decoder.raw_decode(body, i)
                except ValueError:
                    i += 1
                    continue
                found.append(value)
                i = end
            else:
                i += 1
    return found


def _number(value: Any, hi: float | None = None) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*" + _NUM + r"\s*(?:(?:/|out\s+of)\s*(\d+))?\s*\.?\s*", value, re.I)
        if m:
            return _scaled(m.group(1), m.group(2), hi)
    return None


def _scaled(num: str, denominator: str | None, hi: float | None) -> float | None:
    value = float(_WORDS[num.lower()]) if num.lower() in _WORDS else float(num)
    if denominator is not None and hi is not None and float(denominator) != hi:
        return None  # "8/10" on a 1-5 scale: not a score on this scale (ask again)
    return value


def _score_in(value: Any, lo: float, hi: float, depth: int = 0) -> float | None:
    if isinstance(value, Mapping):
        lowered = {str(k).lower(): v for k, v in value.items()}
        for key in _SCORE_KEYS:
            if key in lowered:
                got = _score_in(lowered[key], lo, hi, depth + 1)
                if got is not None:
                    return got
        if depth < 2:
            for v in value.values():
                if isinstance(v, Mapping):
                    got = _score_in(v, lo, hi, depth + 1)
                    if got is not None:
                        return got
        return None
    if isinstance(value, list):
        return None
    num = _number(value, hi)
    return num if num is not None and lo <= num <= hi else None


def parse_score(reply: str, lo: float, hi: float) -> float | None:
    """The first score in ``[lo, hi]`` in a judge's reply, or None when there is none.

    JSON (``score``/``rating``/``grade`` keys) wins over a labelled score (``Score: 4``), which
    wins over a bare number; the scale itself ("1 to 5", "out of 5") is never taken as a score.
    """
    text = str(reply or "")
    for value in json_values(text):
        got = _score_in(value, lo, hi)
        if got is not None:
            return got
    plain = _SCALE.sub(" ", text.replace("*", "").replace("#", " "))
    whole = _number(plain, hi)  # "four", "4.", "4/5" alone
    if whole is not None and lo <= whole <= hi:
        return whole
    for m in _LABELLED.finditer(plain):
        got = _scaled(m.group(1), m.group(2), hi)
        if got is not None and lo <= got <= hi:
            return got
    for m in _BARE.finditer(plain):
        got = _scaled(m.group(1), m.group(2), hi)
        if got is not None and lo <= got <= hi:
            return got
    return None


def _verdict_value(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().strip(".!\"'").lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
        m = _VERDICT_WORD.search(value)
        return _word_verdict(m.group(1)) if m else None
    if isinstance(value, Mapping):
        lowered = {str(k).lower(): v for k, v in value.items()}
        for key in _VERDICT_KEYS:
            if key in lowered:
                got = _verdict_value(lowered[key])
                if got is not None:
                    return got
    return None


def _word_verdict(word: str) -> bool:
    w = " ".join(word.lower().split())
    return w in ("yes", "true", "supported", "supports", "relevant")


def parse_verdict(reply: str) -> bool | None:
    """A yes/no verdict: a JSON ``verdict``/``supported``/``relevant`` value, else the first of
    yes, no, supported, not supported, relevant, irrelevant, true, false in the text."""
    text = str(reply or "")
    for value in json_values(text):
        got = _verdict_value(value)
        if got is not None:
            return got
    m = _VERDICT_WORD.search(text)
    return _word_verdict(m.group(1)) if m else None


def parse_claims(reply: str) -> list[bool] | None:
    """The supported/unsupported verdict of each claim a judge listed, or None when it listed none.

    Takes ``{"claims": [{"claim": ..., "supported": "yes"}, ...]}`` (or ``statements``), a bare
    JSON list of such objects (or of verdict words), else lines ending in a verdict
    (``1. Paris is in France - yes``)."""
    text = str(reply or "")
    for value in json_values(text):
        items: Any = value
        if isinstance(value, Mapping):
            lowered = {str(k).lower(): v for k, v in value.items()}
            items = next((lowered[k] for k in ("claims", "statements", "verdicts", "results") if k in lowered), None)
        if isinstance(items, list) and items:
            verdicts = [_verdict_value(item) for item in items]
            if all(v is not None for v in verdicts):
                return [v is True for v in verdicts]
    lines: list[bool] = []
    for line in text.splitlines():
        m = re.search(r"(not\s+supported|unsupported|supported|yes|no|true|false)\W*$", line.strip(), re.I)
        if m and len(line.strip()) > len(m.group(0)):
            lines.append(_word_verdict(m.group(1)))
    return lines or None


# -- asking -----------------------------------------------------------------------------------

Chat = Callable[[list[dict[str, str]]], str]


class JudgeError(Exception):
    """The judge gave no usable reply (the metric records the sample with this message)."""


def clip(text: str, limit: int = REPLY_SHOWN) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ask(
    chat: Chat,
    model: str,
    messages: Sequence[Mapping[str, str]],
    parse: Callable[[str], T | None],
    *,
    retries: int,
    correction: str,
    wants: str = "score",
) -> T:
    """Ask the judge, parse its reply, and ask again up to ``retries`` times (the bad reply and
    ``correction`` appended) while the reply cannot be parsed.

    Raises :class:`JudgeError` when every try gave a malformed reply, or at once when the model
    cannot be called (its provider's errors are RippleErrors; a socket error is an OSError).
    """
    convo = [dict(m) for m in messages]
    last = ""
    for _ in range(retries + 1):
        try:
            reply = chat(convo)
        except UnavailableError as exc:
            raise JudgeError(f"judge {model} is unavailable: {clip(exc.message, 300)}") from exc
        except OSError as exc:
            raise JudgeError(f"judge {model} is unavailable: {clip(str(exc), 300)}") from exc
        except RippleError as exc:
            raise JudgeError(f"judge {model} failed: {clip(exc.message, 300)}") from exc
        reply = "" if reply is None else str(reply)
        got = parse(reply)
        if got is not None:
            return got
        last = reply
        convo = [*convo, {"role": "assistant", "content": clip(reply, 400)}, {"role": "user", "content": correction}]
    tries = retries + 1
    raise JudgeError(
        f"judge {model} gave no {wants} in {tries} {'try' if tries == 1 else 'tries'}; last reply: {clip(last)!r}"
    )


def score_correction(lo: int, hi: int) -> str:
    return f'Reply with only a JSON object such as {{"score": {hi}}}: one whole number from {lo} to {hi}.'


VERDICT_CORRECTION = 'Reply with only a JSON object such as {"verdict": "yes"}: "yes" or "no".'
CLAIMS_CORRECTION = (
    'Reply with only a JSON object such as {"claims": [{"claim": "...", "supported": "yes"}]}: '
    'one entry per claim of the answer, "yes" or "no" each.'
)


def as_messages(rendered: Any) -> list[dict[str, str]]:
    """A rendered prompt (a text prompt gives a string) as chat messages."""
    if isinstance(rendered, str):
        return [{"role": "user", "content": rendered}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in rendered]


# -- the shipped rubric prompts ---------------------------------------------------------------


@functools.cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("rippleops").joinpath("eval_prompts", f"{name}.yaml").read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    assert isinstance(spec, dict), name
    return spec


def default_judge_prompts() -> dict[str, dict[str, Any]]:
    """Ripple's rubric prompts, name -> prompt spec (the shape of a prompt file; register each
    as ``prompt/NAME`` with :func:`rippleops.domain.prompts.parse_spec`). Read from the package's
    ``eval_prompts/NAME.yaml`` once; a fresh copy each call."""
    return {name: json.loads(json.dumps(_load(name))) for name in JUDGE_PROMPTS}


def render_default(name: str, variables: Mapping[str, Any]) -> list[dict[str, str]]:
    """A shipped rubric prompt rendered with the variables it declares (others are dropped)."""
    spec = _load(name)
    declared = templating.normalize_variables(spec.get("variables"))
    values = {k: v for k, v in variables.items() if k in declared}
    messages = templating.normalize_messages(spec["messages"])
    return as_messages(templating.render("chat", messages=messages, variables=declared, values=values))
