"""Bias report: rates, disparity ratios and the four-fifths flag checked by hand, positive
outcome detection, small groups with Wilson intervals, nulls, bad input, determinism."""

from __future__ import annotations

import doctest
import json

import pyarrow as pa
import pytest

from rippleops.errors import InvalidError
from rippleops.runtime.analyzers import bias
from rippleops.runtime.analyzers.bias import bias_report, wilson_interval


def _table(groups: dict[object, tuple[int, int]], *, outcome: tuple[object, object] = (1, 0)) -> pa.Table:
    """``groups``: value -> (positives, negatives)."""
    g: list[object] = []
    y: list[object] = []
    for value, (pos, neg) in groups.items():
        g += [value] * (pos + neg)
        y += [outcome[0]] * pos + [outcome[1]] * neg
    return pa.table({"group": g, "hired": y})


def _by_group(report: dict[str, object]) -> dict[object, dict[str, object]]:
    return {g["group"]: g for g in report["groups"]}  # type: ignore[attr-defined, index]


def test_rates_disparity_and_four_fifths_by_hand() -> None:
    # a: 60/100 = 0.6, b: 45/100 = 0.45 -> 0.75 of a (flagged), c: 50/100 = 0.5 -> 0.8333 (passes)
    report = bias_report(
        _table({"a": (60, 40), "b": (45, 55), "c": (50, 50)}), group_column="group", outcome_column="hired"
    )
    groups = _by_group(report)
    assert report["most_favoured"] == "a"
    assert groups["a"]["rate"] == 0.6 and groups["a"]["disparity"] == 1.0
    assert groups["b"]["rate"] == 0.45 and groups["b"]["disparity"] == 0.75 and groups["b"]["four_fifths"] is False
    assert groups["c"]["disparity"] == pytest.approx(0.833333) and groups["c"]["four_fifths"] is True
    assert report["four_fifths"] == {"threshold": 0.8, "passes": False, "flagged": ["b"]}
    assert report["overall_rate"] == pytest.approx(155 / 300, abs=1e-6)
    assert report["rows"] == 300 and report["positive"] == [1] and report["positive_detected"] is True
    assert any("'b'" in w and "four-fifths" in w for w in report["warnings"])


def test_exactly_four_fifths_passes() -> None:
    # 40/100 vs 50/100 = 0.8 exactly: the rule flags ratios *below* 0.8
    report = bias_report(_table({"a": (50, 50), "b": (40, 60)}), group_column="group", outcome_column="hired")
    assert _by_group(report)["b"]["four_fifths"] is True
    assert report["four_fifths"]["passes"] is True


def test_wilson_interval_by_hand() -> None:
    lo, hi = wilson_interval(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)


def test_small_groups_warn_with_interval_and_do_not_become_the_reference() -> None:
    # z has 3 rows, all positive: rate 1.0 but too small to be the yardstick
    report = bias_report(
        _table({"a": (40, 60), "b": (36, 64), "z": (3, 0)}), group_column="group", outcome_column="hired"
    )
    groups = _by_group(report)
    assert report["most_favoured"] == "a"
    assert groups["z"]["small"] is True and groups["z"]["disparity"] == 2.5
    assert groups["z"]["ci95"] == [pytest.approx(0.438503, abs=1e-6), 1.0]
    assert any("'z' has only 3 rows" in w and "95% interval" in w for w in report["warnings"])
    # with a lower bar the tiny group is the reference again
    low = bias_report(
        _table({"a": (40, 60), "z": (3, 0)}), group_column="group", outcome_column="hired", min_group_size=1
    )
    assert low["most_favoured"] == "z"


def test_null_groups_are_their_own_group_and_null_outcomes_are_left_out() -> None:
    t = pa.table({"group": ["a", "a", None, None, "a"], "hired": [True, False, True, None, None]})
    report = bias_report(t, group_column="group", outcome_column="hired", min_group_size=1)
    groups = _by_group(report)
    assert groups["(missing)"]["missing"] is True
    assert (
        groups["(missing)"]["rows"] == 2 and groups["(missing)"]["judged"] == 1 and groups["(missing)"]["rate"] == 1.0
    )
    assert groups["a"]["rows"] == 3 and groups["a"]["judged"] == 2 and groups["a"]["rate"] == 0.5
    assert report["outcome_missing"] == 2
    assert report["positive"] == [True]
    assert any("'(missing)'" in w for w in report["warnings"])


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (("yes", "no"), ["yes"]),
        (("Yes", "No"), ["Yes"]),
        (("true", "false"), ["true"]),
        (("positive", "negative"), ["positive"]),
        ((True, False), [True]),
        ((1.0, 0.0), [1]),
    ],
)
def test_positive_detected(outcome: tuple[object, object], expected: list[object]) -> None:
    report = bias_report(
        _table({"a": (2, 1), "b": (1, 2)}, outcome=outcome), group_column="group", outcome_column="hired"
    )
    assert report["positive"] == expected
    assert _by_group(report)["a"]["positives"] == 2


