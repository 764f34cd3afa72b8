"""Policy specs: what a user writes to register a ``policy/*`` version, checked field by field.

::

    input:                          # validators run on the user's input, in order
      - {type: injection, action: block, threshold: 0.8}
      - {type: pii, action: redact, entities: [EMAIL_ADDRESS, PHONE_NUMBER]}
    output:
      - {type: json_schema, schema: {type: object}, action: reask}
      - {type: length, max_chars: 2000, action: fix}
    safe_answer: "I can't help with that."
    on_error: closed                # a validator that raises: closed (block) | open (allow)
    max_reasks: 1
    stream_window: 64               # characters held back on streams
    embedder: embedder/minilm@production   # optional: topic, injection similarity, groundedness

Every error names where the problem is (``output[1] (length)``), the field, and the way
out. Regular expressions are compiled here (with the ``regex`` package, which matches with a
timeout at run time), so a bad pattern is refused when the policy is registered.
A version's content is :meth:`PolicySpec.content`: the spec with every default filled in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import regex

from rippleops.domain.guards import ACTIONS, STAGES
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError

DEFAULT_SAFE_ANSWER = "I can't help with that."
ON_ERROR = ("closed", "open")
MAX_REASKS = 5
MAX_STREAM_WINDOW = 8192
DEFAULT_STREAM_WINDOW = 64
MAX_VALIDATORS = 50
MAX_PATTERN_CHARS = 1000
MAX_LIST_ITEMS = 1000
DEFAULT_REPLACEMENT = "<REDACTED>"
TOP_FIELDS = ("input", "output", "safe_answer", "on_error", "max_reasks", "stream_window", "embedder")
META_FIELDS = ("message", "tags", "description")
COMMON_FIELDS = ("type", "action", "name")
#: Validators that judge the whole text: on a stream they run once, at the end.
WHOLE_TEXT = ("json_schema", "groundedness", "format")

Parser = Callable[[Any, str], Any]


def _number(lo: float, hi: float) -> Parser:
    def parse(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise InvalidError(f"{where} must be a number from {lo:g} to {hi:g}, not {value!r}")
        return float(value)

    return parse


def _count(lo: int, hi: int) -> Parser:
    def parse(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise InvalidError(f"{where} must be a whole number from {lo} to {hi}, not {value!r}")
        return value

    return parse


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidError(f"{where} must be true or false, not {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidError(f"{where} must be a string, not {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidError(f"{where} must be a list of strings, such as [a, b]")
    if len(value) > MAX_LIST_ITEMS:
        raise InvalidError(f"{where} has {len(value)} items; the limit is {MAX_LIST_ITEMS}")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidError(f"{where} must hold non-empty strings only")
    return [str(v) for v in value]


def _pattern(value: Any, where: str) -> str:
    text = _text(value, where)
    if not text:
        raise InvalidError(f"{where} is empty; give a regular expression such as '(?i)password'")
    if len(text) > MAX_PATTERN_CHARS:
        raise InvalidError(f"{where} is {len(text)} characters; the limit is {MAX_PATTERN_CHARS}")
    compile_pattern(text, where)
    return text


def _schema(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidError(f"{where} must be a JSON schema object, such as {{type: object, required: [answer]}}")
    check_json_schema(value, where)
    return value


def check_json_schema(schema: dict[str, Any], where: str) -> None:
    """Refuse a schema that is not valid JSON Schema (Draft 2020-12)."""
    try:
        from jsonschema import Draft202012Validator, SchemaError
    except ImportError as exc:  # an optional dependency: the 'data' extra brings it
        raise InvalidError("json_schema validators need jsonschema: pip install 'rippleops[data]'") from exc
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        raise InvalidError(f"{where} is not a valid JSON schema at {path}: {exc.message}") from None


def compile_pattern(pattern: str, where: str, *, ignore_case: bool = False) -> regex.Pattern[str]:
    """``pattern`` compiled with the ``regex`` package (which takes a timeout when matching)."""
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except regex.error as exc:
        raise InvalidError(f"{where} is not a valid regular expression: {exc}; fix the pattern") from None


def deny_pattern(words: list[str], ignore_case: bool) -> regex.Pattern[str]:
    """One pattern that finds any of ``words`` as whole words (longest first)."""
    alternatives = "|".join(regex.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))
    return regex.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", regex.IGNORECASE if ignore_case else 0)


@dataclass(frozen=True)
class Rule:
    """How one validator type is written: its fields (parser, default), the actions it can
    take, its default action, and the stages it may run at."""

    fields: Mapping[str, tuple[Parser, Any]]
    actions: tuple[str, ...]
    default_action: str
    stages: tuple[str, ...] = STAGES
    what: str = ""


_REQUIRED = object()

RULES: dict[str, Rule] = {
    "pii": Rule(
        {"entities": (_strings, None), "min_score": (_number(0, 1), 0.4), "replacement": (_text, "<{entity}>")},
        ("redact", "block", "warn"),
        "redact",
        what="personal data (presidio pattern recognizers)",
    ),
    "regex": Rule(
        {
            "pattern": (_pattern, _REQUIRED),
            "ignore_case": (_flag, False),
            "replacement": (_text, DEFAULT_REPLACEMENT),
        },
        ("block", "redact", "warn", "reask"),
        "block",
        what="a regular expression",
    ),
    "deny": Rule(
        {"words": (_strings, _REQUIRED), "ignore_case": (_flag, True), "replacement": (_text, DEFAULT_REPLACEMENT)},
        ("block", "redact", "warn", "reask"),
        "block",
        what="whole words or phrases from a deny list",
    ),
    "topic": Rule(
        {"allowed": (_strings, []), "blocked": (_strings, []), "threshold": (_number(-1, 1), 0.35)},
        ("block", "warn", "reask"),
        "block",
        what="similarity to allowed and blocked topics",
    ),
    "injection": Rule(
        {"threshold": (_number(0, 1), 0.8), "rules": (_flag, True), "similarity": (_flag, True)},
        ("block", "warn"),
        "block",
        what="prompt injection and jailbreak attempts",
    ),
    "json_schema": Rule(
        {"schema": (_schema, None)},
        ("reask", "fix", "block", "warn"),
        "reask",
        ("output",),
        what="JSON output meeting a schema",
    ),
    "groundedness": Rule(
        {
            "threshold": (_number(0, 1), 0.5),
            "min_similarity": (_number(-1, 1), 0.6),
            "min_overlap": (_number(0, 1), 0.6),
        },
        ("warn", "block", "reask"),
        "warn",
        ("output",),
        what="answer sentences supported by the retrieved context",
    ),
    "length": Rule(
        {"max_chars": (_count(1, 10_000_000), None), "min_chars": (_count(0, 10_000_000), None)},
        ("fix", "block", "warn", "reask"),
        "block",
        what="length in characters",
    ),
    "format": Rule(
        {"json": (_flag, False), "pattern": (_pattern, None)},
        ("block", "warn", "reask", "fix"),
        "block",
        what="the text is JSON, or matches a pattern from start to end",
    ),
    "profanity": Rule(
        {"threshold": (_number(0, 1), 0.5)},
        ("block", "warn", "reask"),
        "block",
        what="offensive language (alt-profanity-check's classifier)",
    ),
}
TYPES = tuple(sorted(RULES))


@dataclass(frozen=True)
class ValidatorSpec:
    """One validator as registered: its type, action, display name and settings."""

    type: str
    action: str
    name: str
    settings: dict[str, Any]
    stage: str
    index: int

    @property
    def where(self) -> str:
        return f"{self.stage}[{self.index}] ({self.type})"

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "action": self.action}
        if self.name != self.type:
            out["name"] = self.name
        out.update(self.settings)
        return out


@dataclass(frozen=True)
class PolicySpec:
    """A parsed, checked policy."""

    input: tuple[ValidatorSpec, ...]
    output: tuple[ValidatorSpec, ...]
    safe_answer: str
    on_error: str
    max_reasks: int
    stream_window: int
    embedder: str | None
    message: str = ""
    tags: tuple[str, ...] = ()
    description: str | None = None

    def content(self) -> dict[str, Any]:
        """The version's content: every field, defaults filled in (so it hashes the same)."""
        out: dict[str, Any] = {
            "input": [v.content() for v in self.input],
            "output": [v.content() for v in self.output],
            "safe_answer": self.safe_answer,
            "on_error": self.on_error,
            "max_reasks": self.max_reasks,
            "stream_window": self.stream_window,
        }
        if self.embedder is not None:
            out["embedder"] = self.embedder
        return out

    @property
    def uses_embeddings(self) -> bool:
        return any(
            v.type in ("topic", "groundedness") or (v.type == "injection" and v.settings["similarity"])
            for v in (*self.input, *self.output)
        )


