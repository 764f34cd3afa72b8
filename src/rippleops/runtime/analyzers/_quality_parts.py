"""Pieces of the quality report: per-text-column statistics, duplicate groups, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rippleops.runtime.analyzers._batches import plural
from rippleops.runtime.analyzers._hashing import hash_binary
from rippleops.runtime.analyzers._near_dups import NearDuplicateFinder

#: Row numbers listed per duplicate group at most.
MAX_ROWS_PER_GROUP = 10


@dataclass
class ColumnStats:
    type: str
    nulls: int = 0


class HashSet:
    """A set of 64-bit hashes as a few sorted numpy runs (8 bytes per hash): a new batch's
    hashes become a run, and runs merge while the newer is at least half the older one's
    size, so there are O(log n) runs and each hash is copied O(log n) times."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(run.size for run in self._runs)

    def add(self, hashes: np.ndarray) -> np.ndarray:
        """Add ``hashes`` (distinct, sorted); returns the mask of those that were not in yet."""
        new = np.ones(hashes.size, dtype=bool)
        for run in self._runs:
            where = np.minimum(np.searchsorted(run, hashes), run.size - 1)
            new &= run[where] != hashes
        added = hashes[new]
        if added.size:
            self._runs.append(added)
            while len(self._runs) > 1 and 2 * self._runs[-1].size >= self._runs[-2].size:
                newer = self._runs.pop()
                self._runs[-1] = np.sort(np.concatenate([self._runs[-1], newer]), kind="stable")  # merges two runs
        return new


@dataclass(frozen=True)
class TextBatch:
    """One batch of a text column as :meth:`TextStats.add` saw it: the non-empty texts are at
    ``positions`` of ``array`` with ``hashes``; ``fresh`` indexes (into ``positions``) the
    texts not seen in any earlier row."""

    array: pa.Array
    positions: np.ndarray
    hashes: np.ndarray
    fresh: np.ndarray


@dataclass
class TextStats:
    """Lengths, empty and over-long texts, hashes and near-duplicate sketches of one column."""

    column: str
    finder: NearDuplicateFinder
    count: int = 0
    total_chars: int = 0
    min_chars: int | None = None
    max_chars: int | None = None
    empty: int = 0
    over_long: int = 0
    empty_examples: list[dict[str, Any]] = field(default_factory=list)
    over_long_examples: list[dict[str, Any]] = field(default_factory=list)
    hashes: list[np.ndarray] = field(default_factory=list)
    hash_rows: list[np.ndarray] = field(default_factory=list)
    #: the hashes of the non-empty texts seen so far: 8 bytes per distinct text
    seen: HashSet = field(default_factory=HashSet)
    all_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))

    def add(self, array: pa.Array, offset: int, max_chars: int, max_examples: int) -> TextBatch:
        """Take in one batch's texts (no Python object per text: hashes, lengths and first
        copies are worked out in pyarrow and numpy)."""
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if not pa.types.is_large_string(array.type):  # string_view has few compute kernels yet
            array = array.cast(pa.large_string())
        lengths = pc.utf8_length(array)
        if lengths.null_count < len(lengths):
            lo, hi = pc.min_max(lengths).values()
            self.min_chars = _min(self.min_chars, lo.as_py())
            self.max_chars = _max(self.max_chars, hi.as_py())
            self.total_chars += int(pc.sum(lengths).as_py() or 0)
            self.count += len(lengths) - lengths.null_count
        blank = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(array)), 0), False))
        blank_rows = np.flatnonzero(blank)
        self.empty += int(blank_rows.size)
        for i in blank_rows[: max(0, max_examples - len(self.empty_examples))].tolist():
            self.empty_examples.append({"row": offset + i, "column": self.column})
        chars = np.asarray(pc.fill_null(lengths, 0))
        long_rows = np.flatnonzero(chars > max_chars)
        self.over_long += int(long_rows.size)
        for i in long_rows[: max(0, max_examples - len(self.over_long_examples))].tolist():
            self.over_long_examples.append({"row": offset + i, "column": self.column, "chars": int(chars[i])})
        valid = np.asarray(array.is_valid())
        every = hash_binary(array)
        self.all_hashes = every[valid]  # every non-null text: the column's distinct count reuses them
        positions = np.flatnonzero(valid & ~blank)
        hashes = every[positions]
        if positions.size == 0:
            return TextBatch(array, positions, hashes, positions)
        self.hashes.append(hashes)
        self.hash_rows.append(positions + offset)
        # first copies only go on to the near-duplicate finder: exact duplicates are reported apart
        distinct, first = np.unique(hashes, return_index=True)
        fresh = np.sort(first[self.seen.add(distinct)])
        self.finder.add(positions[fresh] + offset, array.take(pa.array(positions[fresh], pa.int64())))
        return TextBatch(array, positions, hashes, fresh)

    def lengths(self) -> dict[str, Any]:
        mean = round(self.total_chars / self.count, 2) if self.count else None
        return {"min_chars": self.min_chars, "mean_chars": mean, "max_chars": self.max_chars}

    def duplicates(self, max_examples: int) -> dict[str, Any]:
        if not self.hashes:
            return {"count": 0, "examples": []}
        return duplicate_groups(np.concatenate(self.hashes), np.concatenate(self.hash_rows), max_examples)

    def near_pairs(self) -> list[tuple[int, int, float]]:
        return self.finder.pairs()


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def duplicate_groups(hashes: np.ndarray, rows: np.ndarray, max_examples: int) -> dict[str, Any]:
    """Rows sharing a hash: ``count`` of rows repeating an earlier one, and the first groups."""
    if hashes.size == 0:
        return {"count": 0, "examples": []}
    order = np.lexsort((rows, hashes))  # by hash, rows ascending within a hash
    sorted_hashes = hashes[order]
    starts = np.flatnonzero(np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]])
    sizes = np.diff(np.r_[starts, hashes.size])
    count = int(hashes.size - starts.size)
    dup = np.flatnonzero(sizes > 1)
    firsts = rows[order[starts[dup]]]
    examples = []
    for g in dup[np.argsort(firsts, kind="stable")][:max_examples].tolist():
        members = rows[order[starts[g] : starts[g] + sizes[g]]]
        examples.append({"rows": members[:MAX_ROWS_PER_GROUP].tolist(), "copies": int(sizes[g] - 1)})
    return {"count": count, "examples": examples}


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "0%"


