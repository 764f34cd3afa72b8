"""The public API changes only on purpose."""

from __future__ import annotations

import types

import rippleops

EXPECTED = [
    "Client",
    "ConflictError",
    "ForbiddenError",
    "GateFailedError",
    "InvalidError",
    "NotFoundError",
    "PayloadTooLargeError",
    "Prompt",
    "RippleError",
    "UnauthenticatedError",
    "UnavailableError",
    "__version__",
]


def test_all_is_sorted_and_exported() -> None:
    assert rippleops.__all__ == EXPECTED
    assert sorted(rippleops.__all__) == rippleops.__all__
    public = {
        n for n in dir(rippleops) if not n.startswith("_") and not isinstance(getattr(rippleops, n), types.ModuleType)
    }
    assert public <= set(rippleops.__all__), public - set(rippleops.__all__)
    for name in rippleops.__all__:
        assert hasattr(rippleops, name), name


def test_errors_carry_status_and_exit_code() -> None:
    from rippleops.errors import ERRORS_BY_TYPE, error_from_dict

    # one exit code per error family; a subclass (413, 400, 415 of "invalid", 429 of
    # "unavailable") shares its parent's, and differs only in its HTTP status
    families = [c for c in ERRORS_BY_TYPE.values() if c.__base__ in (Exception, rippleops.RippleError)]
    assert len({c.exit_code for c in families}) == len(families)
    for cls in ERRORS_BY_TYPE.values():
        if cls not in families:
            assert cls.exit_code == cls.__base__.exit_code, cls  # type: ignore[attr-defined]
    assert len({c.http_status for c in ERRORS_BY_TYPE.values()}) == len(ERRORS_BY_TYPE)
    err = error_from_dict({"type": "NotFoundError", "message": "gone"}, 404)
    assert isinstance(err, rippleops.NotFoundError) and err.message == "gone"
    assert isinstance(error_from_dict({"type": "Weird"}, 409), rippleops.ConflictError)
