"""Who is calling: the ``Principal`` of a request, as a FastAPI dependency.

``Authorization: Bearer <token>`` is checked by :meth:`AccessService.authenticate` on every
request (no cache, so a revoked token stops working at once). Without the header the request
is refused when the server requires auth, and otherwise acts as the single local admin of a
loopback server (DESIGN "Security"). What the principal may do is decided by the services,
in :meth:`AccessService.authorize`, never here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rippleops.domain.access import Principal
from rippleops.domain.refs import validate_name
from rippleops.errors import UnauthenticatedError
from rippleops.services import Services

bearer = HTTPBearer(auto_error=False, description="an API token (`ripple token create`)")


async def get_services(request: Request) -> Services:
    """The app's one :class:`Services`."""
    services: Services = request.app.state.services
    return services


def current_principal(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is not None:
        return services.access.authenticate(credentials.credentials)
    if request.headers.get("authorization"):
        raise UnauthenticatedError("the Authorization header must be `Bearer <token>`")
    if request.app.state.auth_required:
        raise UnauthenticatedError(
            "this server requires an API token: send `Authorization: Bearer <token>` "
            "(set RIPPLE_TOKEN; create one with `ripple token create`)"
        )
    return services.access.local_admin()


async def project_name(project: Annotated[str, Path(description="the project, e.g. `default`")]) -> str:
    return validate_name(project, "project name")


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
ProjectDep = Annotated[str, Depends(project_name)]
