"""The ripple engine over a real database (SQLite and PostgreSQL): stale, impact, cycles.

Versions are registered through the asset service with their inputs and recipes as the kind
services record them, so that these tests need no model."""

from __future__ import annotations

from typing import Any

import pytest

from rippleops.domain.access import Principal
from rippleops.domain.indexes import CODE_VERSION
from rippleops.domain.prompts import parse_spec
from rippleops.errors import InvalidError
from rippleops.services import Services
from rippleops.services.assets import InputSpec

P = "default"


def reg(
    services: Services, who: Principal, asset: str, *inputs: tuple[str, str], recipe: Any = None, **content: Any
) -> str:
    kind, name = asset.split("/")
    record = services.assets.register(
        who, P, kind, name, content or {"v": 1}, inputs=[InputSpec(r, role) for r, role in inputs], recipe=recipe
    )
    return record.ref


@pytest.fixture
def project(services: Services, admin: Principal) -> Services:
    """embedder/minilm, dataset/docs -> index/docs (and index/faq: a diamond) -> app/bot
    (production, deployed to production) evaluated by suite/qa."""
    reg(services, admin, "embedder/minilm", provider="minilm")
    reg(services, admin, "dataset/docs", rows=3)
    index_recipe = {"code_version": CODE_VERSION, "chunking": {"size": 800}}
    for name in ("docs", "faq"):
        reg(services, admin, f"index/{name}", ("dataset/docs", "dataset"), ("embedder/minilm", "embedder"),
            recipe=index_recipe, name=name)  # fmt: skip
    reg(services, admin, "prompt/answer", template="{{ q }}")
    reg(services, admin, "app/bot", ("index/docs", "retrieve"), ("index/faq@latest", "retrieve"),
        ("prompt/answer", "render"), recipe={"pins": {}}, steps=1)  # fmt: skip
    services.labels.set(admin, P, "app/bot", "production", 1)
    reg(services, admin, "deployment/bot-production", ("app/bot:1", "app"), app="app/bot:1", env="production",
        target="k8s")  # fmt: skip
    reg(services, admin, "suite/qa", ("dataset/docs", "dataset"), recipe={"pins": {}}, targets=["app/bot"])
    return services


def test_nothing_is_stale_then_a_new_embedder_makes_the_chain_stale(project: Services, admin: Principal) -> None:
    services = project
    assert services.ripple.stale(admin, P).items == []
    reg(services, admin, "embedder/minilm", provider="minilm", normalize=False)
    rep = services.ripple.stale(admin, P)
    by = {i.ref: i for i in rep.items}
    assert set(by) == {"index/docs:1", "index/faq:1", "app/bot:1", "deployment/bot-production:1"}
    r = by["index/docs:1"].reasons[0]
    assert (r.input, r.recorded, r.now) == ("embedder/minilm", "embedder/minilm:1", "embedder/minilm:2")
    assert r.recorded_hash and r.now_hash and r.recorded_hash != r.now_hash
    assert by["app/bot:1"].transitive and by["index/docs:1"].action == "rebuild"
    assert [i.ref for i in services.ripple.stale(admin, P, kind="index").items] == ["index/docs:1", "index/faq:1"]
    assert rep.took_ms < 1000


def test_impact_lists_the_diamond_once_in_order_with_estimates(project: Services, admin: Principal) -> None:
    services = project
    reg(services, admin, "embedder/minilm", provider="minilm", normalize=False)
    plan = services.ripple.impact(admin, P, "embedder/minilm:2")
    assert [s.key for s in plan.steps] == [
        "rebuild:index/docs:1",
        "rebuild:index/faq:1",
        "rebuild:app/bot:1",
        "re-evaluate:suite/qa:app/bot:1",
        "redeploy:deployment/bot-production:1",
    ]
    assert plan.affected == 4
    app = plan.steps[2]
    assert app.estimate.basis == "metadata only" and app.labels == ["production", "latest"]
    assert plan.steps[-1].estimate.basis.startswith("no past run")
    assert plan.estimate.seconds is not None and plan.resolved == "embedder/minilm:2"


def test_a_change_nothing_depends_on(project: Services, admin: Principal) -> None:
    plan = project.ripple.impact(admin, P, "suite/qa:1")
    assert plan.steps == [] and plan.notes[0].startswith("nothing depends on suite/qa:1")


def test_a_label_move_ripples_to_refs_written_with_the_label(project: Services, admin: Principal) -> None:
    services = project
    reg(services, admin, "prompt/system", text="a")
    services.labels.set(admin, P, "prompt/system", "production", 1)
    reg(services, admin, "app/helper", ("prompt/system@production", "render"), recipe={"pins": {}})
    reg(services, admin, "prompt/system", text="b")
    plan = services.ripple.impact(admin, P, "prompt/system:2")
    assert plan.steps == []
    assert any("app/helper refers to prompt/system@production, still :1" in n for n in plan.notes)
    plan = services.ripple.impact(admin, P, "prompt/system@production", to=2)
    assert [s.key for s in plan.steps] == ["rebuild:app/helper:1"]
    services.labels.set(admin, P, "prompt/system", "production", 2)  # the graph cache sees the move
    assert [s.key for s in services.ripple.impact(admin, P, "prompt/system@production").steps] == [
        "rebuild:app/helper:1"
    ]
    assert [i.ref for i in services.ripple.stale(admin, P).items] == ["app/helper:1"]


