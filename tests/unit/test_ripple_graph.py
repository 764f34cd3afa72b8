"""The ripple graph without a database: stale reasons, impact plans, diamonds, cycles."""

from __future__ import annotations

import pytest

from rippleops.domain.ripple import EdgeRow, Graph, VersionRow, find_cycle
from rippleops.domain.ripple_plan import impact, stale_plan
from rippleops.errors import InvalidError, NotFoundError


def diamond(*, production_on_app: bool = True) -> Graph:
    """embedder m:1,2; dataset d:1; index a and b over d + m@latest; app x over a, b; deployment."""
    V = VersionRow
    versions = [
        V(1, "embedder", "m", 1, "m1"),
        V(2, "dataset", "d", 1, "d1"),
        V(3, "index", "a", 1, "a1", has_recipe=True, code_version="index-1/c1"),
        V(4, "index", "b", 1, "b1", has_recipe=True, code_version="index-1/c1"),
        V(5, "app", "x", 1, "x1", has_recipe=True),
        V(6, "deployment", "x-production", 1, "dp1", env="production"),
        V(7, "suite", "qa", 1, "s1", has_recipe=True),
        V(8, "embedder", "m", 2, "m2"),
        V(9, "prompt", "p", 1, "p1"),
        V(10, "prompt", "q", 1, "q1"),  # includes prompt/p: hand-made, needs review
    ]
    edges = [
        EdgeRow(3, 2, "dataset/d", "d1", "dataset"),
        EdgeRow(3, 1, "embedder/m", "m1", "embedder"),
        EdgeRow(4, 2, "dataset/d@latest", "d1", "dataset"),
        EdgeRow(4, 1, "embedder/m@latest", "m1", "embedder"),
        EdgeRow(5, 3, "index/a", "a1", "retrieve"),
        EdgeRow(5, 4, "index/b", "b1", "retrieve"),
        EdgeRow(6, 5, "app/x:1", "x1", "app"),
        EdgeRow(7, 2, "dataset/d", "d1", "dataset"),
        EdgeRow(10, 9, "prompt/p", "p1", "include"),
    ]
    labels = {"app/x": {"production": 1}} if production_on_app else {}
    return Graph(versions, edges, labels, suites={"app/x": ["suite/qa"]}, code_versions={"index": "index-1/c1"})


def test_impact_of_a_new_embedder_lists_each_version_once_in_order() -> None:
    plan = impact(diamond(), "embedder/m:2")
    keys = [s.key for s in plan.steps]
    assert keys == [
        "rebuild:index/a:1",
        "rebuild:index/b:1",
        "rebuild:app/x:1",
        "re-evaluate:suite/qa:app/x:1",
        "redeploy:deployment/x-production:1",
    ]
    assert plan.affected == 4  # a, b, x, the deployment: the diamond's app once
    app = plan.steps[2]
    assert app.depends_on == ["rebuild:index/a:1", "rebuild:index/b:1"]
    assert app.labels == ["production", "latest"]
    assert plan.steps[3].depends_on == ["rebuild:app/x:1"]
    assert plan.steps[4].depends_on == ["re-evaluate:suite/qa:app/x:1"]
    assert "embedder/m:2" in plan.steps[0].reason


def test_a_change_nothing_depends_on_says_so() -> None:
    plan = impact(diamond(), "prompt/q:1")
    assert plan.steps == [] and plan.affected == 0
    assert plan.notes[0].startswith("nothing depends on prompt/q:1")


def test_an_old_version_without_label_ripples_nothing() -> None:
    plan = impact(diamond(), "embedder/m:1")
    assert plan.steps == []
    assert "not the latest and holds no label" in plan.notes[0]


def test_hand_made_dependents_are_reviewed() -> None:
    g = diamond()
    g2 = Graph(
        [*g.versions.values(), VersionRow(11, "prompt", "p", 2, "p2")],
        [e for es in g.inputs.values() for e in es],
        {},
    )
    plan = impact(g2, "prompt/p:2")
    assert [s.key for s in plan.steps] == ["review:prompt/q:1"]


