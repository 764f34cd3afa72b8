"""Assets over REST: listing with filters and pages, metadata, versions, labels, lineage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

P = "/api/v1/projects/default"


def test_list_filters_and_pages(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    for name in ("alpha", "beta", "gamma", "delta", "support-a"):
        make_prompt(name, template=f"{name} {{{{ q }}}}", tags=["support"] if name.startswith("s") else [])
    client.put(f"{P}/assets/prompt/beta/labels/production", json={"version": 1})

    everything = client.get(f"{P}/assets").json()
    assert [a["name"] for a in everything["items"]] == ["alpha", "beta", "delta", "gamma", "support-a"]
    assert everything["total"] == 5 and everything["next_cursor"] is None

    def names(**params: Any) -> list[str]:
        r = client.get(f"{P}/assets", params=params)
        assert r.status_code == 200, r.text
        return [a["name"] for a in r.json()["items"]]

    assert names(kind="prompt", tag="support") == ["support-a"]
    assert names(label="production") == ["beta"]
    assert names(search="ta") == ["beta", "delta"]
    assert names(kind="dataset") == []

    seen, cursor = [], None
    while True:
        page = client.get(f"{P}/assets", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen.append([a["name"] for a in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [["alpha", "beta"], ["delta", "gamma"], ["support-a"]]

    assert client.get(f"{P}/assets", params={"kind": "widget"}).status_code == 422
    assert client.get(f"{P}/assets", params={"limit": 0}).status_code == 422
    assert client.get(f"{P}/assets", params={"cursor": "%%%"}).status_code == 422
    assert (
        client.get(f"{P}/assets", params={"limit": "many"})
        .json()["error"]["message"]
        .startswith("invalid request: limit:")
    )


def test_show_update_and_versions(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("answer", template="one")
    make_prompt("answer", template="two")
    shown = client.get(f"{P}/assets/prompt/answer").json()
    assert (shown["ref"], shown["latest_version"], shown["labels"]) == ("prompt/answer", 2, {})

    patched = client.patch(
        f"{P}/assets/prompt/answer", json={"description": "answers questions", "add_tags": ["qa", "support"]}
    )
    assert patched.status_code == 200 and patched.json()["tags"] == ["qa", "support"]
    patched = client.patch(f"{P}/assets/prompt/answer", json={"remove_tags": ["qa"]}).json()
    assert (patched["description"], patched["tags"]) == ("answers questions", ["support"])
    assert client.patch(f"{P}/assets/prompt/answer", json={"tags": ["x"]}).status_code == 422  # unknown field

    versions = client.get(f"{P}/assets/prompt/answer/versions").json()
    assert [v["ref"] for v in versions] == ["prompt/answer:1", "prompt/answer:2"]
    assert versions[1]["labels"] == ["latest"]
    assert client.get(f"{P}/versions/prompt/answer:1").json()["content"]["template"] == "one"
    assert client.get(f"{P}/versions/prompt/answer").json()["version"] == 2
    assert client.get(f"{P}/assets/prompt/answer:1").status_code == 422  # a version is not an asset
    assert client.get(f"{P}/assets/prompt/missing").status_code == 404


def test_labels_move_remove_and_history(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("answer", template="one")
    make_prompt("answer", template="two")
    label = f"{P}/assets/prompt/answer/labels"

    moved = client.put(f"{label}/production", json={"version": 1})
    assert moved.status_code == 200 and moved.json()["version"] == 1 and moved.json()["updated_by"] == "alice"
    assert client.put(f"{label}/staging", json={"version": ":2"}).json()["version"] == 2
    assert client.put(f"{label}/production", json={"version": "@staging"}).json()["version"] == 2
    assert client.get(f"{P}/versions/prompt/answer@production").json()["version"] == 2

    assert client.put(f"{label}/latest", json={"version": 1}).status_code == 422
    assert client.put(f"{label}/canary", json={"version": 7}).status_code == 404
    assert client.put(f"{label}/canary", json={"version": "seven"}).status_code == 422

    removed = client.delete(f"{label}/staging")
    assert removed.status_code == 200 and removed.json()["label"] == "staging"
    assert client.delete(f"{label}/staging").status_code == 404

    history = client.get(f"{P}/assets/prompt/answer/label-history").json()
    assert [(e["label"], e["from_version"], e["to_version"]) for e in history] == [
        ("production", None, 1),
        ("staging", None, 2),
        ("production", 1, 2),
        ("staging", 2, None),
    ]
    only = client.get(f"{P}/assets/prompt/answer/label-history", params={"label": "production"}).json()
    assert [e["to_version"] for e in only] == [1, 2]


def test_lineage_both_directions(client: TestClient, make_prompt: Callable[..., dict[str, Any]]) -> None:
    make_prompt("system", template="Be brief.")
    make_prompt("answer", template='{% include "prompt/system" %} {{ q }}')

    down = client.get(f"{P}/lineage/prompt/system:1").json()
    assert down["ref"] == "prompt/system:1" and down["upstream"] == []
    assert [(n["ref"], n["depth"], n["via"], n["parent"]) for n in down["downstream"]] == [
        ("prompt/answer:1", 1, "prompt/system", "prompt/system:1")
    ]
    up = client.get(f"{P}/lineage/prompt/answer", params={"direction": "up"}).json()
    assert [n["ref"] for n in up["upstream"]] == ["prompt/system:1"] and up["downstream"] == []

    assert client.get(f"{P}/lineage/prompt/answer", params={"direction": "sideways"}).status_code == 422
    assert client.get(f"{P}/lineage/prompt/answer", params={"depth": 99}).status_code == 422
    assert client.get(f"{P}/lineage/prompt/answer@gone").status_code == 404
