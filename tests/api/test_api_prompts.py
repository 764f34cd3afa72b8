"""Prompts over REST: create, fetch with ETags, render, diff, versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

P = "/api/v1/projects/default"


def test_create_returns_201_then_200_for_identical_content(client: TestClient) -> None:
    spec = {"template": "Answer: {{ question }}", "message": "first", "tags": ["support"], "description": "the answer"}
    r = client.post(f"{P}/prompts/answer", json=spec)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["ref"], body["version"], body["created"], body["type"]) == ("prompt/answer:1", 1, True, "text")
    assert body["labels"] == ["latest"] and body["created_by"] == "alice" and body["description"] == "the answer"
    assert body["hash"].startswith("sha256:") and body["template"] == "Answer: {{ question }}"

    again = client.post(f"{P}/prompts/answer", json=spec)
    assert again.status_code == 200
    assert again.json()["created"] is False and "identical to the latest version 1" in again.json()["note"]


def test_get_by_name_label_and_number(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("answer", template="v1 {{ q }}")
    make_prompt("answer", template="v2 {{ q }}")
    assert client.put(f"{P}/assets/prompt/answer/labels/production", json={"version": 1}).status_code == 200

    assert client.get(f"{P}/prompts/answer").json()["template"] == "v2 {{ q }}"
    prod = client.get(f"{P}/prompts/answer@production").json()
    assert (prod["version"], prod["labels"]) == (1, ["production"])
    assert client.get(f"{P}/prompts/answer:2").json()["labels"] == ["latest"]
    assert client.get(f"{P}/prompts/prompt%2Fanswer").status_code == 404  # one segment only: the kind is implied


def test_etag_gives_304_until_the_version_or_its_labels_change(
    client: TestClient, make_prompt: Callable[..., dict[str, Any]]
) -> None:
    make_prompt("answer")
    first = client.get(f"{P}/prompts/answer")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')

    cached = client.get(f"{P}/prompts/answer", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
    assert client.get(f"{P}/prompts/answer", headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    assert client.get(f"{P}/prompts/answer", headers={"If-None-Match": '"other"'}).status_code == 200

    client.put(f"{P}/assets/prompt/answer/labels/staging", json={"version": 1})
    moved = client.get(f"{P}/prompts/answer", headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["etag"] != etag and "staging" in moved.json()["labels"]


def test_render_text_and_chat(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("answer", template="Answer briefly: {{ question }}")
    r = client.post(f"{P}/prompts/answer/render", json={"variables": {"question": "What is Ripple?"}})
    assert r.status_code == 200 and r.json() == {"output": "Answer briefly: What is Ripple?"}

    make_prompt("chat", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{ q }}"}])
    out = client.post(f"{P}/prompts/chat:1/render", json={"variables": {"q": "Hi"}}).json()["output"]
    assert out == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]

    missing = client.post(f"{P}/prompts/answer/render", json={"variables": {}})
    assert missing.status_code == 422 and "question" in missing.json()["error"]["message"]


def test_include_is_pinned_and_rendered(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("system", template="You are helpful.")
    client.put(f"{P}/assets/prompt/system/labels/production", json={"version": 1})
    rec = make_prompt("answer", template='{% include "prompt/system@production" %} {{ q }}')
    assert rec["includes"] == {"prompt/system@production": "You are helpful."}
    assert rec["inputs"][0]["resolved"] == "prompt/system:1"
    out = client.post(f"{P}/prompts/answer/render", json={"variables": {"q": "Hi"}}).json()["output"]
    assert out == "You are helpful. Hi"


def test_diff_and_versions(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("answer", template="Answer: {{ q }}\n", params={"temperature": 0.2})
    make_prompt("answer", template="Answer briefly: {{ q }}\n", params={"temperature": 0.5}, message="shorter")
    diff = client.get(f"{P}/prompts/answer:1/diff/answer:2").json()
    assert (diff["from"], diff["to"], diff["same"]) == ("prompt/answer:1", "prompt/answer:2", False)
    assert "-Answer: {{ q }}" in diff["diff"] and "+Answer briefly: {{ q }}" in diff["diff"]
    assert diff["changes"] == [{"field": "params", "from": {"temperature": 0.2}, "to": {"temperature": 0.5}}]
    assert client.get(f"{P}/prompts/answer/diff/answer:2").json()["same"] is True

    versions = client.get(f"{P}/prompts/answer/versions").json()
    assert [(v["version"], v["message"]) for v in versions] == [(1, ""), (2, "shorter")]
    assert versions[0]["content"]["template"] == "Answer: {{ q }}\n"


def test_unknown_label_is_404_naming_the_labels(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("answer")
    client.put(f"{P}/assets/prompt/answer/labels/staging", json={"version": 1})
    r = client.get(f"{P}/prompts/answer@prod")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["type"] == "NotFoundError"
    assert "prompt/answer has no label 'prod'; labels: staging" in err["message"]
    assert client.get(f"{P}/prompts/answer:9").json()["error"]["message"].endswith("the latest is 1")
    assert client.get(f"{P}/prompts/nothing").status_code == 404


def test_invalid_specs_and_names_are_422(client: TestClient) -> None:
    bad_name = client.post(f"{P}/prompts/Bad Name", json={"template": "x"})
    assert bad_name.status_code == 422 and bad_name.json()["error"]["type"] == "InvalidError"
    assert "'Bad Name' is not valid" in bad_name.json()["error"]["message"]

    unknown = client.post(f"{P}/prompts/answer", json={"template": "x", "temprature": 1})
    assert unknown.status_code == 422 and "unknown fields: temprature" in unknown.json()["error"]["message"]

    both = client.post(f"{P}/prompts/answer", json={"template": "x", "messages": []})
    assert both.status_code == 422 and "exactly one of" in both.json()["error"]["message"]

    syntax = client.post(f"{P}/prompts/answer", json={"template": "{{ x "})
    assert syntax.status_code == 422

    not_object = client.post(f"{P}/prompts/answer", json=["template"])
    assert not_object.status_code == 422 and not_object.json()["error"]["type"] == "InvalidError"

    assert client.get("/api/v1/projects/NOPE!/prompts/answer").status_code == 422
    assert client.get("/api/v1/projects/nope/prompts/answer").json()["error"]["type"] == "NotFoundError"
