"""Quality report of a dataset, computed in one pass over its record batches.

Only hashes and sketches stay in memory: 8 bytes per row for the row hashes, 24 bytes per
non-empty text (its hash and row, and its hash in the set of texts seen), about 350 more
per distinct text of four words or more (a 16-bit MinHash signature and LSH band hashes)
and at most :data:`~rippleops.runtime.analyzers._hashing.EXACT_DISTINCT_LIMIT` hashes per
column for distinct counts. No Python object is made per row: hashing, first copies and
the PII pre-filter run in pyarrow and numpy over whole batches. Rows are numbered from 0 in
stream order. Same input, same report.

The report (``version`` 1), every key always present::

    {"version": 1, "rows": 1200,
     "columns": {"text": {"type": "string", "nulls": 0, "null_rate": 0.0,
                          "distinct": 1180, "distinct_exact": true,
                          "text": {"min_chars": 3, "mean_chars": 212.4, "max_chars": 9120}}, ...},
     "text_columns": ["text"], "key": "doc_id", "label_column": "label",
     "key_check": {"nulls": 0, "duplicates": 0, "examples": []} | null,
     "exact_duplicates": {"count": 12, "examples": [{"rows": [4, 90], "copies": 1}]},
     "text_duplicates": {"text": {"count": 15, "examples": [{"rows": [3, 7, 8], "copies": 2}]}},
     "near_duplicates": {"threshold": 0.9, "count": 9, "pairs": 11, "by_column": {"text": 9},
                         "examples": [{"column": "text", "rows": [10, 57], "jaccard": 0.94}]},
     "empty_texts": {"count": 2, "by_column": {"text": 2}, "examples": [{"row": 8, "column": "text"}]},
     "over_long_texts": {"max_chars": 20000, "count": 1, "by_column": {"text": 1},
                         "examples": [{"row": 77, "column": "text", "chars": 31000}]},
     "pii": {"entities": {"EMAIL_ADDRESS": 4}, "rows": 3, "scanned": ["EMAIL_ADDRESS", ...],
             "examples": {"EMAIL_ADDRESS": [{"row": 5, "column": "text", "start": 10,
                                             "end": 25, "masked": "a*************g"}]}} | null,
     "label_balance": {"column": "label", "classes": 2, "imbalance_ratio": 3.0,
                       "labels": [{"label": "a", "count": 900, "share": 0.75}, ...]} | null,
     "warnings": ["12 rows (1.0%) are exact duplicates of an earlier row.", ...]}

- ``exact_duplicates`` compares whole rows except the key column (a key makes every row
  unique); ``count`` is rows that repeat an earlier row. ``text_duplicates`` does the same
  per text column, over non-empty texts.
- ``near_duplicates`` are pairs of texts in one column whose estimated Jaccard similarity of
  word 3-gram sets is at least ``threshold``, found with MinHash LSH; exact copies are not
  counted again here. ``count`` is rows with a near-duplicate earlier in the data.
- A text is empty when it is "" or only whitespace (nulls are counted in ``columns``).
- PII examples show where a finding is, never the value: ``masked`` keeps its first and last
  character only. PII is found by patterns (see :mod:`.pii`): names and addresses are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rippleops.errors import InvalidError
from rippleops.runtime.analyzers._batches import MISSING, iter_batches, json_value, require_columns, share, sort_key
from rippleops.runtime.analyzers._hashing import DistinctCounter, row_hashes, value_hashes
from rippleops.runtime.analyzers._near_dups import NearDuplicateFinder
from rippleops.runtime.analyzers._quality_parts import ColumnStats, TextBatch, TextStats, duplicate_groups, warnings_for
from rippleops.runtime.analyzers.pii import PiiFinding, PiiScanner, mask

REPORT_VERSION = 1
DEFAULT_MAX_EXAMPLES = 5
#: The smallest class under this share of the largest gets a warning.
IMBALANCE_WARNING = 0.1


def quality_report(
    batches: Iterable[pa.RecordBatch] | pa.Table,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    key: str | None = None,
    max_text_chars: int = 20000,
    near_duplicate_threshold: float = 0.9,
    pii: bool | PiiScanner = True,
    progress: Callable[[int], None] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> dict[str, Any]:
    """The quality report of ``batches`` (see the module docstring for its shape).

    ``text_columns`` default to the string columns but the key and the label. ``pii`` may
    be a :class:`~rippleops.runtime.analyzers.pii.PiiScanner` of your own (other entity
    types, another ``min_score``). ``progress`` is called with the number of rows done after
    each batch. Raises :class:`~rippleops.errors.InvalidError` for a missing column or a bad
    parameter.

    >>> import pyarrow as pa
    >>> t = pa.table({"text": ["a cat", "a cat", "", "mail me: ana@example.org"]})
    >>> r = quality_report(t)
    >>> r["rows"], r["exact_duplicates"]["count"], r["empty_texts"]["count"], r["pii"]["entities"]
    (4, 1, 1, {'EMAIL_ADDRESS': 1})
    """
    _check_params(max_text_chars, near_duplicate_threshold, max_examples)
    scanner = pii if isinstance(pii, PiiScanner) else PiiScanner() if pii else None
    options = _Options(text_columns, label_column, key, max_text_chars, float(near_duplicate_threshold), max_examples)
    state: _State | None = None
    for batch in iter_batches(batches):
        if state is None:
            state = _State(batch.schema, options, scanner)
        state.add(batch)
        if progress is not None:
            progress(state.rows)
    if state is None:  # no batch at all: a table or reader still has a schema
        schema = getattr(batches, "schema", None)
        state = _State(schema if isinstance(schema, pa.Schema) else pa.schema([]), options, scanner)
    return state.report()


def quality_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The few numbers worth keeping next to a dataset version (the full report is a blob)."""
    pii = report["pii"]
    return {
        "version": report["version"],
        "rows": report["rows"],
        "exact_duplicates": report["exact_duplicates"]["count"],
        "near_duplicates": report["near_duplicates"]["count"],
        "empty_texts": report["empty_texts"]["count"],
        "over_long_texts": report["over_long_texts"]["count"],
        "pii": None if pii is None else sum(pii["entities"].values()),
        "warnings": len(report["warnings"]),
    }