def parse_policy(data: Any, source: str = "policy") -> PolicySpec:
    """Check a mapping (from YAML or JSON) into a :class:`PolicySpec`; errors name the
    validator, the field and the way out."""
    if not isinstance(data, Mapping):
        raise InvalidError(
            f"{source} must be a mapping with `input:` and/or `output:` lists of validators, got {type(data).__name__}"
        )
    unknown = sorted(set(data) - set(TOP_FIELDS) - set(META_FIELDS))
    if unknown:
        raise InvalidError(
            f"{source} has unknown fields: {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(TOP_FIELDS + META_FIELDS)}"
        )
    stages = {stage: _validators(data.get(stage), stage, source) for stage in STAGES}
    if not stages["input"] and not stages["output"]:
        raise InvalidError(
            f"{source} has no validators; give `input:` and/or `output:` lists such as [{{type: pii, action: redact}}]"
        )
    safe_answer = data.get("safe_answer", DEFAULT_SAFE_ANSWER)
    if not isinstance(safe_answer, str) or not safe_answer.strip():
        raise InvalidError(f"{source}: safe_answer must be a non-empty string (what a blocked call answers)")
    on_error = data.get("on_error", "closed")
    if on_error not in ON_ERROR:
        raise InvalidError(
            f"{source}: on_error must be closed (a validator that raises blocks) or open (it lets the "
            f"text through), not {on_error!r}"
        )
    max_reasks = _count(0, MAX_REASKS)(data.get("max_reasks", 1), f"{source}: max_reasks")
    window = _count(0, MAX_STREAM_WINDOW)(data.get("stream_window", DEFAULT_STREAM_WINDOW), f"{source}: stream_window")
    embedder = data.get("embedder")
    if embedder is not None:
        if not isinstance(embedder, str) or not embedder.strip():
            raise InvalidError(f"{source}: embedder must be a reference such as embedder/minilm@production")
        try:
            embedder = parse_ref(embedder, "embedder").text
        except InvalidError as exc:
            raise InvalidError(f"{source}: embedder: {exc.message}") from None
    message = data.get("message", "")
    if not isinstance(message, str):
        raise InvalidError(f"{source}: message must be a string (the version's commit message)")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidError(f"{source}: description must be a string")
    tags = _strings(data.get("tags", []), f"{source}: tags")
    return PolicySpec(
        input=stages["input"],
        output=stages["output"],
        safe_answer=safe_answer,
        on_error=on_error,
        max_reasks=max_reasks,
        stream_window=window,
        embedder=embedder,
        message=message,
        tags=tuple(tags),
        description=description,
    )


