"""``ripple impact / stale / apply`` in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

from cli_helpers import Ripple


def make_chain(r: Ripple) -> None:
    r.ok("model", "add", "smol", "--provider", "local")
    r.ok("prompt", "create", "answer", "--file", r.file("a1.yaml", 'template: "Answer briefly: {{ question }}"\n'))
    app = "steps:\n  - render: prompt/answer\n  - generate: {model: model/smol}\n"
    r.ok("app", "create", "helper", "--file", r.file("helper.yaml", app))
    r.ok("app", "label", "helper", "production", "1")
    r.ok("prompt", "create", "answer", "--file", r.file("a2.yaml", 'template: "In one sentence: {{ question }}"\n'))


def test_ripple_commands(ripple_on: Ripple) -> None:
    r = ripple_on
    make_chain(r)
    plan = r.json("impact", "prompt/answer:2")
    assert [s["key"] for s in plan["steps"]] == ["rebuild:app/helper:1"]
    out = r.ok("impact", "prompt/answer:2").stdout
    assert "rebuild app/helper:1" in out and "metadata only" in out
    assert "nothing depends on" in r.ok("impact", "app/helper:1").output  # notes go to stderr
    stale = r.json("stale")
    assert [i["ref"] for i in stale["items"]] == ["app/helper:1"]
    assert "prompt/answer:1 -> prompt/answer:2" in r.ok("stale").stdout
    assert "dry run" in r.ok("apply", "prompt/answer:2", "--dry-run").stdout
    done = r.json("apply", "prompt/answer:2")
    assert done["state"] == "succeeded" and done["report"]["rebuilt"][0]["to"] == "app/helper:2"
    shown = r.ok("apply", "--show", str(done["id"])).stdout
    assert "held: not evaluated by any suite" in shown and "app/helper:1 -> app/helper:2" in shown
    r.fails(7, "apply", "--show", str(done["id"]), "--strict")
    r.fails(2, "apply")  # neither a change nor --stale
