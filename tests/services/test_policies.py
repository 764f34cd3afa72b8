"""Policies through the service layer, on SQLite and PostgreSQL: versions from specs, the
embedder input (lineage), guards cached per version, and checks of both stages."""

from __future__ import annotations

import pytest

from rippleops.domain.access import Principal
from rippleops.domain.guards import GuardContext
from rippleops.errors import ForbiddenError, InvalidError, NotFoundError
from rippleops.services import Services

P = "default"
SPEC = {
    "input": [
        {"type": "pii", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"]},
        {"type": "deny", "words": ["wire transfer", "gift cards"], "action": "block"},
    ],
    "output": [
        {"type": "regex", "pattern": "(?i)pass(word|phrase)", "action": "redact", "replacement": "[secret]"},
        {"type": "length", "max_chars": 120},
    ],
    "safe_answer": "Sorry, I can't help with that request.",
}


def test_create_fills_defaults_and_dedupes(services: Services, admin: Principal) -> None:
    a = services.policies.create(admin, P, "support", {**SPEC, "message": "first"})
    assert (a.ref, a.kind, a.created, a.message) == ("policy/support:1", "policy", True, "first")
    c = a.content
    assert c["on_error"] == "closed" and c["max_reasks"] == 1 and c["stream_window"] == 64
    assert c["input"][0] == {"type": "pii", "action": "redact", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
                             "min_score": 0.4, "replacement": "<{entity}>"}  # fmt: skip
    assert c["output"][1] == {"type": "length", "action": "fix", "max_chars": 120}
    again = services.policies.create(admin, P, "support", SPEC)
    assert (again.ref, again.created) == ("policy/support:1", False)
    b = services.policies.create(admin, P, "support", {**SPEC, "on_error": "open"})
    assert b.ref == "policy/support:2"
    assert services.policies.get(admin, P, "support:1").content["on_error"] == "closed"
    assert [v.version for v in services.policies.versions(admin, P, "support")] == [1, 2]


def test_check_input_redacts_and_blocks(services: Services, admin: Principal) -> None:
    services.policies.create(admin, P, "support", SPEC)
    r = services.policies.check(admin, P, "support", "I'm ana.lopez@example.org, call me on +1 415 555 0100")
    assert (r.decision, r.blocked, r.policy) == ("redact", False, "policy/support:1")
    assert r.text == "I'm <EMAIL_ADDRESS>, call me on <PHONE_NUMBER>"
    assert [f.validator for f in r.findings] == ["pii", "deny"]
    assert r.findings[0].details["entities"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert all(f.latency_ms >= 0 for f in r.findings) and r.latency_ms >= sum(f.latency_ms for f in r.findings)

    blocked = services.policies.check(admin, P, "support", "Please pay the invoice with Gift Cards today")
    assert (blocked.decision, blocked.blocked) == ("block", True)
    assert blocked.text == "Sorry, I can't help with that request."
    assert blocked.findings[-1].message == "1 denied word match: 'Gift Cards'"

    clean = services.policies.check(admin, P, "support", "How do I label a prompt version?")
    assert (clean.decision, clean.blocked, clean.text) == ("allow", False, "How do I label a prompt version?")


def test_check_output_redacts_then_fixes(services: Services, admin: Principal) -> None:
    services.policies.create(admin, P, "support", SPEC)
    answer = (
        "Reset it from the account page. Your old password stays valid for an hour. "
        "After that, sign in again with the new passphrase and keep it safe."
    )
    r = services.policies.check(admin, P, "support", answer, stage="output")
    assert r.decision == "fix"
    assert r.text == "Reset it from the account page. Your old [secret] stays valid for an hour."
    assert [f.action for f in r.findings] == ["redact", "fix"]


def test_guard_is_built_once_per_version(services: Services, admin: Principal) -> None:
    services.policies.create(admin, P, "support", SPEC)
    g1 = services.policies.guard(admin, P, "support")
    assert services.policies.guard(admin, P, "policy/support:1") is g1
    assert (g1.ref, g1.max_reasks) == ("policy/support:1", 1)
    services.policies.create(admin, P, "support", {**SPEC, "max_reasks": 2})
    g2 = services.policies.guard(admin, P, "support")
    assert g2 is not g1 and (g2.ref, g2.max_reasks) == ("policy/support:2", 2)


def test_context_forms(services: Services, admin: Principal) -> None:
    from rippleops.services.policies import guard_context

    assert guard_context("passage") == GuardContext(contexts=("passage",))
    assert guard_context(["a", "b"]).contexts == ("a", "b")
    assert guard_context({"query": "q", "contexts": ["a"]}) == GuardContext(query="q", contexts=("a",))
    with pytest.raises(InvalidError, match="context takes query, contexts and output_schema, not passages"):
        guard_context({"passages": ["a"]})
    services.policies.create(admin, P, "support", SPEC)
    with pytest.raises(InvalidError, match="stage must be input or output, not 'middle'"):
        services.policies.check(admin, P, "support", "hi", stage="middle")


def test_errors_name_the_way_out(services: Services, admin: Principal) -> None:
    with pytest.raises(NotFoundError, match=r"policy/nope does not exist in project 'default'"):
        services.policies.check(admin, P, "nope", "hi")
    with pytest.raises(InvalidError, match=r"input\[0\] \(pii\): unknown PII entity type PASSPORT; known: "):
        services.policies.create(admin, P, "bad", {"input": [{"type": "pii", "entities": ["PASSPORT"]}]})
    with pytest.raises(NotFoundError, match="embedder/missing does not exist"):
        services.policies.create(admin, P, "bad", {**SPEC, "embedder": "embedder/missing"})
    assert services.assets.list(admin, P, kind="policy").items == []  # nothing half-written


def test_viewer_cannot_create(services: Services, admin: Principal) -> None:
    services.access.create_user(admin, "vic")
    services.access.grant(admin, P, "vic", "viewer")
    token = services.access.create_token(admin, user="vic").token
    vic = services.access.authenticate(token)
    with pytest.raises(ForbiddenError):
        services.policies.create(vic, P, "support", SPEC)
    services.policies.create(admin, P, "support", SPEC)
    assert services.policies.check(vic, P, "support", "hello").decision == "allow"


def test_the_embedder_is_pinned_so_a_new_embedder_makes_a_new_policy_version(
    services: Services, admin: Principal
) -> None:
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    a = services.policies.create(admin, P, "support", {**SPEC, "embedder": "embedder/minilm"})
    assert a.recipe == {"pins": {"embedder/minilm": "embedder/minilm:1"}}
    assert services.policies.create(admin, P, "support", {**SPEC, "embedder": "embedder/minilm"}).created is False
    services.embedders.create(admin, P, "minilm", {"provider": "minilm", "batch_size": 32})
    b = services.policies.create(admin, P, "support", {**SPEC, "embedder": "embedder/minilm"})
    assert (b.ref, b.content == a.content) == ("policy/support:2", True)
    assert [i.resolved for i in b.inputs] == ["embedder/minilm:2"]