def _validators(items: Any, stage: str, source: str) -> tuple[ValidatorSpec, ...]:
    if items is None:
        return ()
    if not isinstance(items, list | tuple):
        raise InvalidError(f"{source}: {stage} must be a list of validators such as [{{type: pii, action: redact}}]")
    if len(items) > MAX_VALIDATORS:
        raise InvalidError(f"{source}: {stage} has {len(items)} validators; the limit is {MAX_VALIDATORS}")
    return tuple(parse_validator(item, stage, i, source) for i, item in enumerate(items))


def parse_validator(item: Any, stage: str, index: int, source: str = "policy") -> ValidatorSpec:
    """One validator of ``stage`` at ``index``."""
    at = f"{source}: {stage}[{index}]"
    if not isinstance(item, Mapping):
        raise InvalidError(f"{at} must be a mapping such as {{type: pii, action: redact}}, not {item!r}")
    kind = item.get("type")
    if kind not in RULES:
        known = "; ".join(f"{t} ({RULES[t].what})" for t in TYPES)
        raise InvalidError(f"{at}: unknown validator type {kind!r}; known types: {known}")
    rule = RULES[kind]
    at = f"{at} ({kind})"
    unknown = sorted(set(item) - set(COMMON_FIELDS) - set(rule.fields))
    if unknown:
        raise InvalidError(
            f"{at} has unknown fields: {', '.join(map(str, unknown))}; "
            f"a {kind} validator takes: {', '.join(COMMON_FIELDS + tuple(rule.fields))}"
        )
    if stage not in rule.stages:
        raise InvalidError(f"{at}: a {kind} validator checks outputs only; move it to `output:`")
    settings: dict[str, Any] = {}
    for key, (parse, default) in rule.fields.items():
        if key in item and item[key] is not None:
            settings[key] = parse(item[key], f"{at}: {key}")
        elif default is _REQUIRED:
            raise InvalidError(f"{at} needs `{key}`")
        elif default is not None:
            settings[key] = default
    action = item.get("action", _default_action(kind, rule, settings))
    if action not in ACTIONS:
        raise InvalidError(f"{at}: unknown action {action!r}; a {kind} validator can: {', '.join(rule.actions)}")
    if action not in rule.actions:
        raise InvalidError(
            f"{at} cannot {action}; a {kind} validator can: {', '.join(rule.actions)}",
            details={"stage": stage, "index": index, "type": kind, "action": action},
        )
    if action == "reask" and stage == "input":
        raise InvalidError(f"{at}: reask is for outputs only (the model writes again); on input use block or warn")
    name = item.get("name", kind)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", name):
        raise InvalidError(f"{at}: name must be 1-64 letters, digits or _.:- (it labels findings), not {name!r}")
    _check_type(kind, action, settings, at)
    return ValidatorSpec(kind, action, name, settings, stage, index)


