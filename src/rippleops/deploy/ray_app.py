"""The Ray Serve entry point of a ``ray-serve`` deployment: ``serve-config.yaml`` names
``rippleops.deploy.ray_app:build``, which Ray calls with the config's ``args``
(``{"apps": ["app/support-bot:3"], "project": "default"}``).

Each replica runs the same OpenAI-compatible routes as ``ripple serve``
(:func:`~rippleops.server.serving.create_serving_app`) over the database in
``RIPPLE_DATABASE_URL``. Ray itself is imported only here, when Ray calls :func:`build`
(it is not a dependency of Ripple: the cluster brings it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rippleops.errors import InvalidError
from rippleops.server.serving import attach, shell
from rippleops.settings import get_settings


def check_args(args: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """The config's ``args``: the exact app versions to serve and the project."""
    apps = args.get("apps")
    if not isinstance(apps, list) or not apps or not all(isinstance(a, str) for a in apps):
        raise InvalidError('serve-config args need "apps": a list of exact app versions such as ["app/support-bot:3"]')
    project = args.get("project")
    if project is not None and not isinstance(project, str):
        raise InvalidError('serve-config args "project" must be a project name')
    return list(apps), project


def build(args: dict[str, Any]) -> Any:
    """Ray Serve's application builder: the Ripple routes as a Serve deployment. The routes
    are pickled to each replica without state; each replica resolves and warms the apps in
    its constructor (its own database connections and models)."""
    apps, project = check_args(args)
    try:
        from ray import serve  # type: ignore[import-not-found]
    except ImportError as exc:  # only on a Ray cluster
        raise InvalidError("the ray-serve target runs on a Ray cluster: pip install 'ray[serve]' there") from exc

    app = shell()

    @serve.deployment(name="RippleOpenAI")
    @serve.ingress(app)
    class RippleOpenAI:
        def __init__(self) -> None:
            attach(app, get_settings(), apps, project=project)

    return RippleOpenAI.bind()  # type: ignore[attr-defined]
