"""Every error Ripple raises on purpose.

::

    RippleError                      500  exit 1   something went wrong that no subclass names
    ├── InvalidError                 422  exit 2   the input is malformed (names, YAML, templates, values)
    │   ├── PayloadTooLargeError     413  exit 2   a request or file is over the size limit
    │   ├── MalformedPayloadError    400  exit 2   a request body cannot be decoded (OTLP protobuf/JSON)
    │   └── UnsupportedMediaError    415  exit 2   a request body in a content type or encoding not taken
    ├── NotFoundError                404  exit 3   an asset, version, label, user ... does not exist
    ├── ConflictError                409  exit 4   the request clashes with the current state
    ├── UnauthenticatedError         401  exit 5   no credentials, or bad/expired/revoked ones
    ├── ForbiddenError               403  exit 6   authenticated, but the role does not allow it
    ├── GateFailedError              412  exit 7   an eval gate blocked a promotion
    └── UnavailableError             503  exit 8   a server or backend cannot be reached
        └── BusyError                429  exit 8   the server is at capacity; retry after a pause

The CLI also exits 9 when ``ripple audit verify`` finds a broken chain (not an error: a
finding). Each class carries its HTTP status and CLI exit code; the server's error handler, the CLI
and the remote SDK transport all map through :data:`ERRORS_BY_TYPE` and these attributes,
never through a table of their own. A message names the problem and the way out.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RippleError(Exception):
    """Base of every error Ripple raises on purpose."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the server sends and the remote SDK reads back."""
        return {"type": type(self).__name__, "message": self.message, "details": self.details}


class InvalidError(RippleError):
    """The input is malformed: a bad name, YAML, template, reference or value."""

    http_status = 422
    exit_code = 2


class PayloadTooLargeError(InvalidError):
    """A request body, file or rendered output is over its size limit."""

    http_status = 413


class MalformedPayloadError(InvalidError):
    """A request body cannot be decoded at all (not protobuf, not JSON, not gzip)."""

    http_status = 400


class UnsupportedMediaError(InvalidError):
    """A request body in a content type or content encoding the route does not take."""

    http_status = 415


class NotFoundError(RippleError):
    """An asset, version, label, user, token, project or secret does not exist."""

    http_status = 404
    exit_code = 3


class ConflictError(RippleError):
    """The request clashes with the current state (it already exists, it was revoked ...)."""

    http_status = 409
    exit_code = 4


class UnauthenticatedError(RippleError):
    """No credentials were given, or they are unknown, expired or revoked."""

    http_status = 401
    exit_code = 5


class ForbiddenError(RippleError):
    """The caller is known, but their role in the project does not allow the action."""

    http_status = 403
    exit_code = 6


class GateFailedError(RippleError):
    """An eval gate failed, so a label was not moved."""

    http_status = 412
    exit_code = 7


class UnavailableError(RippleError):
    """A server, database or object store cannot be reached."""

    http_status = 503
    exit_code = 8


class BusyError(UnavailableError):
    """The server is at capacity for now (a full queue); retry after ``retry_after_s``."""

    http_status = 429

    def __init__(self, message: str, *, retry_after_s: int = 1, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"retry_after_s": retry_after_s, **(details or {})})
        self.retry_after_s = retry_after_s


ERRORS_BY_TYPE: dict[str, type[RippleError]] = {
    cls.__name__: cls
    for cls in (
        RippleError,
        InvalidError,
        PayloadTooLargeError,
        MalformedPayloadError,
        UnsupportedMediaError,
        NotFoundError,
        ConflictError,
        UnauthenticatedError,
        ForbiddenError,
        GateFailedError,
        UnavailableError,
        BusyError,
    )
}


def error_from_dict(body: dict[str, Any], status: int) -> RippleError:
    """Rebuild the error a server sent; unknown types fall back on the HTTP status."""
    cls = ERRORS_BY_TYPE.get(str(body.get("type", "")))
    if cls is None:
        cls = next(
            (c for c in ERRORS_BY_TYPE.values() if c.http_status == status and c is not RippleError),
            RippleError,
        )
    return cls(str(body.get("message", f"server answered HTTP {status}")), details=body.get("details"))
