"""Sweep specs: knob values checked, grid points generated, knobs applied to an app's spec."""

from __future__ import annotations

import pytest

from rippleops.domain.apps import parse_app_spec
from rippleops.domain.sweeps import apply_knobs, grid_points, parse_grid_flag, parse_sweep_spec, retrieve_index
from rippleops.errors import InvalidError

BASE = parse_app_spec(
    {
        "steps": [
            {"retrieve": {"index": "index/docs@production", "k": 3, "mode": "hybrid"}},
            {"render": {"prompt": "prompt/rag@production"}},
            {"generate": {"model": "model/local-smollm@production", "params": {"max_tokens": 64}}},
        ]
    }
).content()


def spec(**grid: list[object]) -> dict[str, object]:
    return {"app": "app/bot@production", "suite": "suite/qa", "grid": grid}


def test_grid_points_cover_every_combination_first_knob_slowest() -> None:
    s = parse_sweep_spec(spec(k=[1, 2, 4], mode=["vector", "hybrid"]))
    points = grid_points(s)
    assert len(points) == s.size == 6
    assert points[:3] == [{"k": 1, "mode": "vector"}, {"k": 1, "mode": "hybrid"}, {"k": 2, "mode": "vector"}]
    assert len({tuple(p.items()) for p in points}) == 6


def test_values_are_checked_normalised_and_deduplicated() -> None:
    s = parse_sweep_spec(
        spec(k=["2", 2, 3], temperature=[0, "0.7"], prompt=["prompt/rag:2"], model=["model/m@staging"])
    )
    assert s.grid == {"k": [2, 3], "temperature": [0.0, 0.7], "prompt": ["prompt/rag:2"], "model": ["model/m@staging"]}
    assert s.app == "app/bot@production" and s.suite == "suite/qa"
    for bad, match in [
        (spec(k=[0]), "positive whole number"),
        (spec(temperature=[3]), "from 0 to 2"),
        (spec(mode=["fuzzy"]), "modes: vector, bm25, hybrid"),
        (spec(prompt=["model/m"]), "a prompt is expected"),
        (spec(top_p=[1]), "unknown sweep knob 'top_p'"),
        (spec(), "needs a `grid`"),
        ({**spec(k=[1]), "method": "random"}, "methods: grid, optuna"),
        ({**spec(k=[1]), "trials": 3}, "for --method optuna"),
        ({**spec(k=[1]), "storage": "sqlite:///x.db"}, "needs --method optuna"),
        ({**spec(k=[1]), "colour": "red"}, "does not take colour"),
    ]:
        with pytest.raises(InvalidError, match=match):
            parse_sweep_spec(bad)


def test_a_grid_over_the_limit_is_refused_unless_allowed() -> None:
    big = spec(k=list(range(1, 11)), max_tokens=list(range(1, 7)))
    with pytest.raises(InvalidError, match=r"60 points, more than 50.*--max-points 60"):
        parse_sweep_spec(big)
    assert parse_sweep_spec({**big, "max_points": 60}).size == 60
    # optuna tries `trials` of them, so the grid may be larger
    assert parse_sweep_spec({**big, "method": "optuna", "trials": 10}).trials == 10


def test_grid_flags_parse() -> None:
    assert parse_grid_flag("k=1,2,4") == ("k", [1, 2, 4])
    assert parse_grid_flag("mode = vector, hybrid") == ("mode", ["vector", "hybrid"])
    with pytest.raises(InvalidError, match="KNOB=V1,V2"):
        parse_grid_flag("k")


def test_knobs_go_to_their_steps_and_the_base_is_left_alone() -> None:
    out = apply_knobs(
        BASE,
        {
            "k": 5,
            "mode": "vector",
            "prompt": "prompt/rag:2",
            "model": "model/other:1",
            "temperature": 0.2,
            "max_tokens": 16,
        },
    )
    retrieve, render, generate = (next(iter(s.values())) for s in out["steps"])
    assert (retrieve["k"], retrieve["mode"], retrieve["index"]) == (5, "vector", "index/docs@production")
    assert render["prompt"] == "prompt/rag:2"
    assert generate == {"model": "model/other:1", "params": {"max_tokens": 16, "temperature": 0.2}}
    assert BASE["steps"][0]["retrieve"]["k"] == 3
    # what comes out is a valid app spec again
    assert parse_app_spec(out).content() == out


def test_chunk_size_points_the_retrieve_step_at_the_index_built_for_it() -> None:
    assert retrieve_index(BASE) == "index/docs@production"
    out = apply_knobs(BASE, {"chunk_size": 400}, index="index/docs:7")
    assert out["steps"][0]["retrieve"]["index"] == "index/docs:7"
    with pytest.raises(InvalidError, match="needs the index version"):
        apply_knobs(BASE, {"chunk_size": 400})


def test_a_knob_without_its_step_is_refused() -> None:
    bare = parse_app_spec({"steps": [{"generate": {"model": "model/m"}}]}).content()
    with pytest.raises(InvalidError, match="needs a retrieve step"):
        apply_knobs(bare, {"k": 2})
    with pytest.raises(InvalidError, match="needs a render or agent step"):
        apply_knobs(bare, {"prompt": "prompt/p:1"})
    with pytest.raises(InvalidError, match="needs a retrieve step"):
        retrieve_index(bare)
