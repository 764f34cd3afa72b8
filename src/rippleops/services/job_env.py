"""What a job kind is and what a running job may use (kept apart from the registry in
:mod:`rippleops.services.job_kinds` so that every area's module can define kinds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.runtime.executor import JobFunction
from rippleops.settings import Settings

if TYPE_CHECKING:  # the services object is built after the job service; only its type is needed here
    from rippleops.services import Services
    from rippleops.services.prompts import PromptService


@dataclass(frozen=True, slots=True)
class JobEnv:
    """What a job may use: who runs it (the submitter), where, and the services."""

    principal: Principal
    project: str
    services: Services
    settings: Settings
    local: bool  # the job runs in the submitter's own process (embedded), not on a server

    @property
    def prompts(self) -> PromptService:
        return self.services.prompts


@dataclass(frozen=True, slots=True)
class JobKind:
    """A kind of job: ``check`` validates and normalises parameters at submit time (a bad
    request fails at once, not in a worker); ``build`` binds the services the job uses and
    returns the function an executor runs."""

    name: str
    summary: str
    check: Callable[[dict[str, Any], JobEnv], dict[str, Any]]
    build: Callable[[JobEnv], JobFunction]
