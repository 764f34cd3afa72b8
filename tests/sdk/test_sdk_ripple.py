"""``rp.ripple`` on both transports (embedded, and remote against a real server), SQLite and
PostgreSQL: impact, stale, apply (dry run, real, resume refused once finished), get_apply."""

from __future__ import annotations

import pytest

from rippleops import Client
from rippleops.errors import ConflictError, NotFoundError


def make_chain(rp: Client) -> None:
    rp.models.create("smol", provider="local")
    rp.prompts.create("answer", template="Answer briefly: {{ question }}")
    spec = {"steps": [{"render": {"prompt": "prompt/answer"}}, {"generate": {"model": "model/smol"}}]}
    rp.apps.create("helper", spec)
    rp.apps.label("helper", "production", 1)
    rp.prompts.create("answer", template="Answer in one sentence: {{ question }}")


def test_impact_stale_and_apply(rp: Client) -> None:
    make_chain(rp)
    plan = rp.ripple.impact("prompt/answer:2")
    assert [(s.action, s.target, s.labels) for s in plan.steps] == [
        ("rebuild", "app/helper:1", ["production", "latest"])
    ]
    assert rp.ripple.impact("prompt/answer:1").steps == []
    stale = rp.ripple.stale()
    assert [(i.ref, i.reasons[0].input, i.reasons[0].now) for i in stale.items] == [
        ("app/helper:1", "prompt/answer", "prompt/answer:2")
    ]
    assert rp.ripple.stale(kind="index").items == []
    dry = rp.ripple.apply("prompt/answer:2", dry_run=True)
    assert dry.state == "dry-run" and [s.key for s in dry.plan.steps] == ["rebuild:app/helper:1"]

    done = rp.ripple.apply("prompt/answer:2")
    assert done.state == "succeeded", done.steps
    assert done.report is not None and done.report["rebuilt"] == [{"from": "app/helper:1", "to": "app/helper:2"}]
    assert [h["target"] for h in done.report["held"]] == ["app/helper:2"]
    assert rp.ripple.get_apply(done.id).report == done.report
    with pytest.raises(ConflictError, match="already finished"):
        rp.ripple.apply(resume=done.id)
    with pytest.raises(NotFoundError):
        rp.ripple.get_apply(999)
    with pytest.raises(NotFoundError, match="prompt/answer:9"):
        rp.ripple.impact("prompt/answer:9")
