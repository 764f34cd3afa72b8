"""``ripple asset`` and ``ripple lineage``."""

from __future__ import annotations

from collections.abc import Callable

from cli_helpers import SYSTEM, Ripple


def test_asset_list_show_versions(ripple: Ripple, make_prompts: Callable[[Ripple], None]) -> None:
    make_prompts(ripple)
    ripple.ok("prompt", "create", "system", "--file", ripple.file("s.yaml", SYSTEM))

    page = ripple.json("asset", "list")
    assert [a["ref"] for a in page["items"]] == ["prompt/answer", "prompt/system"]
    assert page["next_cursor"] is None
    first = ripple.json("asset", "list", "--limit", "1")
    assert [a["ref"] for a in first["items"]] == ["prompt/answer"]
    second = ripple.json("asset", "list", "--limit", "1", "--cursor", first["next_cursor"])
    assert [a["ref"] for a in second["items"]] == ["prompt/system"]
    human = ripple.ok("asset", "list", "--limit", "1").stdout
    assert "prompt/answer" in human and f"--cursor {first['next_cursor']}" in human
    assert [a["ref"] for a in ripple.json("asset", "list", "--kind", "prompt", "--label", "production")["items"]] == [
        "prompt/answer"
    ]
    assert [a["ref"] for a in ripple.json("asset", "list", "--tag", "support")["items"]] == ["prompt/answer"]
    assert [a["ref"] for a in ripple.json("asset", "list", "--search", "syst")["items"]] == ["prompt/system"]
    assert ripple.json("asset", "list", "--kind", "dataset")["items"] == []
    assert "no assets match" in ripple.ok("asset", "list", "--kind", "dataset").stdout
    assert "unknown asset kind" in ripple.fails(2, "asset", "list", "--kind", "nope").stderr

    shown = ripple.json("asset", "show", "prompt/answer")
    assert shown["ref"] == "prompt/answer" and shown["latest_version"] == 2
    assert shown["labels"] == {"production": 1}
    assert "latest" in ripple.ok("asset", "show", "prompt/answer").stdout
    assert "names a version" in ripple.fails(2, "asset", "show", "prompt/answer:1").stderr
    assert "does not exist" in ripple.fails(3, "asset", "show", "prompt/nothing").stderr

    versions = ripple.json("asset", "versions", "prompt/answer")
    assert [(v["ref"], v["message"]) for v in versions] == [
        ("prompt/answer:1", "first version"),
        ("prompt/answer:2", "shorter answers"),
    ]
    assert "shorter answers" in ripple.ok("asset", "versions", "prompt/answer").stdout


def test_asset_tag_and_describe(ripple: Ripple, make_prompts: Callable[[Ripple], None]) -> None:
    make_prompts(ripple)
    hash_before = ripple.json("prompt", "show", "answer")["hash"]
    out = ripple.ok("asset", "tag", "prompt/answer", "--add", "faq", "--add", "beta", "--remove", "support").stdout
    assert "faq" in out and "support" not in out
    assert sorted(ripple.json("asset", "show", "prompt/answer")["tags"]) == ["beta", "faq"]
    ripple.fails(2, "asset", "tag", "prompt/answer")

    ripple.ok("asset", "describe", "prompt/answer", "Answers [support] questions")
    assert ripple.json("asset", "show", "prompt/answer")["description"] == "Answers [support] questions"
    assert "Answers [support] questions" in ripple.ok("asset", "show", "prompt/answer").stdout
    assert ripple.json("prompt", "show", "answer")["hash"] == hash_before


def test_lineage_options(ripple: Ripple, make_prompts: Callable[[Ripple], None]) -> None:
    make_prompts(ripple)
    alone = ripple.json("lineage", "prompt/answer@production")
    assert alone == {"ref": "prompt/answer:1", "hash": alone["hash"], "upstream": [], "downstream": []}
    assert "nothing" in ripple.ok("lineage", "prompt/answer").stdout
    assert "not both" in ripple.fails(2, "lineage", "prompt/answer", "--up", "--down").stderr
    assert "depth" in ripple.fails(2, "lineage", "prompt/answer", "--depth", "0").stderr
    assert "has no kind" in ripple.fails(2, "lineage", "answer").stderr
