"""Bias report: positive-outcome rates per group, disparity ratios and the four-fifths rule.

The report (``version`` 1) is a JSON-able dict, the same for the same input::

    {"version": 1, "group_column": "gender", "outcome_column": "hired",
     "positive": [true], "positive_detected": true,   # detected, or as given
     "rows": 1000, "outcome_missing": 3,               # rows without an outcome (not in rates)
     "overall_rate": 0.41,
     "most_favoured": "m",                             # the reference group (highest rate)
     "groups": [{"group": "m", "missing": false, "rows": 600, "outcome_missing": 1,
                 "judged": 599, "positives": 290, "rate": 0.484, "ci95": [0.444, 0.524],
                 "disparity": 1.0, "four_fifths": true, "small": false}, ...],
     "four_fifths": {"threshold": 0.8, "passes": false, "flagged": ["f"]},
     "min_group_size": 30,
     "warnings": ["..."], "notes": ["..."]}

``groups`` are ordered by size (largest first), then by value. A null group value is its own
group, shown as ``"(missing)"`` with ``"missing": true``. ``ci95`` is the 95% Wilson score
interval of the rate. The most favoured group is the one with the highest rate among groups
of at least ``min_group_size`` judged rows (among all groups if none is that large), so that
a group of three lucky rows does not become everyone's yardstick.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from rippleops.errors import InvalidError
from rippleops.runtime.analyzers._batches import MISSING, iter_batches, json_value, plural, require_columns, sort_key

REPORT_VERSION = 1
FOUR_FIFTHS = 0.8
DEFAULT_MIN_GROUP_SIZE = 30
_Z95 = 1.959963984540054
_POSITIVE_WORDS = frozenset({"yes", "true", "positive", "1"})
_MAX_OUTCOME_VALUES = 1000


def bias_report(
    batches: Iterable[pa.RecordBatch] | pa.Table,
    *,
    group_column: str,
    outcome_column: str,
    positive: Any = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
) -> dict[str, Any]:
    """Per-group positive-outcome rates of ``outcome_column`` across ``group_column``.

    ``positive`` is the outcome value (or a list of values) that counts as positive; left
    out, it is detected: ``True`` for booleans, ``1`` for 0/1 numbers, and ``"yes"``,
    ``"true"``, ``"positive"`` or ``"1"`` (any case) for strings; anything else raises
    :class:`~rippleops.errors.InvalidError` asking for ``positive=``.

    >>> import pyarrow as pa
    >>> t = pa.table({"g": ["a", "a", "b", "b"], "y": [1, 1, 1, 0]})
    >>> r = bias_report(t, group_column="g", outcome_column="y", min_group_size=1)
    >>> [(g["group"], g["rate"], g["disparity"]) for g in r["groups"]]
    [('a', 1.0, 1.0), ('b', 0.5, 0.5)]
    >>> r["four_fifths"]["flagged"]
    ['b']
    """
    if group_column == outcome_column:
        raise InvalidError("the group column and the outcome column must differ")
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int) or min_group_size < 1:
        raise InvalidError(f"min_group_size must be a positive whole number, not {min_group_size!r}")
    counts: dict[Any, dict[Any, int]] = {}  # group -> outcome value -> rows
    seen_schema = False
    for batch in iter_batches(batches):
        if not seen_schema:
            require_columns(batch.schema, {"group column": [group_column], "outcome column": [outcome_column]})
            for name in (group_column, outcome_column):
                if pa.types.is_nested(batch.schema.field(name).type):
                    raise InvalidError(f"column {name!r} holds {batch.schema.field(name).type}; it needs single values")
            seen_schema = True
        if batch.num_rows == 0:
            continue
        table = pa.table({name: _groupable(batch.column(name)) for name in (group_column, outcome_column)})
        grouped = table.group_by([group_column, outcome_column], use_threads=False).aggregate([([], "count_all")])
        for g, o, n in zip(*(grouped.column(i).to_pylist() for i in range(3)), strict=True):
            per = counts.setdefault(g, {})
            per[o] = per.get(o, 0) + n
    if not counts:
        raise InvalidError("the data has no rows: a bias report needs at least one row")
    positives, detected = _positive_values(counts, outcome_column, positive)
    return _report(counts, group_column, outcome_column, positives, detected, min_group_size)


def _groupable(array: pa.Array) -> pa.Array:
    # pyarrow's group_by has no kernels for view types yet, and dictionaries group by index
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string_view(array.type):
        return array.cast(pa.large_string())
    if pa.types.is_binary_view(array.type):
        return array.cast(pa.large_binary())
    return array


def _positive_values(counts: dict[Any, dict[Any, int]], outcome: str, positive: Any) -> tuple[list[Any], bool]:
    values = {o for per in counts.values() for o in per if o is not None}
    if positive is not None:
        given = list(positive) if isinstance(positive, list | tuple | set | frozenset) else [positive]
        if not given:
            raise InvalidError("positive= is empty: name the outcome value that counts as positive")
        return sorted(given, key=sort_key), False
    if not values:
        raise InvalidError(f"the outcome column {outcome!r} has no values (all null)")
    if all(isinstance(v, bool) for v in values):
        return [True], True
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values) and values <= {0, 1}:
        return [1], True
    if all(isinstance(v, str) for v in values):
        found = sorted((v for v in values if v.strip().lower() in _POSITIVE_WORDS), key=sort_key)
        if found:
            return found, True
    shown = ", ".join(repr(json_value(v)) for v in sorted(values, key=sort_key)[:8])
    more = f" and {len(values) - 8} more" if len(values) > 8 else ""
    raise InvalidError(
        f"cannot tell which value of {outcome!r} is the positive outcome (values: {shown}{more}); "
        "pass positive=VALUE (or a list of values), e.g. positive='approved'"
    )


def wilson_interval(positives: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of ``positives / n`` (95% by default); (0, 1) when n is 0.

    >>> [round(x, 4) for x in wilson_interval(5, 10)]
    [0.2366, 0.7634]
    """
    if n == 0:
        return (0.0, 1.0)
    p = positives / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _report(
    counts: dict[Any, dict[Any, int]],
    group_column: str,
    outcome_column: str,
    positives: Sequence[Any],
    detected: bool,
    min_group_size: int,
) -> dict[str, Any]:
    pos = set(positives)
    groups: list[dict[str, Any]] = []
    for g, per in counts.items():
        rows = sum(per.values())
        missing_outcome = per.get(None, 0)
        hits = sum(n for o, n in per.items() if o is not None and o in pos)
        judged = rows - missing_outcome
        rate = hits / judged if judged else None
        lo, hi = wilson_interval(hits, judged)
        groups.append(
            {
                "group": MISSING if g is None else json_value(g),
                "missing": g is None,
                "rows": rows,
                "outcome_missing": missing_outcome,
                "judged": judged,
                "positives": hits,
                "rate": None if rate is None else round(rate, 6),
                "ci95": [round(lo, 6), round(hi, 6)],
                "small": judged < min_group_size,
                "_key": g,
                "_rate": rate,
            }
        )
    groups.sort(key=lambda x: (-x["rows"], x["missing"], sort_key(x["_key"])))
    rated = [x for x in groups if x["_rate"] is not None]
    pool = [x for x in rated if not x["small"]] or rated
    reference = max(pool, key=lambda x: x["_rate"]) if pool else None  # max keeps the first of ties
    best = reference["_rate"] if reference else None
    for x in groups:
        if x["_rate"] is None or not best or reference is None:
            x["disparity"] = None
            x["four_fifths"] = None
        else:
            x["disparity"] = round(x["_rate"] / best, 6)
            # in whole numbers, so that a ratio of exactly 4/5 is not lost to rounding
            x["four_fifths"] = 5 * x["positives"] * reference["judged"] >= 4 * x["judged"] * reference["positives"]
    flagged = [x["group"] for x in groups if x["four_fifths"] is False]
    total_judged = sum(x["judged"] for x in groups)
    total_hits = sum(x["positives"] for x in groups)
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "group_column": group_column,
        "outcome_column": outcome_column,
        "positive": [json_value(v) for v in positives],
        "positive_detected": detected,
        "rows": sum(x["rows"] for x in groups),
        "outcome_missing": sum(x["outcome_missing"] for x in groups),
        "overall_rate": round(total_hits / total_judged, 6) if total_judged else None,
        "most_favoured": reference["group"] if reference and best else None,
        "groups": [{k: v for k, v in x.items() if not k.startswith("_")} for x in groups],
        "four_fifths": {"threshold": FOUR_FIFTHS, "passes": not flagged if best else None, "flagged": flagged},
        "min_group_size": min_group_size,
    }
    report["warnings"] = _warnings(report, groups, best)
    report["notes"] = _notes(report)
    return report


