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


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """Hash of one audit event linked to the previous event's hash."""
    return hashlib.sha256((prev_hash + "\n" + canonical_json(event)).encode("utf-8")).hexdigest()
