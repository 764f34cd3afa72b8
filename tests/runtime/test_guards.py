"""Validators, actions and the stream guard, on real texts, without models (the
embedding and profanity validators are in test_guard_models.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import parse_policy
from rippleops.errors import InvalidError
from rippleops.runtime.guards import Guard

SAFE = "Sorry, I can't share that."


def guard(**spec: Any) -> Guard:
    return Guard("policy/test:1", parse_policy({"safe_answer": SAFE, **spec}))


# --- PII --------------------------------------------------------------------------------------

PII_POSITIVE = [
    (
        "Hi, I'm Dana, write to dana.k@fastmail.com if the parcel is late.",
        "Hi, I'm Dana, write to <EMAIL_ADDRESS> if the parcel is late.",
    ),
    ("My card 4111 1111 1111 1111 was charged twice in March.", "My card <CREDIT_CARD> was charged twice in March."),
    ("Call me back on +44 20 7946 0958 after 5pm please", "Call me back on <PHONE_NUMBER> after 5pm please"),
    (
        "The refund should go to IBAN GB82 WEST 1234 5698 7654 32, thanks",
        "The refund should go to IBAN <IBAN_CODE>, thanks",
    ),
    ("Our server at 192.168.10.24 keeps timing out", "Our server at <IP_ADDRESS> keeps timing out"),
]
PII_NEGATIVE = [
    "How do I register a new version of a dataset?",
    "Order #350258 arrived on 12 March with two items missing.",
    "Set chunk_size to 512 and overlap to 64 for long documents.",
    "Version 2.3.1 fixed the bug; see page 14 of the manual.",
]


@pytest.mark.parametrize(("text", "redacted"), PII_POSITIVE)
def test_pii_redacts_with_placeholders(text: str, redacted: str) -> None:
    r = guard(
        input=[{"type": "pii", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS"]}]
    ).check_input(text)
    assert (r.decision, r.blocked, r.text) == ("redact", False, redacted)
    assert r.findings[0].passed is False and r.findings[0].details["spans"][0]["hint"].count("*") > 3


@pytest.mark.parametrize("text", PII_NEGATIVE)
def test_pii_leaves_ordinary_text(text: str) -> None:
    r = guard(input=[{"type": "pii"}]).check_input(text)
    assert (r.decision, r.text) == ("allow", text)


def test_pii_block_and_warn() -> None:
    text = "send it to ana@example.org"
    assert guard(input=[{"type": "pii", "action": "block"}]).check_input(text).text == SAFE
    warned = guard(input=[{"type": "pii", "action": "warn"}]).check_input(text)
    assert (warned.decision, warned.blocked, warned.text) == ("warn", False, text)


# --- regex and deny lists ---------------------------------------------------------------------


def test_deny_matches_whole_words_only() -> None:
    g = guard(input=[{"type": "deny", "words": ["ass", "wire transfer"]}])
    assert g.check_input("Which class should I pass to the assistant?").decision == "allow"
    assert g.check_input("Do a WIRE   transfer now").decision == "allow"  # phrases match as written
    r = g.check_input("Please make a Wire Transfer of 500 EUR")
    assert (r.decision, r.text, r.findings[0].details["matches"]) == ("block", SAFE, [{"start": 14, "end": 27}])
    strict = guard(input=[{"type": "deny", "words": ["Acme"], "ignore_case": False}])
    assert strict.check_input("acme is fine").decision == "allow"
    assert strict.check_input("Acme is not").decision == "block"


def test_regex_redacts_every_match() -> None:
    g = guard(output=[{"type": "regex", "pattern": r"sk-[A-Za-z0-9]{8,}", "action": "redact", "replacement": "[key]"}])
    r = g.check_output("Use sk-abcdEFGH1234 or the older sk-zzzzzzzzzz in the header.")
    assert r.text == "Use [key] or the older [key] in the header."
    assert r.findings[0].message == "2 pattern matches: 'sk-abcdEFGH1234', 'sk-zzzzzzzzzz'"


def test_regex_reask_names_the_match() -> None:
    r = guard(output=[{"type": "regex", "pattern": "(?i)as an ai", "action": "reask"}]).check_output(
        "As an AI, I cannot have opinions."
    )
    assert (r.decision, r.blocked) == ("reask", False)
    assert r.reask == (
        "Your previous answer was not accepted:\n- regex: Do not write 'As an AI'.\n"
        "Write the answer again, fixing these problems."
    )


# --- length and format ------------------------------------------------------------------------

ANSWER = (
    "You can roll back by moving the production label to version 3. "
    "Run ripple prompt label answer production 3. The change takes effect at once, "
    "and the audit log records who moved it."
)


def test_length_fix_cuts_at_a_sentence() -> None:
    r = guard(output=[{"type": "length", "max_chars": 100}]).check_output(ANSWER)
    assert (r.decision, r.text) == ("fix", "You can roll back by moving the production label to version 3.")
    assert r.findings[0].details == {"stage": "output", "index": 0, "chars": len(ANSWER), "max_chars": 100}
    short = guard(output=[{"type": "length", "min_chars": 20, "action": "reask"}]).check_output("Yes.")
    assert short.reask is not None and "at least 20 characters" in short.reask


def test_format_json_fix_strips_to_the_json() -> None:
    g = guard(output=[{"type": "format", "json": True, "action": "fix"}])
    fenced = 'Here you go:\n```json\n{"answer": "yes", "sources": [1, 2]}\n```\nAnything else?'
    r = g.check_output(fenced)
    assert (r.decision, r.text) == ("fix", '{"answer": "yes", "sources": [1, 2]}')
    assert g.check_output('{"answer": "yes"}').decision == "allow"
    nothing = g.check_output("I don't know.")
    assert (nothing.decision, nothing.text) == ("block", SAFE)  # a fix that cannot be made blocks
    assert "cannot be fixed" in nothing.findings[0].message


def test_format_pattern() -> None:
    g = guard(output=[{"type": "format", "pattern": r"(yes|no)\.?", "action": "block"}])
    assert g.check_output(" yes. ").decision == "allow"
    assert g.check_output("yes, probably").decision == "block"


# --- JSON schema ------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["answer", "confidence"],
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
    "additionalProperties": False,
}


def test_json_schema_reask_names_the_violations() -> None:
    g = guard(output=[{"type": "json_schema", "schema": SCHEMA}], max_reasks=2)
    r = g.check_output('{"answer": 42, "confidence": 1.5}')
    assert (r.decision, r.blocked, g.max_reasks) == ("reask", False, 2)
    assert r.findings[0].details["violations"] == [
        "$.answer: 42 is not of type 'string'",
        "$.confidence: 1.5 is greater than the maximum of 1",
    ]
    assert r.reask is not None
    assert "$.answer: 42 is not of type 'string'" in r.reask and '"required":["answer","confidence"]' in r.reask
    assert g.check_output('{"answer": "yes", "confidence": 0.9}').decision == "allow"
    missing = g.check_output('{"answer": "yes"}')
    assert missing.findings[0].details["violations"] == ["$: 'confidence' is a required property"]


def test_json_schema_fix_and_context_schema() -> None:
    g = guard(output=[{"type": "json_schema", "action": "fix"}])
    ctx = GuardContext(output_schema=SCHEMA)
    r = g.check_output('Sure! {"answer": "yes", "confidence": 0.5} Hope it helps.', ctx)
    assert (r.decision, r.text) == ("fix", '{"answer": "yes", "confidence": 0.5}')
    assert g.check_output('{"answer": "yes"}', ctx).decision == "block"  # cannot be fixed
    assert g.check_output('{"anything": true}').decision == "allow"  # no schema anywhere: JSON is enough


# --- actions together, errors -------------------------------------------------------------------


def test_validators_see_each_others_changes_and_block_stops() -> None:
    g = guard(
        input=[
            {"type": "pii", "entities": ["EMAIL_ADDRESS"]},
            {"type": "regex", "pattern": "<EMAIL_ADDRESS>", "action": "warn"},
            {"type": "deny", "words": ["refund"]},
            {"type": "length", "max_chars": 5, "action": "block"},
        ]
    )
    r = g.check_input("mail bo@example.com about my refund")
    assert [f.action for f in r.findings] == ["redact", "warn", "block"]  # the length check never ran
    assert (r.decision, r.blocked, r.text) == ("block", True, SAFE)


CATASTROPHIC = {"type": "regex", "pattern": "^(a|aa)+$", "action": "block"}


def test_a_validator_that_raises_fails_closed() -> None:
    g = guard(input=[{"type": "pii", "entities": ["EMAIL_ADDRESS"]}, CATASTROPHIC])
    r = g.check_input("a" * 40 + "b")  # backtracks for ever: the regex timeout stops it
    assert (r.decision, r.blocked, r.text) == ("error", True, SAFE)
    err = r.findings[1]
    assert (err.action, err.passed, err.details["error"]) == ("error", False, "TimeoutError")
    assert err.latency_ms >= 200


def test_a_validator_that_raises_fails_open() -> None:
    g = guard(input=[CATASTROPHIC, {"type": "deny", "words": ["stop"], "action": "warn"}], on_error="open")
    r = g.check_input("a" * 40 + "b stop")
    assert (r.decision, r.blocked, r.text) == ("error", False, "a" * 40 + "b stop")
    assert [f.action for f in r.findings] == ["error", "warn"]


def test_format_check_that_times_out_is_an_error() -> None:
    g = guard(output=[{"type": "format", "pattern": "(a|aa)+"}], on_error="open")
    r = g.check_output("a" * 40 + "b")
    assert (r.decision, r.blocked) == ("error", False)
    assert r.findings[0].message.startswith("TimeoutError: ")
    with pytest.raises(InvalidError, match="a guard checks text, not int"):
        g.check_output(123)  # type: ignore[arg-type]


# --- streams ----------------------------------------------------------------------------------


class Upstream:
    """A model's stream: yields deltas, records whether it was closed early."""

    def __init__(self, deltas: list[str]) -> None:
        self.deltas = deltas
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[str]:
        try:
            for d in self.deltas:
                self.sent += 1
                yield d
        finally:
            self.closed = self.sent < len(self.deltas)


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