def _warnings(report: dict[str, Any], groups: list[dict[str, Any]], best: float | None) -> list[str]:
    out: list[str] = []
    col = report["group_column"]
    if best == 0:
        out.append("No group has a positive outcome, so no disparity ratio can be computed; check positive=.")
    for x in groups:
        if x["four_fifths"] is False:
            out.append(
                f"Group {x['group']!r} of {col!r} has a positive rate of {x['rate']:.1%}, "
                f"{x['disparity']:.2f} of the most favoured group's ({report['most_favoured']!r}): "
                "below the four-fifths (0.8) threshold."
            )
    for x in groups:
        if x["small"]:
            lo, hi = x["ci95"]
            rate = "no rate" if x["rate"] is None else f"rate {x['rate']:.1%}"
            out.append(
                f"Group {x['group']!r} has only {plural(x['judged'], 'row')} with an outcome ({rate}, 95% interval "
                f"{lo:.1%} to {hi:.1%}): too few for a stable rate."
            )
    if report["outcome_missing"]:
        out.append(
            f"{plural(report['outcome_missing'], 'row')} with no value in {report['outcome_column']!r} "
            "are left out of the rates."
        )
    missing = next((x for x in groups if x["missing"]), None)
    if missing:
        out.append(f"{plural(missing['rows'], 'row')} with no value in {col!r} form the group {MISSING!r}.")
    return out


def _notes(report: dict[str, Any]) -> list[str]:
    positive = ", ".join(repr(v) for v in report["positive"])
    how = "detected" if report["positive_detected"] else "as given"
    return [
        f"A rate is the share of a group's rows whose {report['outcome_column']!r} is positive ({positive}, {how}); "
        "rows without an outcome are left out. The rates describe this dataset, not the people or the process "
        "behind it.",
        "A disparity ratio is a group's rate divided by the most favoured group's rate. The four-fifths rule flags "
        "ratios below 0.8; it is a rule of thumb from US employment-selection guidance, not a statistical test and "
        "not a legal finding.",
        "Different rates are not evidence of cause or intent: they can come from how the data was collected, "
        "sampled or labelled, or from other variables that go with the group.",
        "Passing the four-fifths rule does not certify the data or a model trained on it as fair: other criteria "
        "(equal error rates, calibration ...) can disagree with it and with each other.",
        f"Only the groups of {report['group_column']!r} are compared. Intersectional groups (for example gender "
        "and age together) are not covered unless you add a combined column and report on that.",
        f"Groups with fewer than {report['min_group_size']} rows with an outcome are marked small: their rates "
        "swing with a few rows, so read them with their 95% Wilson interval.",
    ]
