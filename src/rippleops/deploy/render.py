"""Render a deployment's files for the ``docker``, ``k8s`` and ``ray-serve`` targets from the
Jinja2 templates in ``deploy/templates/``, (written into a folder by :func:`rippleops.deploy.files.write_folder`).

Values go into YAML and the Dockerfile as JSON strings (the ``q`` filter), which YAML reads
as plain strings, so a name can never break the document's structure.

>>> files = render(spec, project="default", deployment_ref="deployment/bot-staging:1")  # doctest: +SKIP
>>> sorted(files)                                                                         # doctest: +SKIP
['README.md', 'deployment.yaml', 'hpa.yaml', 'service.yaml']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from rippleops import __version__
from rippleops.domain.deployments import DeploymentSpec
from rippleops.errors import InvalidError

TEMPLATES = Path(__file__).with_name("templates")
FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "docker": (
        ("Dockerfile", "Dockerfile.j2"),
        (".dockerignore", "dockerignore.j2"),
        ("entrypoint.sh", "entrypoint.sh.j2"),
    ),
    "k8s": (
        ("deployment.yaml", "deployment.yaml.j2"),
        ("service.yaml", "service.yaml.j2"),
        ("hpa.yaml", "hpa.yaml.j2"),
    ),
    "ray-serve": (("serve-config.yaml", "serve-config.yaml.j2"),),
}
TITLES = {"docker": "Docker", "k8s": "Kubernetes", "ray-serve": "Ray Serve"}


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # our own templates, so no sandbox; StrictUndefined makes a missing value an error, not ""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = lambda value: json.dumps(str(value), ensure_ascii=False)
    return env


def pip_spec(extras: Sequence[str]) -> str:
    """What ``pip install`` takes to run the app: Ripple at this version with the extras its parts need."""
    return f"rippleops[{','.join(sorted(set(extras)))}]=={__version__}" if extras else f"rippleops=={__version__}"


def context(
    spec: DeploymentSpec, *, project: str, deployment_ref: str, extras: Sequence[str] = (), local_model: bool = False
) -> dict[str, Any]:
    low, high = spec.autoscale
    selector = {"app.kubernetes.io/name": spec.app_name, "app.kubernetes.io/instance": spec.name}
    labels = {
        **selector,
        "app.kubernetes.io/version": str(spec.app_version),
        "app.kubernetes.io/component": "serving",
        "app.kubernetes.io/managed-by": "ripple",
        "ripple.dev/env": spec.env,
        "ripple.dev/project": project,
    }
    return {
        "name": spec.name,
        "app": spec.app,
        "app_name": spec.app_name,
        "app_version": spec.app_version,
        "env": spec.env,
        "target": spec.target,
        "target_title": TITLES.get(spec.target, spec.target),
        "project": project,
        "deployment_ref": deployment_ref,
        "port": spec.port,
        "replicas": spec.replicas,
        "min_replicas": low,
        "max_replicas": high,
        "image": spec.image_name,
        # sorted: PostgreSQL's JSON gives the stored keys back in another order than they were written
        "resources": {part: dict(sorted(spec.resources[part].items())) for part in sorted(spec.resources)},
        "selector": selector,
        "labels": labels,
        "secret": f"{spec.name}-secrets",
        "pip_spec": pip_spec(extras),
        "local_model": local_model,
        "ripple_version": __version__,
    }


def render(
    spec: DeploymentSpec, *, project: str, deployment_ref: str, extras: Sequence[str] = (), local_model: bool = False
) -> dict[str, str]:
    """The target's files (relative path -> text), README.md included."""
    if spec.target not in FILES:
        raise InvalidError(f"the {spec.target} target runs a process; it has no files to render")
    ctx = context(spec, project=project, deployment_ref=deployment_ref, extras=extras, local_model=local_model)
    env = _env()
    files = {path: env.get_template(template).render(ctx) for path, template in FILES[spec.target]}
    files["README.md"] = env.get_template("README.md.j2").render(ctx)
    return files