def test_cycles_are_refused_at_creation(services: Services, admin: Principal) -> None:
    reg(services, admin, "prompt/p", t=1)
    reg(services, admin, "app/a", ("prompt/p", "render"), recipe={"pins": {}})
    reg(services, admin, "app/b", ("app/a", "tool"), recipe={"pins": {}})
    reg(services, admin, "app/c", ("app/b@latest", "tool"), recipe={"pins": {}})
    with pytest.raises(InvalidError, match=r"app/a -> app/c -> app/b -> app/a") as err:
        reg(services, admin, "app/a", ("prompt/p", "render"), ("app/c", "tool"), recipe={"pins": {}}, v=2)
    assert "exact version" in err.value.message
    # an exact reference never moves, so it closes no loop
    assert reg(services, admin, "app/a", ("app/c:1", "tool"), recipe={"pins": {}}, v=4) == "app/a:2"


def test_a_version_built_on_its_own_previous_version_is_history(services: Services, admin: Principal) -> None:
    """dataset/qa:2 from dataset/qa@latest (then :1): allowed, and not stale once it is :2."""
    reg(services, admin, "dataset/qa", rows=1)
    assert reg(services, admin, "dataset/qa", ("dataset/qa@latest", "parent"), recipe={"append": 1}, rows=2) == (
        "dataset/qa:2"
    )
    assert services.ripple.stale(admin, P).items == []
    assert services.ripple.impact(admin, P, "dataset/qa:2").steps == []


def test_apply_stale_rebuilds_what_stale_lists(services: Services, admin: Principal) -> None:
    services.models.create(admin, P, "smol", {"provider": "local"})
    services.prompts.create(admin, P, "answer", parse_spec({"template": "Answer: {{ q }}"}))
    spec = {"steps": [{"render": {"prompt": "prompt/answer"}}, {"generate": {"model": "model/smol"}}]}
    services.apps.create(admin, P, "helper", spec)
    services.prompts.create(admin, P, "answer", parse_spec({"template": "Answer briefly: {{ q }}"}))
    assert [i.ref for i in services.ripple.stale(admin, P).items] == ["app/helper:1"]
    with pytest.raises(InvalidError, match="not both or neither"):
        services.ripple.apply(admin, P, "prompt/answer:2", stale=True)
    record = services.ripple.apply(admin, P, stale=True, wait=True)
    assert record.change == "stale" and [s.key for s in record.plan.steps] == ["rebuild:app/helper:1"]
    assert (record.report or {})["rebuilt"] == [{"from": "app/helper:1", "to": "app/helper:2"}]
    assert services.ripple.stale(admin, P).items == []
    assert services.ripple.apply(admin, P, stale=True, dry_run=True).plan.notes == ["nothing is stale"]


def test_an_index_built_by_an_older_builder_is_stale_and_says_so(project: Services, admin: Principal) -> None:
    """The code version is read from the stored recipe by the database (both dialects)."""
    services = project
    reg(services, admin, "index/old", ("dataset/docs", "dataset"), ("embedder/minilm", "embedder"),
        recipe={"code_version": "index-0/old", "chunking": {"size": 800}}, name="old")  # fmt: skip
    by = {i.ref: i for i in services.ripple.stale(admin, P).items}
    assert set(by) == {"index/old:1"}
    reason = by["index/old:1"].reasons[0]
    assert reason.input == "recipe" and "index-0/old" in str(reason.recorded) and CODE_VERSION in str(reason.now)


def test_a_policy_over_an_embedder_is_rebuilt_and_a_review_blocks_nothing(project: Services, admin: Principal) -> None:
    """A policy pins its embedder (recipe pins): a new embedder rebuilds it; a hand-made
    version that refers to the embedder is reviewed, and what uses it still rebuilds."""
    services = project
    reg(services, admin, "policy/guard", ("embedder/minilm", "embedder"),
        recipe={"pins": {"embedder/minilm": "embedder/minilm:1"}}, input=[])  # fmt: skip
    reg(services, admin, "prompt/notes", ("embedder/minilm", "include"), template="hand-made")
    reg(services, admin, "app/guarded", ("policy/guard", "guard_input"), ("prompt/notes", "render"),
        recipe={"pins": {}}, steps=2)  # fmt: skip
    reg(services, admin, "embedder/minilm", provider="minilm", batch_size=32)
    steps = {s.key: s for s in services.ripple.impact(admin, P, "embedder/minilm:2").steps}
    assert steps["rebuild:policy/guard:1"].action == "rebuild"
    assert steps["review:prompt/notes:1"].action == "review"
    app = steps["rebuild:app/guarded:1"]
    assert app.depends_on == ["rebuild:policy/guard:1"]  # not the review
