"""The asset registry on SQLite and PostgreSQL: versions, hashes, labels, lineage, listing."""

from __future__ import annotations

import pytest

from rippleops.domain.access import Principal
from rippleops.domain.hashing import content_hash
from rippleops.errors import InvalidError, NotFoundError, PayloadTooLargeError
from rippleops.services import Services
from rippleops.services.assets import InputSpec

P = "default"


def reg(services: Services, who: Principal, name: str, content: dict, **kw: object):  # type: ignore[no-untyped-def]
    return services.assets.register(who, P, "prompt", name, content, **kw)  # type: ignore[arg-type]


def test_versions_are_numbered_and_hash_deduplicated(services: Services, admin: Principal) -> None:
    v1 = reg(services, admin, "answer", {"t": 1})
    v2 = reg(services, admin, "answer", {"t": 2})
    again = reg(services, admin, "answer", {"t": 2})
    older = reg(services, admin, "answer", {"t": 1})
    assert (v1.version, v2.version) == (1, 2)
    assert v1.hash == content_hash({"t": 1}) and v1.created is True
    assert again.version == 2 and again.created is False and "latest" in (again.note or "")
    assert older.version == 1 and older.created is False and "roll back" in (older.note or "")
    assert services.assets.show(admin, P, "prompt/answer").latest_version == 2


def test_version_record_contract(services: Services, admin: Principal) -> None:
    rec = reg(services, admin, "answer", {"t": 1}, message="first", tags=["support"])
    got = services.assets.get(admin, P, "prompt/answer:1")
    for field in ("ref", "kind", "name", "version", "hash", "labels", "inputs", "created_at", "created_by"):
        assert getattr(got, field) == getattr(rec, field) or field == "labels", field
    assert got.ref == "prompt/answer:1" and got.labels == ["latest"] and got.created_by == "alice"
    assert got.content == {"t": 1} and got.message == "first" and got.tags == ["support"]


def test_metadata_edits_do_not_change_the_hash(services: Services, admin: Principal) -> None:
    rec = reg(services, admin, "answer", {"t": 1})
    a = services.assets.update(admin, P, "prompt/answer", description="the answerer", add_tags=["x", "y"])
    a = services.assets.update(admin, P, "prompt/answer", remove_tags=["x"])
    assert a.description == "the answerer" and a.tags == ["y"]
    assert services.assets.get(admin, P, "prompt/answer").hash == rec.hash


def test_labels_move_and_keep_history(services: Services, admin: Principal) -> None:
    for i in range(3):
        reg(services, admin, "answer", {"t": i})
    services.labels.set(admin, P, "prompt/answer", "production", 1)
    services.labels.set(admin, P, "prompt/answer", "production", 3)
    services.labels.set(admin, P, "prompt/answer", "staging", "@production")
    services.labels.set(admin, P, "prompt/answer", "production", ":1")  # rollback = move it back
    assert services.assets.get(admin, P, "prompt/answer@production").version == 1
    assert services.assets.get(admin, P, "prompt/answer@staging").version == 3
    assert services.assets.get(admin, P, "prompt/answer").version == 3  # latest implicit
    moves = [(e.label, e.from_version, e.to_version) for e in services.labels.history(admin, P, "prompt/answer")]
    assert moves == [("production", None, 1), ("production", 1, 3), ("staging", None, 3), ("production", 3, 1)]
    services.labels.remove(admin, P, "prompt/answer", "staging")
    with pytest.raises(NotFoundError, match="labels: production"):
        services.assets.get(admin, P, "prompt/answer@staging")


