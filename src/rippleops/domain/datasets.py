"""Datasets: source formats, provenance, a version's content and its identity (pure, no I/O).

A dataset version's content (hashed, see :func:`version_content`)::

    blob:          sha256 digest of the Parquet file in the blob store
    bytes:         its size
    rows:          number of records
    schema:        [{name, type}] (Arrow type names: int64, string, timestamp[us] ...)
    key:           the column that identifies a record (unique, not null), or null
    label_column:  the column holding a class label (for label balance), or null
    provenance:    {source, license, created_by, generator?, parents?}
    quality:       the report's summary (counts; see the quality analyzer) + ``report``,
                   the digest of the full report, a JSON blob

Identity: two imports are "the same version" when blob, schema, key, label column and
provenance agree: the version hash leaves out the :data:`DERIVED` keys (the quality
report is computed from the rest), so re-importing identical data is a no-op even when the
analyzer (or its version) would now write a slightly different report, and two identical
imports racing each other end in one version (the unique hash per asset decides).

>>> detect_format("data/train.CSV")
'csv'
>>> file_uri("/tmp/a b.csv")
'file:///tmp/a%20b.csv'
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import decimal
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from rippleops.errors import InvalidError

KIND = "dataset"
FORMATS = ("csv", "jsonl", "parquet", "docs")
SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
DOC_SUFFIXES: dict[str, str] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
#: The columns of a folder of documents, in order; ``doc_id`` is the key.
DOC_COLUMNS = ("doc_id", "text", "title", "format", "source", "bytes")
DOC_KEY = "doc_id"
PARENT_ROLE = "parent"
PROVENANCE_FIELDS = ("source", "license", "created_by", "generator", "parents")
DEFAULT_ENCODING = "utf-8"
MAX_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class ImportSource:
    """One thing to import: where it is, how to read it, and what provenance records as
    its source (a document's ``source`` is this URI joined with its path)."""

    path: Path
    format: str  # csv, jsonl, parquet, docs
    uri: str
    encoding: str = DEFAULT_ENCODING
    delimiter: str | None = None
    name: str = ""  # how messages call it (default: the file name)

    @property
    def label(self) -> str:
        return self.name or self.path.name


def detect_format(path: str | Path, given: str | None = None, *, is_dir: bool = False) -> str:
    """The import format: ``given`` when set (checked), else from the file name."""
    if given is not None:
        fmt = given.strip().lower()
        if fmt not in FORMATS:
            raise InvalidError(f"unknown dataset format {given!r}; formats: {', '.join(FORMATS)}")
        if is_dir and fmt != "docs":
            raise InvalidError(f"{path} is a folder; a folder imports as --format docs (one row per document)")
        if not is_dir and fmt == "docs":
            raise InvalidError(f"{path} is a file; --format docs takes a folder of documents")
        return fmt
    if is_dir:
        return "docs"
    name = Path(path).name.lower()
    for suffix, fmt in SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    if name.endswith(".json"):
        raise InvalidError(
            f"{path}: a .json file is not a dataset format; write one JSON object per line (JSON Lines, "
            ".jsonl) or pass --format jsonl if it already is"
        )
    suffix = Path(name).suffix or "(no suffix)"
    raise InvalidError(
        f"cannot tell the format of {path} from its suffix {suffix}; pass --format with one of "
        f"{', '.join(FORMATS)} (suffixes: {', '.join(SUFFIXES)}, a folder for docs)"
    )


def export_format(out: str | Path) -> str:
    """The export format named by a file's suffix (.csv, .jsonl, .parquet ...)."""
    suffix = Path(out).suffix.lower().lstrip(".")
    fmt = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "parquet": "parquet", "pq": "parquet"}.get(suffix)
    if fmt is None:
        raise InvalidError(
            f"cannot tell the export format from {Path(out).name!r}; pass the format (csv, jsonl or parquet)"
        )
    return fmt


def check_encoding(encoding: str | None) -> str:
    """A text encoding Python knows (``utf-8``, ``latin-1``, ``cp1252``, ``utf-16`` ...)."""
    if encoding is None:
        return DEFAULT_ENCODING
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidError(
            f"unknown text encoding {encoding!r}; pass a Python codec name such as utf-8, latin-1, cp1252 or utf-16"
        ) from None


