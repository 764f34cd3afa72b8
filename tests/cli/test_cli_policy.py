"""``ripple policy`` in-process on SQLite and PostgreSQL: create from a file, show,
versions, label, list, check (human and --json), and errors without tracebacks."""

from __future__ import annotations

import pytest
from cli_helpers import Ripple

POLICY = """\
input:
  - {type: pii, entities: [EMAIL_ADDRESS, PHONE_NUMBER]}
  - {type: deny, words: [gift cards], action: block}
output:
  - {type: regex, pattern: "(?i)password", action: redact}
  - {type: length, max_chars: 60}
safe_answer: "Sorry, I can't help with that."
"""


def test_policy_commands(ripple_on: Ripple) -> None:
    r = ripple_on
    path = r.file("policy.yaml", POLICY)
    assert r.ok("policy", "create", "support", "--file", path, "-m", "first").stdout.strip() == "policy/support:1"
    assert "unchanged" in r.ok("policy", "create", "support", "--file", path).output
    shown = r.ok("policy", "show", "support").stdout
    assert "policy/support:1" in shown and "gift cards" in shown and "on_error: closed" in shown
    assert r.json("policy", "show", "support")["content"]["output"][1] == {
        "type": "length",
        "action": "fix",
        "max_chars": 60,
    }
    r.ok("policy", "create", "support", "--file", r.file("p2.yaml", POLICY + "on_error: open\n"))
    assert "policy/support@production -> 1" in r.ok("policy", "label", "support", "production", "1").stdout
    assert [v["version"] for v in r.json("policy", "versions", "support")] == [1, 2]
    assert [a["ref"] for a in r.json("policy", "list")] == ["policy/support"]

    out = r.ok("policy", "check", "support@production", "reach me at lee@example.com").stdout
    assert "redact" in out and "<EMAIL_ADDRESS>" in out and "pii" in out
    result = r.json("policy", "check", "support", "Buy gift cards now")
    assert (result["decision"], result["blocked"], result["text"]) == ("block", True, "Sorry, I can't help with that.")
    assert result["findings"][1]["latency_ms"] >= 0
    output = r.json("policy", "check", "support", "Your password is set. It works on every device you own today.",
                    "--stage", "output")  # fmt: skip
    assert output["decision"] == "fix" and output["text"] == "Your <REDACTED> is set."


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("policy", "show", "nope"), 3, "policy/nope does not exist"),
        (("policy", "check", "nope", "hi"), 3, "policy/nope does not exist"),
        (("policy", "create", "x", "--file", "/nonexistent.yaml"), 2, "policy file /nonexistent.yaml does not exist"),
    ],
)
def test_policy_errors(ripple: Ripple, args: tuple[str, ...], code: int, message: str) -> None:
    assert message in ripple.fails(code, *args).stderr


def test_bad_spec_and_stage(ripple: Ripple) -> None:
    bad = ripple.file("bad.yaml", "input:\n  - {type: regex, pattern: '(oops'}\n")
    err = ripple.fails(2, "policy", "create", "x", "--file", bad).stderr
    assert "input[0] (regex): pattern is not a valid regular expression" in err
    ripple.ok("policy", "create", "support", "--file", ripple.file("p.yaml", POLICY))
    assert (
        "--stage must be input or output" in ripple.fails(2, "policy", "check", "support", "x", "--stage", "mid").stderr
    )


def test_attacks_dataset_is_versioned_data(ripple: Ripple) -> None:
    out = ripple.json("policy", "attacks-dataset", "attacks")
    assert out["ref"] == "dataset/attacks:1"
    head = ripple.json("dataset", "head", "attacks", "-n", "3")
    assert len(head["records"]) == 3 and set(head["records"][0]) == {"text", "family"}
    assert ripple.json("dataset", "show", "attacks")["content"]["rows"] == 300
    assert ripple.json("policy", "attacks-dataset", "attacks")["ref"] == "dataset/attacks:1"  # the same data again
