"""Who is calling: the request's :class:`Caller`, a FastAPI dependency that gives the
``Principal`` to the one service call a route makes.

``Authorization: Bearer <token>`` is checked by :meth:`AccessService.authenticate` on every
request (no cache, so a revoked or expired token stops working at once). Without the header
the request is refused when the server requires auth, and otherwise acts as the single local
admin of a loopback server (DESIGN "Security"). What the principal may do is decided by the
services, in :meth:`AccessService.authorize`, never here.

Why a ``Caller`` and not a plain ``Principal`` dependency: the token lookup and the service
call are both blocking database work. FastAPI runs every sync dependency and the sync
endpoint in separate thread-pool hops (~0.2 ms each on two cores); :meth:`Caller.run` does
both in one hop, which is a sixth of an uncached prompt fetch.

>>> @router.get("/{ref}")                                        # doctest: +SKIP
... async def get_prompt(ref: str, project: ProjectDep, caller: CallerDep, services: ServicesDep):
...     return await caller.run(services.prompts.get, project, ref)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from rippleops.domain.access import Principal
from rippleops.domain.refs import validate_name
from rippleops.errors import UnauthenticatedError
from rippleops.services import Services

P = ParamSpec("P")
T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="an API token (`ripple token create`)")


class Caller:
    """The credentials of one request; :meth:`principal` turns them into a ``Principal``."""

    __slots__ = ("services", "token")

    def __init__(self, services: Services, token: str | None) -> None:
        self.services = services
        self.token = token  # None: no token and none required, so the local admin

    def principal(self) -> Principal:
        """The authenticated principal (blocking: one database read)."""
        if self.token is None:
            return self.services.access.local_admin()
        return self.services.access.authenticate(self.token)

    async def run(self, method: Callable[Concatenate[Principal, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``method(principal, *args, **kwargs)`` in a worker thread, authenticating first."""

        def work() -> T:
            return method(self.principal(), *args, **kwargs)

        return await run_in_threadpool(work)


async def get_services(request: Request) -> Services:
    """The app's one :class:`Services`."""
    services: Services = request.app.state.services
    return services


async def get_caller(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The request's credentials; a missing or malformed header is refused here, at once."""
    if credentials is not None:
        return Caller(services, credentials.credentials)
    if request.headers.get("authorization"):
        raise UnauthenticatedError("the Authorization header must be `Bearer <token>`")
    if request.app.state.auth_required:
        raise UnauthenticatedError(
            "this server requires an API token: send `Authorization: Bearer <token>` "
            "(set RIPPLE_TOKEN; create one with `ripple token create`)"
        )
    return Caller(services, None)


async def project_name(project: Annotated[str, Path(description="the project, e.g. `default`")]) -> str:
    return validate_name(project, "project name")


ServicesDep = Annotated[Services, Depends(get_services)]
CallerDep = Annotated[Caller, Depends(get_caller)]
ProjectDep = Annotated[str, Depends(project_name)]
