"""Guarding a model's output as it streams, with a sliding window.

Text leaves only once it is ``stream_window`` characters behind the head of the stream,
so a redaction can replace it, and a block can stop the stream, before it goes out:

- the window validators (patterns, deny lists, PII, profanity, topic, injection) run on the
  text near the head each time enough new text has come (``step``: a quarter of the window,
  at least 8 characters), with ``stream_window`` characters of context before the held text;
  a match that touches the head is left for the next check (it may still grow);
- a length check sees all the text so far: past ``max_chars`` it stops the model
  (``fix``: the text is cut at the last sentence that fits; ``block``: the safe answer);
- whole-text validators (``json_schema``, ``groundedness``, ``format``) run once, at the end,
  before the last window leaves. Their ``block`` replaces only what is still held back (the
  safe answer goes out instead); a ``reask`` or a ``fix`` that would change text already
  sent cannot be made on a stream: the result says so (decision ``reask``, with the
  instruction, for the caller to regenerate; a fix becomes ``warn``).

A block stops the model's text (its iterator is closed), yields the safe answer as the last
delta and ends. ``GuardedStream.result`` holds the :class:`GuardResult` once the stream is
exhausted (or closed): its ``text`` is everything the stream yielded, and each validator
has one finding, its latency summed over all its checks (``details.checks`` of them).
A match longer than the window may be caught too late: keep the window longer than what
you redact (64 characters covers e-mail addresses, card and phone numbers).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

from rippleops.domain.guards import Finding, GuardContext, GuardResult
from rippleops.errors import InvalidError
from rippleops.runtime.guards.base import Outcome, Span, Validator, apply_spans
from rippleops.runtime.guards.checks import run_validator
from rippleops.runtime.guards.text import truncate_at_sentence

if TYPE_CHECKING:
    from rippleops.runtime.guards.guard import Guard

MIN_STEP = 8


class _Tally:
    """One validator's findings over a stream, folded into one."""

    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self.checks = 0
        self.latency_ms = 0.0
        self.failed: Finding | None = None
        self.last: Finding | None = None

    def add(self, finding: Finding) -> None:
        self.checks += 1
        self.latency_ms += finding.latency_ms
        self.last = finding
        if not finding.passed and self.failed is None:
            self.failed = finding

    def finding(self) -> Finding | None:
        chosen = self.failed or self.last
        if chosen is None:
            return None
        details = {**chosen.details, "checks": self.checks, "streamed": True}
        return chosen.model_copy(update={"latency_ms": round(self.latency_ms, 3), "details": details})