STREAM_TEXT = (
    "Thanks for waiting. The account owner is listed as maria.gonzalez@example.com and the backup "
    "contact is ops-team@example.org; both get the weekly report. Anything else I can help with?"
)


@pytest.mark.parametrize("size", [1, 3, 7, 50])
def test_stream_redacts_across_delta_boundaries(size: int) -> None:
    g = guard(output=[{"type": "pii", "entities": ["EMAIL_ADDRESS"]}], stream_window=40)
    up = Upstream(pieces(STREAM_TEXT, size))
    stream = g.stream(iter(up))
    out = list(stream)
    expected = g.check_output(STREAM_TEXT).text
    assert "".join(out) == expected
    assert "@" not in "".join(out) and expected.count("<EMAIL_ADDRESS>") == 2
    assert stream.result is not None and stream.result.decision == "redact" and stream.result.text == expected
    assert stream.result.findings[0].details["checks"] >= 1
    if size < 40:
        assert len(out) > 1  # text left as it was guarded, not all at the end


def test_stream_holds_back_the_window() -> None:
    g = guard(output=[{"type": "deny", "words": ["never"]}], stream_window=30)
    text = "a" * 100
    seen: list[int] = []
    up = iter(pieces(text, 5))
    stream = g.stream(up)
    consumed = 0
    for delta in stream:
        seen.append(len(delta))
        consumed += len(delta)
        assert consumed <= 100
    assert sum(seen) == 100 and stream.result is not None and stream.result.decision == "allow"