def test_undetectable_positive_asks_for_it() -> None:
    t = _table({"a": (2, 1)}, outcome=("approved", "denied"))
    with pytest.raises(InvalidError, match=r"values: 'approved', 'denied'.*pass positive="):
        bias_report(t, group_column="group", outcome_column="hired")
    report = bias_report(t, group_column="group", outcome_column="hired", positive="approved")
    assert report["positive"] == ["approved"] and report["positive_detected"] is False
    assert report["groups"][0]["positives"] == 2
    several = bias_report(t, group_column="group", outcome_column="hired", positive=["approved", "denied"])
    assert several["groups"][0]["rate"] == 1.0


def test_no_positive_at_all_gives_no_ratios() -> None:
    report = bias_report(_table({"a": (0, 5), "b": (0, 5)}), group_column="group", outcome_column="hired", positive=1)
    assert report["most_favoured"] is None
    assert report["four_fifths"]["passes"] is None
    assert all(g["disparity"] is None for g in report["groups"])
    assert any("No group has a positive outcome" in w for w in report["warnings"])


def test_notes_say_what_the_numbers_do_not_mean() -> None:
    report = bias_report(_table({"a": (1, 1)}), group_column="group", outcome_column="hired")
    notes = " ".join(report["notes"])
    for phrase in ("not evidence of cause", "does not certify", "Intersectional groups", "rule of thumb"):
        assert phrase in notes


def test_streams_batches_and_is_deterministic() -> None:
    table = _table({"b": (30, 70), "a": (45, 55), "c": (5, 5)})
    one = bias_report(table, group_column="group", outcome_column="hired")
    many = bias_report(table.to_batches(max_chunksize=7), group_column="group", outcome_column="hired")
    reversed_rows = table.take(list(reversed(range(table.num_rows))))
    again = bias_report(reversed_rows, group_column="group", outcome_column="hired")
    assert json.dumps(one, sort_keys=True) == json.dumps(many, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert [g["group"] for g in one["groups"]] == ["a", "b", "c"]  # by size, then by value
    numbers = bias_report(_table({10: (1, 1), 9: (1, 1)}), group_column="group", outcome_column="hired")
    assert [g["group"] for g in numbers["groups"]] == [9, 10]  # numbers sort as numbers


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group_column": "gender", "outcome_column": "hired"}, "no column group column 'gender'"),
        ({"group_column": "group", "outcome_column": "label"}, "no column outcome column 'label'.*columns: group"),
        ({"group_column": "group", "outcome_column": "group"}, "must differ"),
        ({"group_column": "group", "outcome_column": "hired", "min_group_size": 0}, "min_group_size"),
        ({"group_column": "group", "outcome_column": "hired", "positive": []}, "positive= is empty"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        bias_report(_table({"a": (1, 1)}), **kwargs)  # type: ignore[arg-type]


def test_empty_input() -> None:
    with pytest.raises(InvalidError, match="no rows"):
        bias_report([], group_column="group", outcome_column="hired")
    empty = _table({"a": (1, 1)}).slice(0, 0)
    with pytest.raises(InvalidError, match="no rows"):
        bias_report(empty, group_column="group", outcome_column="hired")
    nulls = pa.table({"group": ["a"], "hired": pa.array([None], pa.int64())})
    with pytest.raises(InvalidError, match="all null"):
        bias_report(nulls, group_column="group", outcome_column="hired")


@pytest.mark.parametrize("kind", ["string_view", "dictionary", "large_string"])
def test_string_types_of_the_group_column(kind: str) -> None:
    groups = pa.array(["a"] * 4 + ["b"] * 4)
    column = {
        "string_view": groups.cast(pa.string_view()),
        "dictionary": groups.dictionary_encode(),
        "large_string": groups.cast(pa.large_string()),
    }[kind]
    t = pa.table({"group": column, "hired": [1, 1, 1, 0, 1, 0, 0, 0]})
    report = bias_report(t, group_column="group", outcome_column="hired", min_group_size=1)
    assert {g["group"]: g["rate"] for g in report["groups"]} == {"a": 0.75, "b": 0.25}


def test_not_batches() -> None:
    with pytest.raises(InvalidError, match="RecordBatches"):
        bias_report([{"group": "a"}], group_column="group", outcome_column="hired")  # type: ignore[list-item]


def test_doctests() -> None:
    assert doctest.testmod(bias).failed == 0
