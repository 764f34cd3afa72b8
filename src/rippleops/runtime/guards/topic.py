"""Topic restriction by embedding similarity: the text against descriptions of the
allowed and the blocked topics (embedded once per policy version and embedder).

It fails when the text is closer to a blocked topic than ``threshold`` (and closer to it
than to any allowed one), or, when allowed topics are given, when no allowed topic is as
close as ``threshold``. Descriptions work best as a few words or a sentence each
("questions about datasets, prompts and indexes").
"""

from __future__ import annotations

import numpy as np

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import ValidatorSpec
from rippleops.errors import InvalidError
from rippleops.runtime.guards.base import Embedding, Outcome, Validator, require_text
from rippleops.runtime.guards.embedding import fixed_vectors, unit_rows


class TopicValidator(Validator):
    """Fails on text about a blocked topic, or about none of the allowed ones."""

    def __init__(self, spec: ValidatorSpec, embedding: Embedding | None) -> None:
        super().__init__(spec)
        self.embedding = embedding
        self.allowed: list[str] = spec.settings["allowed"]
        self.blocked: list[str] = spec.settings["blocked"]

    def _embedding(self) -> Embedding:
        if self.embedding is None:
            raise InvalidError("a topic validator needs an embedder; build the guard through the policy service")
        return self.embedding

    def warm(self) -> None:
        fixed_vectors(self._embedding(), self.allowed + self.blocked)

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "topic")
        if not text.strip():
            return Outcome(True, "empty text", {})
        threshold = self.spec.settings["threshold"]
        embedding = self._embedding()
        topics = fixed_vectors(embedding, self.allowed + self.blocked)
        sims = (unit_rows(embedding, [text]) @ topics.T)[0]
        allowed, blocked = sims[: len(self.allowed)], sims[len(self.allowed) :]
        best_allowed = float(np.max(allowed)) if len(allowed) else None
        best_blocked = float(np.max(blocked)) if len(blocked) else None
        details: dict[str, object] = {"threshold": threshold}
        if best_allowed is not None:
            details["allowed"] = {"topic": self.allowed[int(np.argmax(allowed))], "similarity": round(best_allowed, 4)}
        if best_blocked is not None:
            details["blocked"] = {"topic": self.blocked[int(np.argmax(blocked))], "similarity": round(best_blocked, 4)}
        if (
            best_blocked is not None
            and best_blocked >= threshold
            and (best_allowed is None or best_blocked > best_allowed)
        ):
            topic = self.blocked[int(np.argmax(blocked))]
            return Outcome(
                False,
                f"about a blocked topic {topic!r} (similarity {best_blocked:.2f} >= {threshold:g})",
                details,
                reask=f"Do not discuss {topic}; keep to the topics you are here for.",
            )
        if best_allowed is not None and best_allowed < threshold:
            topic = self.allowed[int(np.argmax(allowed))]
            return Outcome(
                False,
                f"off topic: the closest allowed topic {topic!r} is at {best_allowed:.2f} < {threshold:g}",
                details,
                reask=f"Keep to these topics: {'; '.join(self.allowed)}.",
            )
        return Outcome(True, "on topic", details)