def test_stream_block_stops_and_closes_the_upstream() -> None:
    g = guard(output=[{"type": "deny", "words": ["rm -rf /"]}], stream_window=32)
    text = "Sure. To clean up, run sudo rm -rf / on the server and then reboot it. " + "More text. " * 30
    up = Upstream(pieces(text, 4))
    stream = g.stream(iter(up))
    out = list(stream)
    assert out[-1] == SAFE and "rm -rf" not in "".join(out)
    assert up.closed and up.sent < len(up.deltas)
    assert stream.result is not None
    assert (stream.result.decision, stream.result.blocked) == ("block", True)
    assert stream.result.text == "".join(out)


def test_stream_length_fix_stops_the_model() -> None:
    g = guard(output=[{"type": "length", "max_chars": 100}], stream_window=64)
    up = Upstream(pieces(ANSWER * 5, 6))
    stream = g.stream(iter(up))
    out = "".join(stream)
    assert out == "You can roll back by moving the production label to version 3."
    assert up.closed and stream.result is not None and stream.result.decision == "fix"
    # A small window has let more out before the check: the cut falls after it, on a word.
    narrow = guard(output=[{"type": "length", "max_chars": 100}], stream_window=16).stream(iter(pieces(ANSWER, 6)))
    cut = "".join(narrow)
    assert 63 < len(cut) <= 100 and ANSWER.startswith(cut) and ANSWER[len(cut)] == " "


