"""Reading what a model wrote, and judging it: JSON objects out of free text, a line format
for models too small to write JSON, and the quality rules of :mod:`rippleops.domain.synth`.

>>> extract_json('Sure! Here it is:\\n```json\\n{"question": "Why?", "answer": "Because."}\\n```\\nHope it helps')
[{'question': 'Why?', 'answer': 'Because.'}]
>>> parse_lines("Q: What is Ripple?\\nA: A platform.", {"question": ("q",), "answer": ("a",)})
[{'question': 'What is Ripple?', 'answer': 'A platform.'}]
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from rippleops.domain.synth import (
    COPY_OF_SEED,
    EMPTY,
    NO_MATCH,
    NOT_GROUNDED,
    OFF_TOPIC,
    SCHEMA,
    TOO_LONG,
    TOO_SHORT,
    Rules,
)

_FENCE = re.compile(r"```[ \t]*[\w-]*[ \t]*\n(.*?)(?:```|\Z)", re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"[^\w]+")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
#: Words too common to say an answer comes from a passage.
STOPWORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "did", "do", "does", "for", "from", "has", "have",
     "how", "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "what", "when",
     "where", "which", "who", "why", "with"}
)  # fmt: skip


def _objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _scan(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON object (or array of objects) in ``text``, left to right."""
    decoder = json.JSONDecoder(strict=False)  # raw newlines inside strings: a grammar lets them through
    out: list[dict[str, Any]] = []
    i = 0
    while True:
        starts = [p for p in (text.find("{", i), text.find("[", i)) if p >= 0]
        if not starts:
            return out
        start = min(starts)
        try:
            value, i = decoder.raw_decode(text, start)
        except ValueError:
            # forgive trailing commas (a common slip of small models) inside the bracketed span
            end = start + _matching_end(text, start) + 1
            try:
                value = json.loads(_TRAILING_COMMA.sub(r"\1", text[start:end]), strict=False)
            except ValueError:
                i = start + 1
                continue
            i = end
        out.extend(_objects(value))


def _matching_end(text: str, start: int) -> int:
    """Characters from ``start`` to its closing bracket (or to the end), skipping strings."""
    depth, in_string, escaped = 0, False, False
    for j, ch in enumerate(text[start:]):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - start


def extract_json(text: str) -> list[dict[str, Any]]:
    """The JSON objects in a model's reply: inside code fences first, else anywhere in the
    text (leading prose and trailing junk skipped); an array yields its objects; trailing
    commas are forgiven."""
    fenced = [obj for block in _FENCE.findall(text) for obj in _scan(block)]
    return fenced or _scan(text)


def parse_lines(text: str, prefixes: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """Records in a line format (``Q: ... A: ...``): ``prefixes`` maps each field to the
    labels that start it (case-insensitive, optional list marks and ``**bold**``). A record
    ends where its first field starts again; lines without a label continue the field."""
    if not prefixes:
        return []
    label_of = {p.lower(): field for field, ps in prefixes.items() for p in ps}
    alternatives = "|".join(re.escape(p) for p in sorted(label_of, key=len, reverse=True))
    line_re = re.compile(rf"^\s*(?:[-*•]|\d+[.)])?\s*\**({alternatives})\**\s*\d*\s*[:\uff1a\-]\**\s*(.*)$", re.I)
    first = next(iter(prefixes))
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}
    field: str | None = None
    for line in text.splitlines():
        m = line_re.match(line)
        if m:
            field = label_of[m.group(1).lower()]
            if field == first and current:
                records.append(current)
                current = {}
            current[field] = m.group(2).strip()
        elif field is not None and line.strip():
            current[field] = (current[field] + " " + line.strip()).strip()
    if current:
        records.append(current)
    return [r for r in records if any(v for v in r.values())]


def plain_text(text: str) -> list[dict[str, str]]:
    """A reply that is just the text (a paraphrase, an example): one record per list item
    when it is a list, else the whole reply, with wrapping quotes taken off."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    items = [_LIST_MARK.sub("", ln).strip() for ln in lines if _LIST_MARK.match(ln)]
    if len(items) >= 2 and len(items) == len(lines):
        return [{"text": _unquote(i)} for i in items]
    whole = _unquote(text.strip())
    return [{"text": whole}] if whole else []


def _unquote(text: str) -> str:
    for a, b in (('"', '"'), ("'", "'"), ("“", "”")):
        if len(text) >= 2 and text.startswith(a) and text.endswith(b):
            return text[1:-1].strip()
    return text


def apply_aliases(record: Mapping[str, Any], aliases: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Keys lower-cased and known aliases renamed (``{"Q": ...}`` -> ``{"question": ...}``)."""
    out = {str(k).strip().lower() if isinstance(k, str) else k: v for k, v in record.items()}
    for field, names in aliases.items():
        if field in out:
            continue
        for name in names:
            if name in out:
                out[field] = out.pop(name)
                break
    return out


