"""``ripple prompt``: the core flow on SQLite and PostgreSQL, and its errors."""

from __future__ import annotations

from cli_helpers import ANSWER_V1, ANSWER_V2, SYSTEM, WITH_INCLUDE, Ripple


def test_prompt_flow(ripple_on: Ripple) -> None:
    r = ripple_on
    v1, v2 = r.file("a1.yaml", ANSWER_V1), r.file("a2.yaml", ANSWER_V2)

    assert r.ok("prompt", "create", "answer", "--file", v1).stdout.strip() == "prompt/answer:1"
    assert r.ok("prompt", "create", "answer", "--file", v2).stdout.strip() == "prompt/answer:2"
    again = r.ok("prompt", "create", "answer", "--file", v2)
    assert again.stdout.strip() == "prompt/answer:2"
    assert "unchanged" in again.stderr
    older = r.ok("prompt", "create", "answer", "--file", v1)
    assert older.stdout.strip() == "prompt/answer:1"
    assert "unchanged" in older.stderr

    assert r.ok("prompt", "label", "answer", "production", "1").stdout.strip() == "prompt/answer@production -> 1"
    assert r.ok("prompt", "label", "answer", "staging", ":2").stdout.strip() == "prompt/answer@staging -> 2"

    shown = r.json("prompt", "show", "answer@production")
    for field in ("ref", "kind", "name", "version", "hash", "labels", "inputs", "created_at", "created_by", "template"):
        assert field in shown, field
    assert shown["ref"] == "prompt/answer:1"
    assert (shown["kind"], shown["name"], shown["version"]) == ("prompt", "answer", 1)
    assert shown["labels"] == ["production"]
    assert shown["hash"].startswith("sha256:") or len(shown["hash"]) >= 32
    assert shown["inputs"] == []
    assert shown["created_by"] == "alice"
    assert shown["template"] == "Answer briefly: {{ question }}\n"
    assert set(r.json("prompt", "show", "answer:2")["labels"]) == {"latest", "staging"}
    human = r.ok("prompt", "show", "answer@production").stdout
    assert "prompt/answer:1" in human and "Answer briefly" in human and "production" in human

    rendered = r.ok("prompt", "render", "answer@production", "--var", "question=What is Ripple?")
    assert rendered.stdout == "Answer briefly: What is Ripple?\n"
    as_json = r.json("prompt", "render", "answer", "--var", "question=Why?")
    assert as_json == {"ref": "prompt/answer:2", "type": "text", "output": "Answer in one sentence: Why?\n"}
    missing = r.fails(2, "prompt", "render", "answer@production")
    assert "question" in missing.stderr

    diff = r.ok("prompt", "diff", "answer:1", "answer:2").stdout
    assert "-Answer briefly: {{ question }}" in diff
    assert "+Answer in one sentence: {{ question }}" in diff
    assert "params" in diff
    diff_json = r.json("prompt", "diff", "answer:1", "answer@staging")
    assert diff_json["from"] == "prompt/answer:1" and diff_json["to"] == "prompt/answer:2"
    assert {c["field"] for c in diff_json["changes"]} >= {"params"}
    assert r.json("prompt", "diff", "answer:1", "answer@production")["same"] is True

    listed = r.json("prompt", "list")
    assert [a["ref"] for a in listed] == ["prompt/answer"]
    assert listed[0]["latest_version"] == 2
    assert listed[0]["labels"] == {"production": 1, "staging": 2}
    assert "answer" in r.ok("prompt", "list").stdout
    assert [a["ref"] for a in r.json("prompt", "list", "--label", "staging")] == ["prompt/answer"]
    assert r.json("prompt", "list", "--label", "nope") == []

    r.ok("prompt", "label", "answer", "production", "@staging")
    r.ok("prompt", "unlabel", "answer", "staging")
    history = r.json("prompt", "history", "answer")
    assert [v["version"] for v in history["versions"]] == [1, 2]
    moves = [(m["label"], m["from_version"], m["to_version"], m["by"]) for m in history["label_moves"]]
    assert moves == [
        ("production", None, 1, "alice"),
        ("staging", None, 2, "alice"),
        ("production", 1, 2, "alice"),
        ("staging", 2, None, "alice"),
    ]
    text = r.ok("prompt", "history", "answer").stdout
    assert "1 -> 2" in text and "shorter answers" in text and "- -> 1" in text

    assert [v["version"] for v in r.json("prompt", "versions", "answer")] == [1, 2]


