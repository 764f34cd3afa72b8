"""Suites (``suite/*`` assets): what an eval measures — a dataset version, the target kind,
metrics with settings, and gates. (Issue 6, helper B fills this in.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rippleops.services import Services

KIND = "suite"


class SuiteService:
    def __init__(self, services: Services) -> None:
        self.services = services
