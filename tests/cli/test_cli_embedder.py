"""``ripple embedder`` in-process, on SQLite and PostgreSQL, with the real shipped MiniLM."""

from __future__ import annotations

import pytest
from cli_helpers import Ripple


@pytest.mark.slow
def test_add_list_show_label_embed(ripple_on: Ripple) -> None:
    r = ripple_on
    assert r.ok("embedder", "add", "minilm", "-m", "default").stdout.strip() == "embedder/minilm:1"
    again = r.ok("embedder", "add", "minilm")
    assert again.stdout.strip() == "embedder/minilm:1" and "unchanged" in again.stderr
    shown = r.json("embedder", "show", "minilm")
    assert shown["content"]["dimension"] == 384 and len(shown["content"]["weights_sha256"]) == 64
    assert "sentence-transformers/all-MiniLM-L6-v2" in r.ok("embedder", "show", "minilm").stdout
    r.ok("embedder", "label", "minilm", "production", "1")
    listed = r.json("embedder", "list")
    assert [(a["name"], a["labels"]) for a in listed] == [("minilm", {"production": 1})]
    out = r.ok("embedder", "embed", "minilm@production", "reset my password", "opening hours").stdout
    assert "2 vectors of 384 (0 cached, 2 embedded)" in out
    body = r.json("embedder", "embed", "minilm", "reset my password")
    assert body["cached"] == 1 and len(body["vectors"][0]) == 384


def test_bad_input_exits_with_a_message(ripple: Ripple) -> None:
    failed = ripple.fails(2, "embedder", "add", "x", "--provider", "openai", "--model", "m")
    assert "needs base_url, dimension" in failed.stderr
    assert "minilm" in ripple.fails(2, "embedder", "add", "x", "--dimension", "12").stderr
    assert "does not exist" in ripple.fails(3, "embedder", "embed", "nothing", "hi").stderr
    assert "no embedders yet" in ripple.ok("embedder", "list").stdout