def file_uri(path: str | Path) -> str:
    """``file://`` URI of an absolute local path (what provenance records as the source)."""
    return "file://" + quote(Path(path).expanduser().absolute().as_posix())


def doc_source(base: str, doc_id: str) -> str:
    """The ``source`` of one document: the folder's URI joined with the document's path."""
    return base.rstrip("/") + "/" + quote(doc_id)


def doc_id_of(relative: PurePosixPath | Path) -> str:
    """A document's id: its path under the folder, '/'-separated."""
    return PurePosixPath(*Path(relative).parts).as_posix()


def check_provenance(provenance: Mapping[str, Any] | None, created_by: str) -> dict[str, Any]:
    """Normalise what a caller gives: known fields typed, ``created_by`` defaulting to the
    caller, ``parents`` a sorted list; extra keys are kept (they must be JSON)."""
    prov = dict(provenance or {})
    for field in ("source", "license", "created_by"):
        value = prov.get(field)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidError(f"provenance.{field} must be a non-empty string, got {value!r}")
    generator = prov.get("generator")
    if generator is not None and not isinstance(generator, dict):
        raise InvalidError("provenance.generator must be an object (prompt, model, parameters, seed ...)")
    parents = prov.get("parents") or []
    if isinstance(parents, str) or not all(isinstance(p, str) for p in parents):
        raise InvalidError("provenance.parents must be a list of dataset references, such as ['dataset/raw:3']")
    prov.update(
        source=prov.get("source"),
        license=prov.get("license"),
        created_by=prov.get("created_by") or created_by,
        parents=sorted(set(parents)),
    )
    if generator is None:
        prov.pop("generator", None)
    return prov


def schema_fields(names: Sequence[str], types: Sequence[str]) -> list[dict[str, str]]:
    return [{"name": n, "type": t} for n, t in zip(names, types, strict=True)]


def version_content(
    *,
    blob: str,
    size: int,
    rows: int,
    schema: list[dict[str, str]],
    key: str | None,
    label_column: str | None,
    provenance: dict[str, Any],
    quality: dict[str, Any],
) -> dict[str, Any]:
    """The hashed content of a dataset version (field meanings in the module docstring)."""
    return {
        "blob": blob,
        "bytes": size,
        "rows": rows,
        "schema": schema,
        "key": key,
        "label_column": label_column,
        "provenance": provenance,
        "quality": quality,
    }


#: Content keys computed from the others, left out of the version hash.
DERIVED: tuple[str, ...] = ("quality",)


def jsonable(value: Any) -> Any:
    """A value read from Arrow as JSON: dates and times in ISO form, decimals as strings,
    bytes as base64, non-finite floats as null (JSON has no NaN)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(p, tuple) and len(p) == 2 for p in value):  # an Arrow map: (key, value) pairs
            return {str(k): jsonable(v) for k, v in value}
        return [jsonable(v) for v in value]
    return str(value)


def bad_rows_message(source: str, bad: Sequence[tuple[int | None, str]], total_bad: int, what: str) -> str:
    """One message naming the malformed rows (line number and a snippet), at most
    :data:`MAX_EXAMPLES` of them."""
    shown = "; ".join(f"line {line if line is not None else '?'}: {text[:120]}" for line, text in bad[:MAX_EXAMPLES])
    more = f" (and {total_bad - len(bad[:MAX_EXAMPLES])} more)" if total_bad > MAX_EXAMPLES else ""
    noun = what if total_bad != 1 else what.removesuffix("s")
    return f"{source} has {total_bad} malformed {noun}; nothing was imported — {shown}{more}"


def coerce_value(text: Any, arrow_type: str) -> Any:
    """A value typed on the command line (always a string) as the column's type: ``1`` for
    an int column, ``true`` for a bool one; anything else is kept as it is."""
    if not isinstance(text, str):
        return text
    t = arrow_type.lower()
    try:
        if t.startswith(("int", "uint")):
            return int(text)
        if t in ("float", "double", "halffloat") or t.startswith("float"):
            return float(text)
        if t == "bool":
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError(text)
    except ValueError:
        raise InvalidError(f"{text!r} is not a value of the column's type {arrow_type}") from None
    return text