class GuardedStream(Iterator[str]):
    """Safe deltas of a model's stream under a policy's ``output:`` validators.

    Iterate it like the model's own stream; ``result`` is set once it ends; ``close()``
    stops early and closes the model's stream too."""

    def __init__(self, guard: Guard, deltas: Iterator[str], ctx: GuardContext) -> None:
        self.guard = guard
        self.ctx = ctx
        self.result: GuardResult | None = None
        self._upstream = deltas
        self._started = time.perf_counter()
        validators = guard.validators["output"]
        self._tallies = [_Tally(v) for v in validators]
        self._window = guard.stream_window
        self._step = max(MIN_STEP, self._window // 4)
        self._text = ""  # everything so far, as transformed
        self._released = 0  # how much of it has gone out
        self._sent: list[str] = []
        self._blocked = False
        self._reasks: list[str] = []
        self._upstream_closed = False
        self._gen = self._run()

    def __iter__(self) -> GuardedStream:
        return self

    def __next__(self) -> str:
        return next(self._gen)

    def close(self) -> None:
        """Stop: close the model's stream, and settle :attr:`result` with what went out."""
        self._close_upstream()
        self._gen.close()
        if self.result is None:
            self._finish()

    # -- the work ---------------------------------------------------------------------------------

    def _run(self) -> Generator[str, None, None]:
        try:
            last_check = 0
            for delta in self._upstream:
                if not isinstance(delta, str):
                    raise InvalidError(f"a guarded stream takes text deltas, not {type(delta).__name__}")
                self._text += delta
                if len(self._text) - last_check < self._step and len(self._text) - self._released <= 2 * self._window:
                    continue
                last_check = len(self._text)
                if self._check_window(final=False):  # a block, or a fix that cut the text short
                    self._close_upstream()
                    break
                yield from self._release(len(self._text) - self._window)
            if not self._blocked and not self._check_window(final=True):
                self._check_whole()
            if self._blocked:  # what is held back never goes out
                yield from self._emit(self.guard.safe_answer)
            else:
                yield from self._release(len(self._text))
        finally:
            if self.result is None:
                self._finish()

    def _emit(self, text: str) -> Iterator[str]:
        if text:
            self._sent.append(text)
            yield text

    def _release(self, upto: int) -> Iterator[str]:
        if upto > self._released:
            piece = self._text[self._released : upto]
            self._released = upto
            yield from self._emit(piece)

    def _check_window(self, *, final: bool) -> bool:
        """Window validators on the text near the head; True when the stream must stop."""
        start = max(0, self._released - self._window)
        head = len(self._text)
        for tally in self._tallies:
            v = tally.validator
            if v.whole_text:
                continue
            offset = start if v.windowed else 0
            piece = self._text[offset:]
            finding, outcome = run_validator(v, piece, self.ctx)
            tally.add(finding)
            if finding.action == "error":
                if self.guard.on_error == "closed":
                    return self._block()
                continue
            if outcome is None or outcome.passed:
                continue
            if finding.action == "block":
                return self._block()
            if finding.action == "redact":
                spans = [
                    Span(s.start + offset, s.end + offset, s.replacement)
                    for s in outcome.spans
                    if final or s.end + offset < head  # touching the head: it may still grow
                ]
                self._text = apply_spans(self._text, spans, self._released)
            elif finding.action == "fix" and outcome.fixed is not None and not v.windowed:
                fixed = outcome.fixed
                if len(fixed) < self._released and "max_chars" in v.spec.settings:
                    fixed = truncate_at_sentence(self._text, v.spec.settings["max_chars"], self._released)
                self._text = fixed if len(fixed) >= self._released else self._text[: self._released]
                return True  # the model has written enough: stop it
            elif finding.action == "reask":
                self._reasks.append(f"{v.name}: {outcome.reask or outcome.message}")
        return False

    def _check_whole(self) -> None:
        for tally in self._tallies:
            v = tally.validator
            if not v.whole_text:
                continue
            finding, outcome = run_validator(v, self._text, self.ctx)
            if finding.action == "error":
                tally.add(finding)
                if self.guard.on_error == "closed":
                    self._block()
                    return
                continue
            if outcome is not None and not outcome.passed:
                finding = self._whole_action(v, finding, outcome)
            tally.add(finding)
            if finding.action == "block":
                self._block()
                return

    def _whole_action(self, v: Validator, finding: Finding, outcome: Outcome) -> Finding:
        if finding.action == "fix" and outcome.fixed is not None:
            if outcome.fixed.startswith(self._text[: self._released]):
                self._text = outcome.fixed
                return finding
            return finding.model_copy(
                update={"action": "warn", "message": f"{finding.message}; the text had gone out, so it was not fixed"}
            )
        if finding.action == "redact":
            self._text = apply_spans(self._text, outcome.spans, self._released)
        if finding.action == "reask":
            self._reasks.append(f"{v.name}: {outcome.reask or outcome.message}")
        return finding

    def _block(self) -> bool:
        self._blocked = True
        return True

    def _close_upstream(self) -> None:
        if self._upstream_closed:
            return
        self._upstream_closed = True
        close = getattr(self._upstream, "close", None)
        if callable(close):
            close()

    def _finish(self) -> None:
        findings = [f for t in self._tallies if (f := t.finding()) is not None]
        result = self.guard.result("output", "".join(self._sent), findings, self._blocked, self._reasks, self._started)
        # The stream's text is what it yielded (with the safe answer when it blocked).
        self.result = result.model_copy(update={"text": "".join(self._sent)})