def _check_params(max_text_chars: int, threshold: float, max_examples: int) -> None:
    if isinstance(max_text_chars, bool) or not isinstance(max_text_chars, int) or max_text_chars < 1:
        raise InvalidError(f"max_text_chars must be a positive whole number, not {max_text_chars!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold < 1:
        raise InvalidError(f"near_duplicate_threshold must be between 0 and 1 (0.9 is usual), not {threshold!r}")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise InvalidError(f"max_examples must be a whole number >= 0, not {max_examples!r}")


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


@dataclass(frozen=True)
class _Options:
    text_columns: Sequence[str] | None
    label_column: str | None
    key: str | None
    max_text_chars: int
    threshold: float
    max_examples: int


class _State:
    def __init__(self, schema: pa.Schema, options: _Options, scanner: PiiScanner | None) -> None:
        text_columns, label_column, key = options.text_columns, options.label_column, options.key
        if isinstance(text_columns, str):
            raise InvalidError(f"text_columns must be a list of column names, e.g. [{text_columns!r}]")
        wanted: dict[str, Sequence[str]] = {"text column": list(text_columns or [])}
        if label_column is not None:
            wanted["label column"] = [label_column]
        if key is not None:
            wanted["key column"] = [key]
        if schema.names:
            require_columns(schema, wanted)
        if label_column is not None and label_column in schema.names:
            label_type = schema.field(label_column).type
            if pa.types.is_nested(label_type):
                raise InvalidError(
                    f"the label column {label_column!r} holds {label_type}; labels must be single values"
                )
        if text_columns is None:
            text_columns = [f.name for f in schema if _is_text(f.type) and f.name not in (key, label_column)]
        for name in text_columns:
            t = schema.field(name).type if name in schema.names else pa.string()
            if not _is_text(t):
                raise InvalidError(f"text column {name!r} holds {t}, not strings; pick string columns as text_columns")
        self.schema = schema
        self.text_columns = list(dict.fromkeys(text_columns))
        self.label_column = label_column
        self.key = key
        self.max_text_chars = options.max_text_chars
        self.threshold = options.threshold
        self.scanner = scanner
        self.max_examples = options.max_examples
        self.rows = 0
        self.columns = {f.name: ColumnStats(str(f.type)) for f in schema}
        self.distinct = {f.name: DistinctCounter() for f in schema}
        self.texts = {name: TextStats(name, NearDuplicateFinder(self.threshold)) for name in self.text_columns}
        self.row_hash_parts: list[np.ndarray] = []
        self.key_hash_parts: list[np.ndarray] = []
        self.key_nulls = 0
        self.labels: dict[Any, int] = {}
        self.pii_counts: dict[str, int] = {}
        self.pii_rows: set[int] = set()
        self.pii_examples: dict[str, list[dict[str, Any]]] = {}
        # text hash -> (finding, masked value) of the texts with any, and those hashes sorted
        self.pii_cache: dict[int, list[tuple[PiiFinding, str]]] = {}
        self.pii_keys = np.zeros(0, dtype=np.uint64)

    def add(self, batch: pa.RecordBatch) -> None:
        offset = self.rows
        n = batch.num_rows
        for name in self.schema.names:
            column = batch.column(name)
            self.columns[name].nulls += column.null_count
            if name not in self.texts:  # text columns count distinct values from their text hashes
                self.distinct[name].add(value_hashes(column))
        content = [c for c in self.schema.names if c != self.key]
        self.row_hash_parts.append(row_hashes(batch, content))
        if self.key is not None:
            key_col = batch.column(self.key)
            self.key_nulls += key_col.null_count
            valid = np.asarray(key_col.is_valid())
            self.key_hash_parts.append(np.stack([row_hashes(batch, [self.key])[valid], np.flatnonzero(valid) + offset]))
        for stats in self.texts.values():
            seen = stats.add(batch.column(stats.column), offset, self.max_text_chars, self.max_examples)
            self.distinct[stats.column].add(np.unique(stats.all_hashes))
            if self.scanner is not None:
                self._scan_pii(stats.column, seen, offset)
        if self.label_column is not None:
            labels = batch.column(self.label_column)
            if pa.types.is_string_view(labels.type):
                labels = labels.cast(pa.large_string())
            counts = pc.value_counts(labels)
            for item in counts.to_pylist():
                self.labels[item["values"]] = self.labels.get(item["values"], 0) + item["counts"]
        self.rows += n

    def _scan_pii(self, column: str, seen: TextBatch, offset: int) -> None:
        """Scan the first copy of each text that may hold PII (pyarrow picks them for the
        whole batch); later copies reuse the findings, found by hash in numpy."""
        scanner = self.scanner
        assert scanner is not None  # only called with a scanner
        fresh = seen.fresh
        if fresh.size:
            texts = seen.array.take(pa.array(seen.positions[fresh], pa.int64()))
            picked = np.flatnonzero(scanner.candidates(texts))
            for j, text in zip(picked.tolist(), texts.take(pa.array(picked, pa.int64())).to_pylist(), strict=True):
                findings = scanner.scan(text)
                if findings:  # a later copy of this text reuses them instead of scanning again
                    self.pii_cache[int(seen.hashes[fresh[j]])] = [(f, mask(text[f.start : f.end])) for f in findings]
            if picked.size and len(self.pii_cache) != self.pii_keys.size:
                self.pii_keys = np.sort(np.fromiter(self.pii_cache, dtype=np.uint64, count=len(self.pii_cache)))
        if not self.pii_keys.size:
            return
        hits = np.flatnonzero(np.isin(seen.hashes, self.pii_keys))
        for i, h in zip(seen.positions[hits].tolist(), seen.hashes[hits].tolist(), strict=True):
            for f, masked in self.pii_cache[h]:
                self.pii_counts[f.entity] = self.pii_counts.get(f.entity, 0) + 1
                self.pii_rows.add(offset + i)
                examples = self.pii_examples.setdefault(f.entity, [])
                if len(examples) < self.max_examples:
                    examples.append(
                        {"row": offset + i, "column": column, "start": f.start, "end": f.end, "masked": masked}
                    )

    def report(self) -> dict[str, Any]:
        rows = self.rows
        columns: dict[str, Any] = {}
        for name, stats in self.columns.items():
            entry: dict[str, Any] = {
                "type": stats.type,
                "nulls": stats.nulls,
                "null_rate": share(stats.nulls, rows),
                "distinct": self.distinct[name].count(),
                "distinct_exact": self.distinct[name].exact,
            }
            if name in self.texts:
                entry["text"] = self.texts[name].lengths()
            columns[name] = entry
        hashes = np.concatenate(self.row_hash_parts) if self.row_hash_parts else np.zeros(0, dtype=np.uint64)
        exact = duplicate_groups(hashes, np.arange(hashes.size), self.max_examples)
        report: dict[str, Any] = {
            "version": REPORT_VERSION,
            "rows": rows,
            "columns": columns,
            "text_columns": self.text_columns,
            "key": self.key,
            "label_column": self.label_column,
            "key_check": self._key_check(),
            "exact_duplicates": exact,
            "text_duplicates": {name: t.duplicates(self.max_examples) for name, t in self.texts.items()},
            "near_duplicates": self._near_duplicates(),
            "empty_texts": self._per_column("empty"),
            "over_long_texts": {"max_chars": self.max_text_chars, **self._per_column("over_long")},
            "pii": self._pii(),
            "label_balance": self._label_balance(),
        }
        report["warnings"] = warnings_for(report, IMBALANCE_WARNING)
        return report

    def _key_check(self) -> dict[str, Any] | None:
        if self.key is None:
            return None
        parts = np.concatenate(self.key_hash_parts, axis=1) if self.key_hash_parts else np.zeros((2, 0), np.uint64)
        groups = duplicate_groups(parts[0], parts[1].astype(np.int64), self.max_examples)
        return {"nulls": self.key_nulls, "duplicates": groups["count"], "examples": groups["examples"]}

    def _near_duplicates(self) -> dict[str, Any]:
        by_column: dict[str, int] = {}
        examples: list[dict[str, Any]] = []
        pairs_total = 0
        for name, stats in self.texts.items():
            pairs = stats.near_pairs()
            pairs_total += len(pairs)
            by_column[name] = len({later for _, later, _ in pairs})
            best = sorted(pairs, key=lambda p: (-p[2], p[1], p[0]))[: self.max_examples]
            examples.extend({"column": name, "rows": [a, b], "jaccard": j} for a, b, j in best)
        examples.sort(key=lambda e: (-e["jaccard"], e["rows"][1], e["rows"][0], e["column"]))
        return {
            "threshold": self.threshold,
            "count": sum(by_column.values()),
            "pairs": pairs_total,
            "by_column": by_column,
            "examples": examples[: self.max_examples],
        }

    def _per_column(self, kind: str) -> dict[str, Any]:
        by_column = {name: getattr(t, kind) for name, t in self.texts.items()}
        examples = sorted(
            (e for t in self.texts.values() for e in getattr(t, f"{kind}_examples")),
            key=lambda e: (e["row"], e["column"]),
        )
        return {"count": sum(by_column.values()), "by_column": by_column, "examples": examples[: self.max_examples]}

    def _pii(self) -> dict[str, Any] | None:
        if self.scanner is None:
            return None
        return {
            "entities": dict(sorted(self.pii_counts.items())),
            "rows": len(self.pii_rows),
            "scanned": list(self.scanner.entities),
            "examples": dict(sorted(self.pii_examples.items())),
        }

    def _label_balance(self) -> dict[str, Any] | None:
        if self.label_column is None:
            return None
        total = sum(self.labels.values())
        items = sorted(self.labels.items(), key=lambda kv: (-kv[1], kv[0] is None, sort_key(kv[0])))
        labels = [
            {
                "label": MISSING if v is None else json_value(v),
                "missing": v is None,
                "count": n,
                "share": share(n, total),
            }
            for v, n in items
        ]
        real = [n for v, n in self.labels.items() if v is not None]
        ratio = round(max(real) / min(real), 6) if real else None
        return {"column": self.label_column, "classes": len(real), "imbalance_ratio": ratio, "labels": labels}
