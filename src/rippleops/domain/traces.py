"""Trace query inputs, checked the same way by every interface: trace ids, statuses and
attribute filters (``key=value``, compared as text)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rippleops.errors import InvalidError

__all__ = ["STATUSES", "check_trace_id", "parse_attribute_filters"]

STATUSES = ("ok", "error", "unset")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def parse_attribute_filters(attributes: Mapping[str, Any] | Sequence[str]) -> dict[str, str]:
    """Attribute filters as ``{key: text}``: from a mapping, or from ``key=value`` strings
    (the CLI's ``--attr`` and the REST ``attr`` parameter). Values compare as text; a
    boolean is ``true``/``false``."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(attributes, Mapping):
        pairs = list(attributes.items())
    else:
        for item in attributes:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise InvalidError(
                    f"attribute filter {item!r} is not key=value; write it as llm.model_name=smollm2 "
                    "(a trace matches when one of its spans has that attribute value)"
                )
            pairs.append((key.strip(), value))
    out: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not key or len(key) > 200 or any(c in key for c in '"\\='):
            raise InvalidError(
                f"attribute name {key!r} is not valid: 1 to 200 characters, without double quotes, backslashes or '='"
            )
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        else:
            raise InvalidError(
                f"attribute filter {key}={value!r}: compare with a string, number or boolean "
                f"(not a {type(value).__name__})"
            )
    return out


MIN_TRACE_ID_PREFIX = 8


def check_trace_id(trace_id: str, *, prefix: bool = False) -> str:
    """A trace id in lowercase hex; with ``prefix``, also its first 8 to 31 characters (the
    list view shows 12), which the caller then looks up as a prefix."""
    tid = trace_id.strip().lower() if isinstance(trace_id, str) else ""
    if _TRACE_ID.match(tid):
        return tid
    if prefix and MIN_TRACE_ID_PREFIX <= len(tid) < 32 and all(c in "0123456789abcdef" for c in tid):
        return tid
    raise InvalidError(
        f"trace id {trace_id!r} is not valid: a trace id is 32 hexadecimal characters "
        f"(as `ripple trace list --json` shows them), or at least its first {MIN_TRACE_ID_PREFIX}"
    )
