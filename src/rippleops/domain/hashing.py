"""Content hashes: sha256 of canonical JSON (sorted keys, no insignificant whitespace).

>>> content_hash({"b": 1, "a": [1, 2]}) == content_hash({"a": [1, 2], "b": 1})
True
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """The one serialisation hashed everywhere: sorted keys, compact, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(content: Any) -> str:
    """``sha256:<hex>`` of a version's content fields."""
    return "sha256:" + hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def version_hash(content: dict[str, Any], recipe: dict[str, Any] | None = None, derived: tuple[str, ...] = ()) -> str:
    """The hash that identifies a version: its content (and recipe, for derived assets),
    leaving out the ``derived`` content keys — reports computed from the content (a dataset's
    quality report), which must not make identical data a new version when the code that
    computes them changes.

    >>> version_hash({"blob": "x", "quality": {"rows": 1}}, derived=("quality",)) == version_hash({"blob": "x"})
    True
    """
    hashed = {k: v for k, v in content.items() if k not in derived} if derived else content
    return content_hash({"content": hashed, "recipe": recipe} if recipe else hashed)


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """Hash of one audit event linked to the previous event's hash."""
    return hashlib.sha256((prev_hash + "\n" + canonical_json(event)).encode("utf-8")).hexdigest()
