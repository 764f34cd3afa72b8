"""Index recipes, the build plan of an incremental rebuild, and search filters. Pure.

An ``index/*`` version is derived: dataset version + embedder version + a **recipe** (how
the dataset's rows become chunks). The recipe is hashed with the version's content, so a
change of chunking parameters, columns or code version makes a new version (and makes the
old one stale for the ripple engine).

>>> r = IndexRecipe(ChunkingParams(800, 100), text_column="text", doc_id_column="doc_id")
>>> r.to_dict()["code_version"]
'index-1/chunker-1'
>>> plan_build(["a", "b", "c"], reusable={"b", "x"}).embed
(0, 2)
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rippleops.domain.chunking import CHUNKER_VERSION, ChunkingParams
from rippleops.domain.hashing import canonical_json
from rippleops.errors import InvalidError

#: Bump when what a build writes changes (row layout, what is embedded); with the chunker's
#: version it is the recipe's ``code_version``.
INDEX_CODE_VERSION = "index-1"
CODE_VERSION = f"{INDEX_CODE_VERSION}/{CHUNKER_VERSION}"
#: Keys a row's metadata always has, so no dataset column may take their names.
RESERVED_METADATA = ("heading",)
#: Filter keys every index knows besides its metadata columns.
BUILTIN_FILTERS = ("doc_id",)
TABLE_PREFIX = "ix_"


@dataclass(frozen=True, slots=True)
class IndexRecipe:
    """How an index is built from a dataset: chunking, which column is the text, which is the
    document id, and which columns are kept as filterable metadata."""

    chunking: ChunkingParams
    text_column: str = "text"
    doc_id_column: str = "doc_id"
    metadata_columns: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for what, col in (("text column", self.text_column), ("doc id column", self.doc_id_column)):
            if not isinstance(col, str) or not col.strip():
                raise InvalidError(f"the {what} must be a column name, not {col!r}")
        if self.text_column == self.doc_id_column:
            raise InvalidError(f"the text column and the doc id column are both {self.text_column!r}; give two columns")
        cols = self.metadata_columns
        if isinstance(cols, str) or not all(isinstance(c, str) and c.strip() for c in cols):
            raise InvalidError(f"metadata columns must be a list of column names, not {cols!r}")
        clash = sorted(set(cols) & {*RESERVED_METADATA, self.text_column})
        if clash:
            raise InvalidError(
                f"metadata column(s) {', '.join(clash)} cannot be kept as metadata: "
                f"{'heading is the heading path every chunk has' if 'heading' in clash else 'it is the text column'}"
            )
        # sorted and unique, so that `a,b` and `b,a` are one recipe
        object.__setattr__(self, "metadata_columns", tuple(sorted(set(cols) - {self.doc_id_column})))

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunking": self.chunking.to_dict(),
            "text_column": self.text_column,
            "doc_id_column": self.doc_id_column,
            "metadata_columns": list(self.metadata_columns),
            "code_version": CODE_VERSION,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IndexRecipe:
        return cls(
            ChunkingParams.from_dict(data["chunking"]),
            text_column=data["text_column"],
            doc_id_column=data["doc_id_column"],
            metadata_columns=tuple(data.get("metadata_columns") or ()),
        )

    @property
    def filter_keys(self) -> tuple[str, ...]:
        return (*BUILTIN_FILTERS, *self.metadata_columns)


def table_name(project: str, name: str, dataset_hash: str, embedder_hash: str, recipe: Mapping[str, Any]) -> str:
    """The vector table of one index build: a hash of everything the vectors and rows depend
    on, so a rerun of the same build finds its table and a different build never touches it.
    Short and ``[a-z0-9_]`` only, so every backend takes it (PostgreSQL stops at 63)."""
    key = canonical_json([project, name, dataset_hash, embedder_hash, dict(recipe)])
    return TABLE_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:24]


def can_reuse_vectors(
    previous_embedder_hash: str | None, previous_code_version: str | None, embedder_hash: str
) -> bool:
    """Whether vectors of a previous index version are valid for a new build: a chunk id is
    the hash of what is embedded (doc id, position, heading path, text), so the same id under
    the same embedder and code version has the same vector, whatever the chunk size."""
    return previous_embedder_hash == embedder_hash and previous_code_version == CODE_VERSION


@dataclass(frozen=True, slots=True)
class BuildPlan:
    """Which chunks take their vector from the previous version and which are embedded."""

    total: int
    reuse: frozenset[str]
    embed: tuple[int, ...]  # positions in the chunk list

    @property
    def reused(self) -> int:
        return self.total - len(self.embed)


def plan_build(chunk_ids: Sequence[str], reusable: Collection[str]) -> BuildPlan:
    """Split a build's chunks into reused (id found in ``reusable``) and to embed."""
    ids = set(reusable)
    embed = tuple(i for i, cid in enumerate(chunk_ids) if cid not in ids)
    return BuildPlan(len(chunk_ids), frozenset(cid for cid in chunk_ids if cid in ids), embed)


# -- search filters ---------------------------------------------------------------------------

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def parse_filter_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["lang=en", "year=2024"]`` (the CLI's ``--filter``) as a dict.

    >>> parse_filter_pairs(["lang=en"])
    {'lang': 'en'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidError(f"filter {pair!r} is not key=value; write it as --filter lang=en")
        out[key.strip()] = value
    return out


def coerce_filters(filters: Mapping[str, Any] | None, fields: Mapping[str, str]) -> dict[str, Any]:
    """Check filter keys against the index's filterable fields (name -> Arrow type name) and
    turn text values into the field's type (``year=2024`` on an int64 column is 2024).

    >>> coerce_filters({"year": "2024"}, {"doc_id": "string", "year": "int64"})
    {'year': 2024}
    """
    if not filters:
        return {}
    if not isinstance(filters, Mapping):
        raise InvalidError('filters must be an object of key -> value, such as {"lang": "en"}')
    unknown = sorted(set(filters) - set(fields))
    if unknown:
        raise InvalidError(
            f"unknown filter key(s) {', '.join(map(repr, unknown))}; this index can filter on: "
            f"{', '.join(fields)} (keep more columns with --metadata-columns when you create the index)"
        )
    return {key: _coerce(key, value, fields[key]) for key, value in filters.items()}


def _coerce(key: str, value: Any, type_name: str) -> Any:
    t = type_name.lower()
    if not isinstance(value, str):
        if isinstance(value, bool | int | float) or value is None:
            return value
        raise InvalidError(f"filter {key}: {value!r} is not a single value (equality filters take one value)")
    try:
        if t.startswith(("int", "uint")):
            return int(value)
        if t.startswith(("float", "double", "decimal", "halffloat")):
            return float(value)
    except ValueError:
        raise InvalidError(f"filter {key}={value!r}: {key} holds numbers ({type_name}); give a number") from None
    if t in ("bool", "boolean"):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise InvalidError(f"filter {key}={value!r}: {key} is true/false; give true or false")
    return value
