"""Personal data: presidio's pattern recognizers through :class:`PiiScanner` (offline, no
NLP model); redaction puts ``<EMAIL_ADDRESS>``-style placeholders where the data was."""

from __future__ import annotations

from collections import Counter

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import ValidatorSpec
from rippleops.runtime.analyzers.pii import PiiScanner, mask
from rippleops.runtime.guards.base import Outcome, Span, Validator, require_text


class PiiValidator(Validator):
    """Fails when the text holds personal data of the configured entity types."""

    def __init__(self, spec: ValidatorSpec) -> None:
        super().__init__(spec)
        s = spec.settings
        # Built here so unknown entity types fail when the policy is registered.
        self.scanner = PiiScanner(s.get("entities"), min_score=s["min_score"])
        self.replacement: str = s["replacement"]

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "pii")
        found = self.scanner.scan(text)
        if not found:
            return Outcome(True, "no personal data")
        counts = Counter(f.entity for f in found)
        summary = ", ".join(f"{n} {entity}" for entity, n in sorted(counts.items()))
        return Outcome(
            False,
            f"personal data: {summary}",
            {
                "entities": dict(sorted(counts.items())),
                "spans": [
                    {
                        "entity": f.entity,
                        "start": f.start,
                        "end": f.end,
                        "score": f.score,
                        "hint": mask(text[f.start : f.end]),
                    }
                    for f in found
                ],
            },
            spans=tuple(Span(f.start, f.end, self.replacement.replace("{entity}", f.entity)) for f in found),
        )