def test_chat_prompt_render_with_history(ripple: Ripple) -> None:
    chat = ripple.file(
        "chat.yaml",
        """\
messages:
  - {role: system, content: "Be brief."}
  - placeholder: history
  - {role: user, content: "{{ question }}"}
""",
    )
    ripple.ok("prompt", "create", "chat", "--file", chat)
    history = '{"history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}'
    out = ripple.json("prompt", "render", "chat", "--vars-json", history, "--var", "question=and now?")
    assert out["output"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
    ]
    text = ripple.ok("prompt", "render", "chat", "--vars-json", history, "--var", "question=q?").stdout
    assert "system: Be brief." in text and "user: q?" in text
    ripple.fails(2, "prompt", "render", "chat", "--vars-json", "[1, 2]")
    ripple.fails(2, "prompt", "render", "chat", "--vars-json", "{oops")
    assert "name=value" in ripple.fails(2, "prompt", "render", "chat", "--var", "question").stderr


def test_include_shows_in_lineage(ripple_on: Ripple) -> None:
    r = ripple_on
    r.ok("prompt", "create", "system", "--file", r.file("system.yaml", SYSTEM))
    r.ok("prompt", "label", "system", "production", "1")
    assert (
        r.ok("prompt", "create", "answer", "--file", r.file("inc.yaml", WITH_INCLUDE)).stdout.strip()
        == "prompt/answer:1"
    )

    shown = r.json("prompt", "show", "answer")
    assert shown["inputs"][0]["ref"] == "prompt/system@production"
    assert shown["inputs"][0]["resolved"] == "prompt/system:1"
    out = r.ok("prompt", "render", "answer", "--var", "product=Ripple", "--var", "question=hi").stdout
    assert out.startswith("You are the support bot of Ripple.")

    up = r.json("lineage", "prompt/answer:1", "--up")
    assert [(n["ref"], n["via"], n["parent"]) for n in up["upstream"]] == [
        ("prompt/system:1", "prompt/system@production", "prompt/answer:1")
    ]
    assert up["downstream"] == []
    down = r.json("lineage", "prompt/system@production", "--down")
    assert [n["ref"] for n in down["downstream"]] == ["prompt/answer:1"]
    tree = r.ok("lineage", "prompt/answer:1").stdout
    assert "upstream" in tree and "downstream" in tree
    assert "prompt/system:1" in tree and "via prompt/system@production" in tree


def test_errors_have_clear_messages_and_exit_codes(ripple: Ripple) -> None:
    ripple.ok("prompt", "create", "answer", "--file", ripple.file("a1.yaml", ANSWER_V1))
    ripple.ok("prompt", "label", "answer", "production", "1")

    bad_name = ripple.fails(2, "prompt", "create", "Bad Name", "--file", ripple.file("a.yaml", ANSWER_V1))
    assert "'Bad Name' is not valid" in bad_name.stderr

    unknown_label = ripple.fails(3, "prompt", "show", "answer@prod")
    assert "no label 'prod'" in unknown_label.stderr and "labels: production" in unknown_label.stderr
    assert "no version 7" in ripple.fails(3, "prompt", "show", "answer:7").stderr
    assert "does not exist" in ripple.fails(3, "prompt", "show", "nothing").stderr

    broken = ripple.file("broken.yaml", "template: ok\nvariables: [a, b\nmessage: x\n")
    malformed = ripple.fails(2, "prompt", "create", "answer", "--file", broken)
    assert "not valid YAML" in malformed.stderr and "line 3" in malformed.stderr

    missing = ripple.fails(2, "prompt", "create", "answer", "--file", "no-such-file.yaml")
    assert "does not exist" in missing.stderr
    both = ripple.file("both.yaml", "template: a\nmessages: [{role: user, content: b}]\n")
    assert "exactly one" in ripple.fails(2, "prompt", "create", "answer", "--file", both).stderr
    assert (
        "unknown fields"
        in ripple.fails(2, "prompt", "create", "answer", "--file", ripple.file("x.yaml", "templat: a\n")).stderr
    )
    assert "latest" in ripple.fails(2, "prompt", "label", "answer", "latest", "1").stderr
    assert "no label 'staging'" in ripple.fails(3, "prompt", "unlabel", "answer", "staging").stderr


def test_prompt_file_over_the_size_limit(ripple: Ripple) -> None:
    big = ripple.file("big.yaml", "template: '" + "x" * (1024 * 1024 + 10) + "'\n")
    result = ripple.fails(2, "prompt", "create", "answer", "--file", big)
    assert "the limit is 1048576" in result.stderr
