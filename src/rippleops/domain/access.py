"""Roles and the actions they allow: the pure rule behind every authorisation.

>>> allows(Role.ENGINEER, Action.WRITE)
True
>>> allows(Role.ENGINEER, Action.PROTECTED_LABEL)
False
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    ANNOTATOR = "annotator"
    ENGINEER = "engineer"
    ADMIN = "admin"


class Action(StrEnum):
    READ = "read"  # list, show, render, lineage
    ANNOTATE = "annotate"  # feedback (later issues)
    WRITE = "write"  # create versions, move non-production labels, edit metadata
    PROTECTED_LABEL = "protected-label"  # move or remove `production`
    ADMIN = "admin"  # members, secrets, project audit log


_RANK = {Role.VIEWER: 0, Role.ANNOTATOR: 1, Role.ENGINEER: 2, Role.ADMIN: 3}
_NEEDS = {
    Action.READ: Role.VIEWER,
    Action.ANNOTATE: Role.ANNOTATOR,
    Action.WRITE: Role.ENGINEER,
    Action.PROTECTED_LABEL: Role.ADMIN,
    Action.ADMIN: Role.ADMIN,
}
PROTECTED_LABELS = frozenset({"production"})


def needed_role(action: Action) -> Role:
    return _NEEDS[action]


def allows(role: Role | None, action: Action) -> bool:
    return role is not None and _RANK[role] >= _RANK[_NEEDS[action]]


def label_action(label: str) -> Action:
    """Moving ``production`` needs an admin; any other label an engineer."""
    return Action.PROTECTED_LABEL if label in PROTECTED_LABELS else Action.WRITE


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, possibly an instance admin (admin of every project)."""

    user_id: int
    name: str
    is_admin: bool = False
