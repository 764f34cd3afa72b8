"""Times as people write them on the command line and in query strings: a duration counted
back from now (``30m``, ``1h``, ``2d``, ``1w``) or an ISO time. One parser for the CLI's
``--since`` / ``--until`` / ``--expires`` and the REST filters that take the same words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rippleops.errors import InvalidError

__all__ = ["parse_duration", "parse_time"]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta | None:
    """``30m``, ``1h``, ``2d``, ``1w``, ``45s`` as a timedelta; None when it is not a duration."""
    m = _DURATION.match(text)
    if not m:
        return None
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def parse_time(text: str, *, future: bool, option: str) -> datetime:
    """A duration (counted back from now, or forward when ``future``) or an ISO time, in UTC.

    >>> parse_time("2024-05-01T12:00", future=False, option="--since").isoformat()
    '2024-05-01T12:00:00+00:00'
    """
    delta = parse_duration(text)
    now = datetime.now(UTC)
    if delta is not None:
        return now + delta if future else now - delta
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidError(
            f"{option} {text!r} is not a duration or a time; write 30m, 1h, 2d, 1w or an ISO time "
            "such as 2024-05-01T12:00 (UTC unless it names an offset)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