def test_stream_whole_text_validators_run_at_the_end() -> None:
    g = guard(output=[{"type": "json_schema", "schema": SCHEMA, "action": "block"}], stream_window=64)
    good = '{"answer": "yes", "confidence": 0.75}'
    s1 = g.stream(iter(pieces(good, 3)))
    assert "".join(s1) == good and s1.result is not None and s1.result.decision == "allow"
    bad = '{"answer": 7, "confidence": 0.75}'  # shorter than the window: nothing left before the end
    s2 = g.stream(iter(pieces(bad, 3)))
    assert list(s2) == [SAFE] and s2.result is not None and s2.result.blocked
    reask = guard(output=[{"type": "json_schema", "schema": SCHEMA}]).stream(iter(pieces(bad, 3)))
    assert "".join(reask) == bad
    assert reask.result is not None and reask.result.decision == "reask" and "$.answer" in (reask.result.reask or "")


def test_stream_close_early_closes_upstream_and_settles_result() -> None:
    g = guard(output=[{"type": "deny", "words": ["x"]}], stream_window=0)
    up = Upstream(pieces("hello world " * 20, 4))
    stream = g.stream(iter(up))
    first = next(stream)
    stream.close()
    assert first and up.closed
    assert stream.result is not None and stream.result.decision == "allow" and stream.result.text == first


def test_stream_fails_closed_on_an_error() -> None:
    g = guard(output=[{"type": "regex", "pattern": "^(a|aa)+$"}], stream_window=8)
    stream = g.stream(iter(["a" * 40 + "b", " and more text"]))
    assert list(stream)[-1] == SAFE
    assert stream.result is not None and stream.result.decision == "error" and stream.result.blocked


def test_span_attributes_record_the_decision() -> None:
    import json

    from rippleops.runtime.guards import span_attributes
    from rippleops.runtime.tracing import Tracing

    r = guard(input=[{"type": "deny", "words": ["gift cards"]}]).check_input("buy gift cards")
    attrs = span_attributes(r, text="buy gift cards")
    assert attrs["ripple.guard.decision"] == "block" and attrs["ripple.policy"] == "policy/test:1"
    assert json.loads(attrs["ripple.guard.findings"])[0]["latency_ms"] >= 0
    finished: list[object] = []
    tracing = Tracing(finished.extend)
    with tracing.span("guard input", kind="GUARDRAIL", attributes=attrs):
        pass
    tracing.shutdown()
    span = finished[0]
    assert span.attributes["ripple.guard.stage"] == "input"  # type: ignore[attr-defined]


def test_embedding_rows_of_recent_texts_are_reused_per_embedder() -> None:
    import numpy as np

    from rippleops.runtime.guards import Embedding
    from rippleops.runtime.guards import embedding as rows

    asked: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        asked.append(list(texts))
        return [[float(len(t)), float(sum(map(ord, t)) % 97), 1.0] for t in texts]

    rows.forget_rows()
    first = rows.unit_rows(Embedding("e1", embed), ["alpha", "beta"])
    again = rows.unit_rows(Embedding("e1", embed), ["beta", "gamma", "beta"])
    assert asked == [["alpha", "beta"], ["gamma"]]  # only the new text, once
    assert np.allclose(again[0], first[1]) and np.allclose(again[2], first[1])
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0)
    rows.unit_rows(Embedding("e2", embed), ["alpha"])  # another embedder: its own rows
    assert asked[-1] == ["alpha"]
    rows.forget_rows()
