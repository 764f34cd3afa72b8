"""What a guard says about a text: one :class:`Finding` per validator and a
:class:`GuardResult` for the whole policy. Pure value types, shared by the runtime (which
makes them), the services and every interface (which show them).

Decisions, weakest first (:data:`DECISIONS`): ``allow`` < ``warn`` < ``redact`` < ``fix`` <
``reask`` < ``error`` < ``block``. A result's ``decision`` is the strongest action taken by
any validator; ``error`` means a validator raised, and the policy's ``on_error`` said
whether that blocks (``closed``) or lets the text through (``open``).

>>> strongest(["allow", "redact", "warn"])
'redact'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Every decision, weakest first.
DECISIONS: tuple[str, ...] = ("allow", "warn", "redact", "fix", "reask", "error", "block")
#: What a validator may be told to do when it fails.
ACTIONS: tuple[str, ...] = ("block", "redact", "fix", "reask", "warn")
STAGES: tuple[str, ...] = ("input", "output")
_RANK = {d: i for i, d in enumerate(DECISIONS)}


def strongest(decisions: Iterable[str]) -> str:
    """The strongest of ``decisions`` (``allow`` for none)."""
    return max(decisions, key=_RANK.__getitem__, default="allow")


@dataclass(frozen=True)
class GuardContext:
    """What validators may need besides the text itself."""

    query: str | None = None  # the user's question (topic, relevance checks)
    contexts: tuple[str, ...] = field(default=())  # retrieved passages (groundedness)
    output_schema: dict[str, Any] | None = None  # JSON schema the output must meet (if the policy validates JSON)


class Finding(BaseModel):
    """One validator's verdict on one text.

    ``action`` is what the validator did: ``allow`` when it passed, its configured action
    (``block``, ``redact``, ``fix``, ``reask``, ``warn``) when it failed, ``error`` when it
    raised. ``details`` holds the validator's evidence (scores, spans, the rule that matched)."""

    model_config = ConfigDict(extra="ignore")

    validator: str
    action: str
    passed: bool
    message: str
    latency_ms: float
    details: dict[str, Any] = Field(default_factory=dict)


class GuardResult(BaseModel):
    """A policy's verdict on one text (an input, an output, or a whole stream)."""

    model_config = ConfigDict(extra="ignore")

    stage: str  # input | output
    policy: str  # exact policy version, e.g. policy/default:2
    decision: str  # allow | warn | redact | fix | reask | block | error (the strongest taken)
    blocked: bool
    text: str  # the text to pass on: redacted/fixed text, or the policy's safe answer when blocked
    reask: str | None = None  # when decision == "reask": the instruction to append for another try
    findings: list[Finding] = Field(default_factory=list)
    latency_ms: float = 0.0
