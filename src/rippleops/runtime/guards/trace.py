"""A guard decision as span attributes: what an app's ``GUARDRAIL`` span records."""

from __future__ import annotations

import json
from typing import Any

from rippleops.domain.guards import GuardResult
from rippleops.runtime.tracing import (
    GUARD_DECISION,
    GUARD_FINDINGS,
    GUARD_STAGE,
    INPUT_VALUE,
    LATENCY_MS,
    OUTPUT_VALUE,
    POLICY_REF,
)


def span_attributes(result: GuardResult, *, text: str | None = None, stage: str | None = None) -> dict[str, Any]:
    """Attributes for the span of one check: the policy version, stage, decision, the
    findings (JSON, each with its latency) and the total latency; ``text`` is the checked
    text (``input.value``), the result's text is ``output.value``. ``stage`` overrides the
    result's (``stream`` for a guarded stream).

    >>> from rippleops.domain.guards import GuardResult
    >>> r = GuardResult(stage="input", policy="policy/p:1", decision="allow", blocked=False, text="hi")
    >>> span_attributes(r)["ripple.guard.decision"]
    'allow'
    """
    attrs: dict[str, Any] = {
        POLICY_REF: result.policy,
        GUARD_STAGE: stage or result.stage,
        GUARD_DECISION: result.decision,
        GUARD_FINDINGS: json.dumps([f.model_dump(mode="json") for f in result.findings], ensure_ascii=False),
        LATENCY_MS: result.latency_ms,
        OUTPUT_VALUE: result.text,
    }
    if text is not None:
        attrs[INPUT_VALUE] = text
    return attrs
