"""Validators on the characters of a text: regular expressions, deny lists, length and format.

Patterns run with the ``regex`` package and a timeout (:data:`MATCH_TIMEOUT_S`): a pattern
that backtracks catastrophically on some input raises ``TimeoutError`` instead of hanging the
caller, and the policy's ``on_error`` decides what happens then.
"""

from __future__ import annotations

import json
import re
from typing import Any

import regex

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import ValidatorSpec, compile_pattern, deny_pattern
from rippleops.runtime.guards.base import Outcome, Span, Validator, require_text

#: Longest one pattern may take over one text, in seconds.
MATCH_TIMEOUT_S = 0.25
#: How much of a match a finding shows.
PREVIEW_CHARS = 40
_SENTENCE_END = re.compile(r"[.!?…](?=[\s\"')\]]|$)|\n")


def _matches(pattern: regex.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text, timeout=MATCH_TIMEOUT_S) if m.end() > m.start()]


class _PatternValidator(Validator):
    pattern: regex.Pattern[str]
    what: str

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, self.spec.type)
        found = _matches(self.pattern, text)
        if not found:
            return Outcome(True, f"no {self.what}")
        shown = [text[s:e][:PREVIEW_CHARS] for s, e in found[:5]]
        replacement = self.spec.settings["replacement"]
        return Outcome(
            False,
            f"{len(found)} {self.what} match{'es' if len(found) > 1 else ''}: {', '.join(map(repr, shown))}",
            {"matches": [{"start": s, "end": e} for s, e in found]},
            spans=tuple(Span(s, e, replacement) for s, e in found),
            reask=f"Do not write {', '.join(map(repr, shown))}.",
        )


class RegexValidator(_PatternValidator):
    """Fails when the pattern is found anywhere in the text."""

    def __init__(self, spec: ValidatorSpec) -> None:
        super().__init__(spec)
        s = spec.settings
        self.pattern = compile_pattern(s["pattern"], spec.where, ignore_case=s["ignore_case"])
        self.what = "pattern"


class DenyValidator(_PatternValidator):
    """Fails when any of the words (or phrases) occurs as a whole word."""

    def __init__(self, spec: ValidatorSpec) -> None:
        super().__init__(spec)
        self.pattern = deny_pattern(spec.settings["words"], spec.settings["ignore_case"])
        self.what = "denied word"


def truncate_at_sentence(text: str, max_chars: int, floor: int = 0) -> str:
    """At most ``max_chars`` of ``text``, cut after the last sentence that fits; failing
    that after the last whole word; failing that, hard. The cut never falls before
    ``floor`` (on a stream: what has gone out already)."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    least = max(floor, max_chars // 3)
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= least:
        return head[: ends[-1]].rstrip() if len(head[: ends[-1]].rstrip()) >= floor else head[: ends[-1]]
    space = head.rfind(" ")
    if space >= least:
        return head[:space]
    return head if floor <= max_chars else text[:floor]


class LengthValidator(Validator):
    """Fails outside ``min_chars``..``max_chars``; fix truncates at a sentence boundary."""

    windowed = False

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "length")
        s = self.spec.settings
        n = len(text)
        most, least = s.get("max_chars"), s.get("min_chars")
        if most is not None and n > most:
            fixed = truncate_at_sentence(text, most)
            return Outcome(
                False,
                f"{n} characters, more than max_chars {most}",
                {"chars": n, "max_chars": most},
                fixed=fixed,
                reask=f"Answer in at most {most} characters.",
            )
        if least is not None and n < least:
            return Outcome(
                False,
                f"{n} characters, fewer than min_chars {least}",
                {"chars": n, "min_chars": least},
                reask=f"Answer in at least {least} characters.",
            )
        return Outcome(True, f"{n} characters", {"chars": n})


def extract_json(text: str) -> tuple[Any, str] | None:
    """The first JSON object or array in ``text`` (as in a fenced block or after a preamble),
    with its text; ``None`` when there is none."""
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                continue
            return value, text[i:end]
    return None


def parse_json(text: str) -> tuple[Any, str | None]:
    """``(value, None)`` for a text that is JSON, else ``(None, what is wrong)``."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


class FormatValidator(Validator):
    """The text must be JSON (``json: true``; fix strips it to its JSON value) or match
    ``pattern`` from start to end."""

    whole_text = True

    def __init__(self, spec: ValidatorSpec) -> None:
        super().__init__(spec)
        s = spec.settings
        self.pattern = compile_pattern(s["pattern"], spec.where) if "pattern" in s else None

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "format")
        if self.pattern is not None:
            if self.pattern.fullmatch(text.strip(), timeout=MATCH_TIMEOUT_S):
                return Outcome(True, "matches the pattern")
            return Outcome(
                False,
                "does not match the pattern from start to end",
                {"pattern": self.pattern.pattern},
                reask=f"Answer in exactly this format (regular expression): {self.pattern.pattern}",
            )
        _, problem = parse_json(text)
        if problem is None:
            return Outcome(True, "valid JSON")
        found = extract_json(text)
        return Outcome(
            False,
            problem,
            {"extractable": found is not None},
            fixed=found[1] if found else None,
            reask="Answer with JSON only: no text before or after it, no code fences.",
        )