def warnings_for(report: dict[str, Any], imbalance: float) -> list[str]:
    """Plain sentences for what in ``report`` deserves a look."""
    rows = report["rows"]
    out: list[str] = []
    if rows == 0:
        return ["The dataset is empty: it has no rows."]
    for name, col in report["columns"].items():
        if col["nulls"] == rows:
            out.append(f"Column {name!r} is empty: every value is null.")
        elif col["null_rate"] >= 0.5:
            out.append(f"Column {name!r} is {_pct(col['nulls'], rows)} null.")
    key = report["key_check"]
    if key and (key["nulls"] or key["duplicates"]):
        out.append(
            f"The key column {report['key']!r} has {key['nulls']} nulls and {key['duplicates']} duplicate values; "
            "a key must identify each row."
        )
    exact = report["exact_duplicates"]["count"]
    if exact:
        out.append(f"Exact duplicate rows (a copy of an earlier row): {exact} of {rows} ({_pct(exact, rows)}).")
    for name, dup in report["text_duplicates"].items():
        if dup["count"] and dup["count"] != exact:
            out.append(f"Texts in {name!r} that repeat an earlier text exactly: {dup['count']}.")
    near = report["near_duplicates"]
    if near["count"]:
        out.append(
            f"Near-duplicate texts (estimated Jaccard similarity >= {near['threshold']} to an earlier text): "
            f"{near['count']}, in {', '.join(repr(c) for c, n in near['by_column'].items() if n)}."
        )
    if report["empty_texts"]["count"]:
        out.append(f"Empty or whitespace-only texts: {report['empty_texts']['count']}.")
    over = report["over_long_texts"]
    if over["count"]:
        out.append(f"Texts longer than {over['max_chars']} characters: {over['count']}.")
    pii = report["pii"]
    if pii and pii["entities"]:
        found = ", ".join(f"{n} {entity}" for entity, n in pii["entities"].items())
        out.append(
            f"Possible personal data in {plural(pii['rows'], 'row')}: {found} (pattern-based; see docs/quality.md)."
        )
    balance = report["label_balance"]
    if balance and balance["classes"] >= 2:
        real = [x for x in balance["labels"] if not x["missing"]]
        largest, smallest = real[0], real[-1]
        if smallest["count"] < imbalance * largest["count"]:
            out.append(
                f"Label {smallest['label']!r} has {plural(smallest['count'], 'row')}, under {imbalance:.0%} of the "
                f"{largest['count']} of label {largest['label']!r}: the classes are imbalanced."
            )
    if balance and any(x["missing"] for x in balance["labels"]):
        out.append(f"Some rows have no label in {balance['column']!r}.")
    return out