# -- text measures ------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The form duplicates are compared in: NFKC, case-folded, punctuation and runs of
    spaces collapsed to one space.

    >>> normalise("  What is  RIPPLE?! ")
    'what is ripple'
    """
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def content_words(text: str) -> set[str]:
    """Words that carry meaning: not stop words, and either 3+ letters or a number."""
    return {w for w in words(text) if w not in STOPWORDS and (len(w) >= 3 or w.isdigit())}


def answer_overlap(answer: str, source: str) -> float:
    """How much of an answer comes from the source: 1.0 when it occurs in it (normalised),
    else the share of its content words that the source has.

    >>> answer_overlap("in 1889", "It was built between 1887 and 1889.")
    1.0
    >>> round(answer_overlap("the engineering firm of Eiffel", "designed by the engineering company of Eiffel"), 2)
    0.67
    """
    a, s = normalise(answer), normalise(source)
    if a and f" {a} " in f" {s} ":
        return 1.0
    return word_share(answer, source)


def word_share(text: str, source: str) -> float:
    """The share of ``text``'s content words that ``source`` has (0.0 when it has none:
    "What is this?" asks about nothing in particular).

    >>> word_share("When was the Eiffel Tower built?", "The Eiffel Tower was built in 1889.")
    1.0
    """
    mine = content_words(text)
    if not mine:
        return 0.0
    return len(mine & set(words(source))) / len(mine)


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' word sets (1.0: the same words)."""
    wa, wb = set(words(a)), set(words(b))
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


# -- the rules ------------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def check_record(
    record: Mapping[str, Any],
    rules: Rules,
    *,
    validator: Any = None,
    passage: str | None = None,
    seeds: Sequence[str] = (),
    answer_field: str = "answer",
) -> tuple[str, str] | None:
    """``None`` when the record passes, else ``(reason, detail)``.

    ``validator`` is a ``jsonschema`` validator of the output schema; ``passage`` the source
    text a qa answer must come from; ``seeds`` the texts a paraphrase or example must not copy.
    """
    if validator is not None:
        error = next(iter(validator.iter_errors(dict(record))), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            return SCHEMA, f"{where + ': ' if where else ''}{error.message}"[:300]
    for field in rules.required:
        if not as_text(record.get(field)):
            return EMPTY, f"{field} is missing or blank"
    for field, least in rules.min_length.items():
        if field in record and len(as_text(record[field])) < least:
            return TOO_SHORT, f"{field} has {len(as_text(record[field]))} characters; at least {least}"
    for field, most in rules.max_length.items():
        if field in record and len(as_text(record[field])) > most:
            return TOO_LONG, f"{field} has {len(as_text(record[field]))} characters; at most {most}"
    for field, pattern in rules.match.items():
        if field in record and re.search(pattern, as_text(record[field])) is None:
            return NO_MATCH, f"{field} does not match {pattern!r}"
    if passage is not None and rules.question_overlap > 0:
        share = word_share(as_text(record.get("question")), passage)
        if share < rules.question_overlap:
            return (
                OFF_TOPIC,
                f"{share:.0%} of the question's words are in the passage; at least {rules.question_overlap:.0%}",
            )
    if passage is not None and rules.answer_overlap > 0:
        share = answer_overlap(as_text(record.get(answer_field)), passage)
        if share < rules.answer_overlap:
            return (
                NOT_GROUNDED,
                f"{share:.0%} of the answer's words are in the passage; at least {rules.answer_overlap:.0%}",
            )
    text = as_text(record.get("text"))
    if seeds and "text" in record:
        best = max(similarity(text, s) for s in seeds)
        norm = normalise(text)
        if any(norm == normalise(s) for s in seeds) or (
            rules.max_seed_similarity is not None and best >= rules.max_seed_similarity
        ):
            return COPY_OF_SEED, f"word similarity {best:.2f} to the seed"
        if best < rules.min_seed_similarity:
            return OFF_TOPIC, f"word similarity {best:.2f} to the seed; at least {rules.min_seed_similarity:.2f}"
    return None
