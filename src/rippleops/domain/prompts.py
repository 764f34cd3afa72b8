"""Prompt specs: the YAML/JSON/keyword shape users write, validated into a version's
content, plus diffs between two prompt versions.

A prompt file::

    template: "Answer briefly: {{ question }}"   # text prompt, or
    messages:                                     # chat prompt
      - role: system
        content: '{% include "prompt/system@production" %}'
      - placeholder: history
      - role: user
        content: "{{ question }}"
    variables: {question: {type: string, description: the user's question}}
    model: model/local-smollm@production
    params: {temperature: 0.2, max_tokens: 256}
    output_schema: {type: object, properties: {answer: {type: string}}}
    tags: [support]
    message: first version
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from rippleops.domain import templating
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError, PayloadTooLargeError

PARAM_RULES: dict[str, tuple[type | tuple[type, ...], float | None, float | None]] = {  # type, min, max
    "temperature": ((int, float), 0.0, 2.0),
    "top_p": ((int, float), 0.0, 1.0),
    "max_tokens": (int, 1, 1_000_000),
    "presence_penalty": ((int, float), -2.0, 2.0),
    "frequency_penalty": ((int, float), -2.0, 2.0),
    "seed": (int, None, None),
    "n": (int, 1, 128),
}
SPEC_FIELDS = (
    "template",
    "messages",
    "variables",
    "model",
    "params",
    "output_schema",
    "tags",
    "message",
    "description",
)


class PromptSpec(BaseModel):
    """What a user gives to create a prompt version (file, JSON body or SDK keywords)."""

    model_config = ConfigDict(extra="forbid")

    template: str | None = None
    messages: list[dict[str, Any]] | None = None
    variables: Any = None
    model: str | None = None
    params: dict[str, Any] = {}
    output_schema: dict[str, Any] | None = None
    tags: list[str] = []
    message: str = ""
    description: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> PromptSpec:
        if (self.template is None) == (self.messages is None):
            raise ValueError("give exactly one of `template:` (a text prompt) or `messages:` (a chat prompt)")
        return self

    @field_validator("model")
    @classmethod
    def _model_ref(cls, v: str | None) -> str | None:
        if v is not None and "/" in v:
            parse_ref(v)  # model/NAME@label; plain provider ids such as "gpt-4o" are kept as they are
        return v

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, (types, lo, hi) in PARAM_RULES.items():
            if key not in v:
                continue
            val = v[key]
            if isinstance(val, bool) or not isinstance(val, types) or not isinstance(val, int | float):
                raise ValueError(f"params.{key} must be a number, got {val!r}")
            if (lo is not None and val < lo) or (hi is not None and val > hi):
                raise ValueError(f"params.{key} must be between {lo} and {hi}, got {val}")
        return v

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and not ({"type", "properties", "$schema", "$ref", "anyOf", "oneOf", "enum"} & v.keys()):
            raise ValueError("output_schema must be a JSON Schema object (with `type`, `properties`, ...)")
        return v

    @property
    def kind(self) -> str:
        return "text" if self.template is not None else "chat"

    def content(self) -> dict[str, Any]:
        """The hashed content fields; tags, message and description are metadata."""
        messages = templating.normalize_messages(self.messages) if self.messages is not None else None
        templating.check_syntax(self.kind, self.template, messages)
        return {
            "type": self.kind,
            "template": self.template,
            "messages": messages,
            "variables": templating.normalize_variables(self.variables),
            "model": self.model,
            "params": self.params,
            "output_schema": self.output_schema,
        }


def parse_spec(data: Any, source: str = "prompt") -> PromptSpec:
    """Validate a mapping into a spec; errors name the field and the way out."""
    if not isinstance(data, dict):
        raise InvalidError(f"{source} must be a mapping with `template:` or `messages:`, got {type(data).__name__}")
    unknown = sorted(set(data) - set(SPEC_FIELDS))
    if unknown:
        raise InvalidError(f"{source} has unknown fields: {', '.join(unknown)}; allowed: {', '.join(SPEC_FIELDS)}")
    try:
        return PromptSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'prompt'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InvalidError(f"{source} is not a valid prompt: {problems}") from None


def parse_spec_text(text: str, source: str = "prompt file") -> PromptSpec:
    """Parse YAML (JSON is YAML too) into a spec."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        raise InvalidError(f"{source} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_spec(data, source)


def parse_spec_bytes(data: bytes, source: str, limit: int) -> PromptSpec:
    """A prompt file's bytes (read by the caller, at most ``limit + 1`` of them) as a spec."""
    if len(data) > limit:
        raise PayloadTooLargeError(f"{source} is too large: the limit is {limit} bytes (RIPPLE_MAX_PAYLOAD_BYTES)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidError(f"{source} is not UTF-8 text") from None
    return parse_spec_text(text, source)


def _body_text(content: dict[str, Any]) -> list[str]:
    if content.get("type") == "text":
        return str(content.get("template") or "").splitlines(keepends=True)
    return yaml.safe_dump(content.get("messages") or [], sort_keys=False, allow_unicode=True).splitlines(keepends=True)


def diff_contents(a_ref: str, a: dict[str, Any], b_ref: str, b: dict[str, Any]) -> dict[str, Any]:
    """A unified diff of the template/messages and a list of the other fields that changed."""
    body = "".join(difflib.unified_diff(_body_text(a), _body_text(b), fromfile=a_ref, tofile=b_ref))
    changes = []
    for key in ("type", "variables", "model", "params", "output_schema"):
        if a.get(key) != b.get(key):
            changes.append({"field": key, "from": a.get(key), "to": b.get(key)})
    return {"from": a_ref, "to": b_ref, "same": not body and not changes, "diff": body, "changes": changes}


def describe_value(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False)
