"""Pieces of the remote transport shared by its mixins: path segments and error bodies."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from rippleops.domain.refs import Ref
from rippleops.errors import RippleError, error_from_dict


def quote_part(part: str) -> str:
    return quote(part, safe="")


def ref_segment(ref: Ref) -> str:
    """``answer@production`` / ``answer:2`` / ``answer``: a reference as one path segment."""
    text = ref.name
    if ref.version is not None:
        text += f":{ref.version}"
    elif ref.label is not None:
        text += f"@{ref.label}"
    return quote(text, safe="@:")


def error_of(response: httpx.Response) -> RippleError:
    """The error the server sent, or one built from the status when the body is not ours."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return error_from_dict(body["error"], response.status_code)
    text = response.text.strip()[:200]
    message = f"the server at {response.url} answered HTTP {response.status_code}" + (f": {text}" if text else "")
    return error_from_dict({"message": message}, response.status_code)
