"""JSON output that meets a schema (the validator's own, or the caller's
``GuardContext.output_schema``); with neither, the output must merely be JSON."""

from __future__ import annotations

import json
from typing import Any

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import ValidatorSpec
from rippleops.errors import InvalidError
from rippleops.runtime.guards.base import Outcome, Validator, require_text
from rippleops.runtime.guards.text import extract_json, parse_json

#: Most violations a finding (and a re-ask) names.
MAX_VIOLATIONS = 5


def _validator_class() -> Any:
    try:
        from jsonschema import Draft202012Validator
    except ImportError as exc:  # an optional dependency: the 'data' extra brings it
        raise InvalidError("json_schema validators need jsonschema: pip install 'rippleops[data]'") from exc
    return Draft202012Validator


def violations(value: Any, schema: dict[str, Any]) -> list[str]:
    """What is wrong with ``value`` under ``schema``, as ``$.path: message`` lines."""
    cls = _validator_class()
    errors = sorted(cls(schema).iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    out = []
    for e in errors[:MAX_VIOLATIONS]:
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
        out.append(f"{path}: {e.message}")
    return out


class JsonSchemaValidator(Validator):
    """Fails on output that is not JSON, or not JSON meeting the schema. ``fix`` strips
    text around the JSON value (a preamble, code fences) when what is left meets the schema."""

    whole_text = True

    def __init__(self, spec: ValidatorSpec) -> None:
        super().__init__(spec)
        _validator_class()  # a missing extra fails when the policy is registered

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "json_schema")
        schema = self.spec.settings.get("schema") or ctx.output_schema
        value, problem = parse_json(text)
        fixed: str | None = None
        if problem is not None:
            found = extract_json(text)
            if found is None:
                return self._fail(problem, schema, [])
            value, fixed = found
        problems = violations(value, schema) if schema else []
        if problem is None and not problems:
            return Outcome(True, "valid JSON" + (" meeting the schema" if schema else ""))
        if problem is not None and not problems:
            return Outcome(
                False,
                f"{problem}; the JSON inside it meets the schema",
                {"extractable": True},
                fixed=fixed,
                reask="Answer with the JSON value only: no text before or after it, no code fences.",
            )
        return self._fail("does not meet the schema: " + "; ".join(problems), schema, problems)

    def _fail(self, message: str, schema: dict[str, Any] | None, problems: list[str]) -> Outcome:
        lines = "".join(f"\n  - {p}" for p in problems)
        wanted = f" that meets this JSON schema: {json.dumps(schema, separators=(',', ':'))}" if schema else ""
        return Outcome(
            False,
            message,
            {"violations": problems},
            reask=f"Answer with JSON only{wanted}.{' Problems in your answer:' + lines if problems else ''}",
        )
