"""Running one validator: timed, its exception turned into an ``error`` finding."""

from __future__ import annotations

import logging
import time

from rippleops.domain.guards import Finding, GuardContext
from rippleops.errors import RippleError
from rippleops.runtime.guards.base import Outcome, Validator

log = logging.getLogger(__name__)


def run_validator(validator: Validator, text: str, ctx: GuardContext) -> tuple[Finding, Outcome | None]:
    """One validator on ``text``, timed; an exception becomes an ``error`` finding."""
    started = time.perf_counter()
    try:
        outcome = validator.check(text, ctx)
    except Exception as exc:  # the boundary around one validator: recorded, and on_error decides
        ms = round((time.perf_counter() - started) * 1000, 3)
        message = exc.message if isinstance(exc, RippleError) else f"{type(exc).__name__}: {exc}"
        log.warning("validator %s raised: %s", validator.where, message)
        details = {"stage": validator.spec.stage, "index": validator.spec.index, "error": type(exc).__name__}
        return Finding(
            validator=validator.name, action="error", passed=False, message=message, latency_ms=ms, details=details
        ), None
    ms = round((time.perf_counter() - started) * 1000, 3)
    action = "allow" if outcome.passed else validator.action
    if action == "fix" and outcome.fixed is None:
        action = "block"  # a fix that cannot be made: the text does not go out unchecked
        outcome = Outcome(False, f"{outcome.message}; it cannot be fixed, so it is blocked", outcome.details)
    details = {"stage": validator.spec.stage, "index": validator.spec.index, **outcome.details}
    finding = Finding(
        validator=validator.name, action=action, passed=outcome.passed, message=outcome.message,
        latency_ms=ms, details=details,
    )  # fmt: skip
    return finding, outcome


def reask_instruction(reasks: list[str]) -> str:
    lines = "\n".join(f"- {r}" for r in reasks)
    return f"Your previous answer was not accepted:\n{lines}\nWrite the answer again, fixing these problems."
