"""The ripple engine: impact of a change, what is stale, and apply. (Issue 6, helper C.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rippleops.services import Services


class RippleService:
    def __init__(self, services: Services) -> None:
        self.services = services