def _default_action(kind: str, rule: Rule, settings: dict[str, Any]) -> str:
    if kind == "length" and "max_chars" in settings:
        return "fix"
    return rule.default_action


def _check_type(kind: str, action: str, s: dict[str, Any], at: str) -> None:
    """The rules that tie a validator's fields together."""
    if kind == "topic" and not s["allowed"] and not s["blocked"]:
        raise InvalidError(f"{at} needs `allowed` and/or `blocked` topic descriptions (lists of strings)")
    if kind == "injection" and not s["rules"] and not s["similarity"]:
        raise InvalidError(f"{at}: rules and similarity are both off, so it could never fire; turn one on")
    if kind == "length":
        if "max_chars" not in s and "min_chars" not in s:
            raise InvalidError(f"{at} needs max_chars and/or min_chars")
        if "max_chars" in s and "min_chars" in s and s["min_chars"] > s["max_chars"]:
            raise InvalidError(f"{at}: min_chars {s['min_chars']} is more than max_chars {s['max_chars']}")
        if action == "fix" and "max_chars" not in s:
            raise InvalidError(
                f"{at}: fix truncates to max_chars, and a text too short cannot be fixed; use block, warn or reask"
            )
    if kind == "format":
        if s["json"] == ("pattern" in s):
            raise InvalidError(f"{at} takes exactly one of `json: true` (the text is JSON) or `pattern:`")
        if action == "fix" and not s["json"]:
            raise InvalidError(
                f"{at}: fix strips the text to its JSON value, so it needs `json: true`; use block, warn or reask"
            )