def test_bad_references_and_labels(services: Services, admin: Principal) -> None:
    reg(services, admin, "answer", {"t": 1})
    with pytest.raises(NotFoundError, match="has no label 'prod'; labels: none yet"):
        services.assets.get(admin, P, "prompt/answer@prod")
    with pytest.raises(NotFoundError, match="no version 7; the latest is 1"):
        services.assets.get(admin, P, "prompt/answer:7")
    with pytest.raises(NotFoundError, match="does not exist"):
        services.assets.get(admin, P, "prompt/nothing")
    with pytest.raises(NotFoundError, match="no version 9"):
        services.labels.set(admin, P, "prompt/answer", "production", 9)
    with pytest.raises(InvalidError, match="cannot be moved"):
        services.labels.set(admin, P, "prompt/answer", "latest", 1)
    with pytest.raises(InvalidError, match="not valid"):
        reg(services, admin, "Bad Name", {"t": 1})
    with pytest.raises(InvalidError, match="unknown asset kind"):
        services.assets.get(admin, P, "widget/answer")
    with pytest.raises(NotFoundError, match="project 'nope'"):
        services.assets.get(admin, "nope", "prompt/answer")


def test_oversize_content_is_refused(services: Services, admin: Principal) -> None:
    with pytest.raises(PayloadTooLargeError, match="RIPPLE_MAX_PAYLOAD_BYTES"):
        reg(services, admin, "big", {"t": "x" * (services.settings.max_payload_bytes + 1)})
    with pytest.raises(NotFoundError):
        services.assets.show(admin, P, "prompt/big")


def test_lineage_up_and_down_any_depth(services: Services, admin: Principal) -> None:
    reg(services, admin, "a", {"n": "a"})
    reg(services, admin, "b", {"n": "b"}, inputs=[InputSpec("prompt/a")])
    services.labels.set(admin, P, "prompt/b", "production", 1)
    reg(services, admin, "c", {"n": "c"}, inputs=[InputSpec("prompt/b@production")])
    reg(services, admin, "d", {"n": "d"}, inputs=[InputSpec("prompt/c:1"), InputSpec("prompt/a")])
    up = services.lineage.walk(admin, P, "prompt/d", direction="up")
    assert [(n.ref, n.depth) for n in up.upstream] == [("prompt/a:1", 1), ("prompt/c:1", 1), ("prompt/b:1", 2)]
    down = services.lineage.walk(admin, P, "prompt/a:1", direction="down")
    assert {(n.ref, n.depth) for n in down.downstream} == {("prompt/b:1", 1), ("prompt/d:1", 1), ("prompt/c:1", 2)}
    one = services.lineage.walk(admin, P, "prompt/a:1", direction="down", depth=1)
    assert {n.ref for n in one.downstream} == {"prompt/b:1", "prompt/d:1"}
    c = services.assets.get(admin, P, "prompt/c")
    assert c.inputs[0].ref == "prompt/b@production" and c.inputs[0].resolved == "prompt/b:1"
    assert c.inputs[0].hash == services.assets.get(admin, P, "prompt/b:1").hash
    with pytest.raises(NotFoundError):
        reg(services, admin, "e", {"n": "e"}, inputs=[InputSpec("prompt/b@staging")])


def test_listing_filters_and_pages(services: Services, admin: Principal) -> None:
    for i in range(7):
        reg(services, admin, f"p{i}", {"i": i}, tags=["even"] if i % 2 == 0 else [])
    services.labels.set(admin, P, "prompt/p3", "production", 1)
    page = services.assets.list(admin, P, kind="prompt", limit=3)
    names = [a.name for a in page.items]
    while page.next_cursor:
        page = services.assets.list(admin, P, kind="prompt", limit=3, cursor=page.next_cursor)
        names += [a.name for a in page.items]
    assert names == [f"p{i}" for i in range(7)]
    assert [a.name for a in services.assets.list(admin, P, tag="even").items] == ["p0", "p2", "p4", "p6"]
    assert [a.name for a in services.assets.list(admin, P, label="production").items] == ["p3"]
    assert [a.name for a in services.assets.list(admin, P, search="p5").items] == ["p5"]
    with pytest.raises(InvalidError, match="cursor"):
        services.assets.list(admin, P, cursor="!!!")
