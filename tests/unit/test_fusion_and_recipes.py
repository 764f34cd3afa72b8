"""Reciprocal rank fusion, index recipes, the incremental build plan and search filters."""

from __future__ import annotations

import pytest

from rippleops.domain.chunking import CHUNKER_VERSION, ChunkingParams
from rippleops.domain.fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from rippleops.domain.hashing import content_hash
from rippleops.domain.indexes import (
    CODE_VERSION,
    IndexRecipe,
    can_reuse_vectors,
    coerce_filters,
    parse_filter_pairs,
    plan_build,
    table_name,
)
from rippleops.errors import InvalidError


def test_rrf_matches_the_formula() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]]))
    k = DEFAULT_RRF_K
    assert fused["a"] == pytest.approx(1 / (k + 1) + 1 / (k + 2))
    assert fused["b"] == pytest.approx(1 / (k + 2))
    assert fused["c"] == pytest.approx(1 / (k + 3) + 1 / (k + 1))
    assert [i for i, _ in reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]])] == ["a", "c", "b"]


def test_rrf_rewards_agreement_over_one_first_place() -> None:
    # x is first in one list only; y is second in both: with k=60, agreement wins
    fused = reciprocal_rank_fusion([["x", "y", "z"], ["w", "y", "v"]])
    assert fused[0][0] == "y"


def test_rrf_ties_weights_duplicates_and_limit() -> None:
    # a and b tie on score; a has the better best rank... both rank 1: the earlier list wins
    assert [i for i, _ in reciprocal_rank_fusion([["a"], ["b"]])] == ["a", "b"]
    assert [i for i, _ in reciprocal_rank_fusion([["a"], ["b"]], weights=[1, 2])] == ["b", "a"]
    dup = dict(reciprocal_rank_fusion([["a", "a", "b"]], k=1))
    assert dup == {"a": 0.5, "b": pytest.approx(1 / 4)}  # a duplicate counts once, at its best rank
    assert len(reciprocal_rank_fusion([["a", "b", "c"]], limit=2)) == 2
    assert reciprocal_rank_fusion([]) == []
    with pytest.raises(InvalidError, match="positive whole number"):
        reciprocal_rank_fusion([["a"]], k=0)
    with pytest.raises(InvalidError, match="one weight per ranking"):
        reciprocal_rank_fusion([["a"]], weights=[1, 2])


def test_recipe_is_canonical_and_part_of_the_hash() -> None:
    a = IndexRecipe(ChunkingParams(800, 100), metadata_columns=("lang", "year", "lang"))
    b = IndexRecipe(ChunkingParams(800, 100), metadata_columns=("year", "lang"))
    assert a == b and a.to_dict()["metadata_columns"] == ["lang", "year"]
    assert a.to_dict()["code_version"] == CODE_VERSION and CHUNKER_VERSION in CODE_VERSION
    assert IndexRecipe.from_dict(a.to_dict()) == a
    c = IndexRecipe(ChunkingParams(800, 50), metadata_columns=("lang", "year"))
    assert content_hash(a.to_dict()) != content_hash(c.to_dict())
    assert a.filter_keys == ("doc_id", "lang", "year")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_column": ""}, "text column must be a column name"),
        ({"text_column": "doc_id"}, "both 'doc_id'"),
        ({"metadata_columns": ("heading",)}, "heading is the heading path"),
        ({"metadata_columns": ("text",)}, "it is the text column"),
        ({"metadata_columns": "lang"}, "must be a list of column names"),
    ],
)
def test_bad_recipes_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        IndexRecipe(ChunkingParams(), **kwargs)  # type: ignore[arg-type]


def test_table_names_are_short_stable_and_distinct() -> None:
    recipe = IndexRecipe(ChunkingParams()).to_dict()
    t = table_name("default", "docs", "sha256:d1", "sha256:e1", recipe)
    assert t == table_name("default", "docs", "sha256:d1", "sha256:e1", dict(recipe))
    assert t.startswith("ix_") and len(t) == 27 and t.replace("_", "").isalnum()
    others = {
        table_name("other", "docs", "sha256:d1", "sha256:e1", recipe),
        table_name("default", "docs2", "sha256:d1", "sha256:e1", recipe),
        table_name("default", "docs", "sha256:d2", "sha256:e1", recipe),
        table_name("default", "docs", "sha256:d1", "sha256:e2", recipe),
        table_name("default", "docs", "sha256:d1", "sha256:e1", IndexRecipe(ChunkingParams(500, 0)).to_dict()),
    }
    assert t not in others and len(others) == 5


def test_build_plan_and_reuse_rule() -> None:
    plan = plan_build(["a", "b", "c", "d"], reusable=["b", "d", "zz"])
    assert plan.embed == (0, 2) and plan.reuse == {"b", "d"} and (plan.total, plan.reused) == (4, 2)
    assert plan_build([], reusable=["a"]).embed == ()
    assert can_reuse_vectors("sha256:e", CODE_VERSION, "sha256:e")
    assert not can_reuse_vectors("sha256:e", CODE_VERSION, "sha256:other")
    assert not can_reuse_vectors("sha256:e", "index-0/chunker-0", "sha256:e")
    assert not can_reuse_vectors(None, None, "sha256:e")


def test_filters_are_checked_and_typed() -> None:
    fields = {"doc_id": "string", "lang": "string", "year": "int64", "score": "double", "public": "bool"}
    assert parse_filter_pairs(["lang=en", "year=2024", "note=a=b"]) == {"lang": "en", "year": "2024", "note": "a=b"}
    got = coerce_filters({"lang": "en", "year": "2024", "score": "0.5", "public": "yes"}, fields)
    assert got == {"lang": "en", "year": 2024, "score": 0.5, "public": True}
    assert coerce_filters(None, fields) == {}
    assert coerce_filters({"year": 2024}, fields) == {"year": 2024}
    with pytest.raises(
        InvalidError, match=r"unknown filter key\(s\) 'langauge'; this index can filter on: doc_id, lang"
    ):
        coerce_filters({"langauge": "en"}, fields)
    with pytest.raises(InvalidError, match="year holds numbers"):
        coerce_filters({"year": "last"}, fields)
    with pytest.raises(InvalidError, match="give true or false"):
        coerce_filters({"public": "maybe"}, fields)
    with pytest.raises(InvalidError, match="not key=value"):
        parse_filter_pairs(["lang"])