def test_label_move_and_hypothetical_move() -> None:
    V = VersionRow
    g = Graph(
        [V(1, "prompt", "p", 1, "p1"), V(2, "prompt", "p", 2, "p2"), V(3, "app", "x", 1, "x1", has_recipe=True),
         V(4, "app", "y", 1, "y1", has_recipe=True)],
        [EdgeRow(3, 1, "prompt/p@production", "p1", "render"), EdgeRow(4, 2, "prompt/p", "p2", "render")],
        {"prompt/p": {"production": 1}},
    )  # fmt: skip
    assert impact(g, "prompt/p@production").steps == []  # it points where x was made
    plan = impact(g, "prompt/p@production", to=2)
    assert [s.key for s in plan.steps] == ["rebuild:app/x:1"]
    assert plan.resolved == "prompt/p:2"
    # a new version leaves label-pinned dependents alone, with a note saying how to go on
    plan = impact(g, "prompt/p:2")
    assert plan.steps == []
    assert any("app/x refers to prompt/p@production, still :1" in n for n in plan.notes)
    with pytest.raises(InvalidError):
        impact(g, "prompt/p:2", to=1)
    with pytest.raises(NotFoundError):
        impact(g, "prompt/p:9")


def test_stale_direct_transitive_and_deployments() -> None:
    g = diamond()
    rep = g.stale()
    by = {r.ref: r for r in rep.items}
    assert set(by) == {"index/a:1", "index/b:1", "app/x:1", "deployment/x-production:1"}
    assert by["deployment/x-production:1"].transitive  # it runs a stale app version
    reason = by["index/a:1"].reasons[0]
    assert (reason.input, reason.recorded, reason.now) == ("embedder/m", "embedder/m:1", "embedder/m:2")
    assert (reason.recorded_hash, reason.now_hash) == ("m1", "m2")
    assert by["app/x:1"].transitive and by["app/x:1"].reasons[0].upstream_stale
    # production moved away from the app version the deployment runs: directly stale
    g2 = diamond(production_on_app=False)
    dep = {r.ref: r for r in g2.stale().items}["deployment/x-production:1"]
    assert dep.action == "redeploy" and dep.reasons[0].input == "app/x@production"


def test_stale_recipe_code_version_and_early_cutoff() -> None:
    V = VersionRow
    g = Graph(
        [V(1, "dataset", "d", 1, "d1"), V(2, "index", "i", 1, "i1", has_recipe=True, code_version="old"),
         V(3, "dataset", "d", 2, "d2"), V(4, "index", "i", 2, "i2", has_recipe=True, code_version="new"),
         V(5, "app", "x", 1, "x1", has_recipe=True)],
        [EdgeRow(2, 1, "dataset/d", "d1"), EdgeRow(4, 3, "dataset/d", "d2"), EdgeRow(5, 4, "index/i", "i2")],
        {},
        code_versions={"index": "new"},
    )  # fmt: skip
    assert g.stale().items == []  # the latest index matches; the old one is history
    assert {r.ref for r in g.stale(all=True).items} == {"index/i:1"}
    g2 = Graph(
        list(g.versions.values()), [e for es in g.inputs.values() for e in es], {}, code_versions={"index": "newer"}
    )
    items = g2.stale().items
    assert [(r.ref, r.reasons[0].input) for r in items] == [("index/i:2", "recipe"), ("app/x:1", "index/i")]
    assert items[1].transitive
    assert [s.key for s in stale_plan(g2).steps] == ["rebuild:index/i:2", "rebuild:app/x:1"]


def test_find_cycle() -> None:
    refers = {"app/b": ["app/c"], "app/c": ["app/a"]}
    assert find_cycle("app/a", ["app/b"], refers) == ["app/a", "app/b", "app/c", "app/a"]
    assert find_cycle("app/a", ["app/a"], {}) == ["app/a", "app/a"]
    assert find_cycle("app/a", ["app/b"], {"app/b": ["app/d"]}) is None
