"""Asset names and references: ``kind/name``, ``kind/name@label``, ``kind/name:N``.

Parsing lives here and only here; resolving a parsed reference to a stored version lives
in :func:`rippleops.services.assets.AssetService.resolve`.

>>> parse_ref("prompt/answer@production")
Ref(kind='prompt', name='answer', label='production', version=None)
>>> parse_ref("answer:2", kind="prompt").text
'prompt/answer:2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rippleops.errors import InvalidError

KINDS: tuple[str, ...] = (
    "app",
    "dataset",
    "deployment",
    "embedder",
    "index",
    "model",
    "policy",
    "prompt",
    "suite",
)
LATEST = "latest"
PRODUCTION = "production"
MAX_NAME_LENGTH = 100

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_REF = re.compile(r"^(?:(?P<kind>[^/@:]+)/)?(?P<name>[^/@:]+)(?:@(?P<label>[^/@:]+)|:(?P<version>[^/@:]+))?$")


def validate_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it is a valid asset, label or project name, else raise."""
    if not isinstance(name, str) or not name:
        raise InvalidError(f"{what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidError(f"{what} {name[:40]!r}... is {len(name)} characters; the limit is {MAX_NAME_LENGTH}")
    if not _NAME.match(name):
        raise InvalidError(
            f"{what} {name!r} is not valid: use lowercase letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (for example 'support-bot')"
        )
    return name


def validate_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidError(f"unknown asset kind {kind!r}; kinds: {', '.join(KINDS)}")
    return kind


def validate_label(label: str, *, for_move: bool = False) -> str:
    """Labels follow the name rule, are not plain numbers, and ``latest`` cannot be moved."""
    validate_name(label, "label")
    if label.isdigit():
        raise InvalidError(f"label {label!r} is a number; use ':{label}' to mean version {label}")
    if for_move and label == LATEST:
        raise InvalidError("'latest' is implicit (the newest version) and cannot be moved; pick another label")
    return label


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: exactly one of ``label`` / ``version`` or neither (= latest)."""

    kind: str
    name: str
    label: str | None = None
    version: int | None = None

    @property
    def asset(self) -> str:
        """``kind/name`` without label or version."""
        return f"{self.kind}/{self.name}"

    @property
    def text(self) -> str:
        if self.version is not None:
            return f"{self.asset}:{self.version}"
        if self.label is not None:
            return f"{self.asset}@{self.label}"
        return self.asset

    def __str__(self) -> str:
        return self.text


def parse_ref(text: str, kind: str | None = None) -> Ref:
    """Parse a reference; ``kind`` is the kind implied by the command or SDK collection.

    A bare ``kind/name`` means ``@latest``. With ``kind`` given the prefix may be left out;
    if present it must agree.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidError("empty reference; write kind/name, kind/name@label or kind/name:N")
    m = _REF.match(text.strip())
    if not m:
        raise InvalidError(
            f"reference {text!r} is malformed; write kind/name, kind/name@label or kind/name:N "
            "(for example prompt/answer@production)"
        )
    ref_kind = m.group("kind")
    if ref_kind is None:
        if kind is None:
            raise InvalidError(f"reference {text!r} has no kind; write it as kind/name (for example prompt/{text})")
        ref_kind = kind
    elif kind is not None and ref_kind != kind:
        raise InvalidError(f"reference {text!r} is a {ref_kind}, but a {kind} is expected here")
    validate_kind(ref_kind)
    name = validate_name(m.group("name"), f"{ref_kind} name")
    label = m.group("label")
    version: int | None = None
    if m.group("version") is not None:
        raw = m.group("version")
        if not raw.isdigit() or int(raw) < 1:
            raise InvalidError(f"version in {text!r} must be a positive number, as in {ref_kind}/{name}:1")
        version = int(raw)
    if label is not None:
        validate_label(label)
        if label == LATEST:
            label = None
    return Ref(ref_kind, name, label, version)


def make_ref(kind: str, name: str, *, label: str | None = None, version: int | None = None) -> Ref:
    """Build a reference from parts (SDK keyword form), checking them like :func:`parse_ref`."""
    if label is not None and version is not None:
        raise InvalidError("give a label or a version, not both")
    if "@" in name or ":" in name:
        if label is not None or version is not None:
            raise InvalidError(f"{name!r} already carries a label or version; do not pass label= or version=")
        return parse_ref(name, kind)
    text = f"{kind}/{name}" if "/" not in name else name
    if version is not None:
        text += f":{version}"
    elif label is not None:
        text += f"@{label}"
    return parse_ref(text, kind)
