"""Deployments (``deployment/*`` assets), as pure values: the spec a deployment version
holds, its name, the environments and targets, and the runtime state of a local one.

A deployment version pins the exact app version it serves (``app/support-bot:3``), the
environment (``dev``, ``staging``, ``production`` or any name: it is also the app label that
deploying moves), the target (``local``, ``docker``, ``k8s``, ``ray-serve``) and how it runs
(replicas, port, image, resources). Runtime facts (pids, restarts) are not content: they live
in a state file, :class:`LocalState`.

>>> spec = parse_deployment_spec({"app": "app/support-bot:3", "env": "staging", "target": "k8s", "replicas": 2})
>>> spec.name, spec.content()["port"]
('support-bot-staging', 8760)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from rippleops.domain.records import Record
from rippleops.domain.refs import MAX_NAME_LENGTH, parse_ref, validate_label, validate_name
from rippleops.errors import InvalidError

KIND = "deployment"
TARGETS = ("local", "docker", "k8s", "ray-serve")
LOCAL = "local"
ENVIRONMENTS = ("dev", "staging", "production")  # the usual ones; any label name is allowed
DEFAULT_PORT = 8760
DEFAULT_IMAGE_PREFIX = "ripple-app"
MAX_REPLICAS = 100
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"cpu": "2", "memory": "4Gi"},
}
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
_IMAGE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,254}$")
FIELDS = ("app", "env", "target", "replicas", "port", "image", "resources", "min_replicas", "max_replicas")


def deployment_name(app: str, env: str) -> str:
    """``deployment/<app>-<env>``'s name, checked like any asset name."""
    name = f"{app}-{env}"
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidError(
            f"the deployment name {name[:40]!r}... is over {MAX_NAME_LENGTH} characters; use a shorter env"
        )
    return validate_name(name, "deployment name")


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """What a deployment version holds (its content, hashed)."""

    app: str  # exact app version: app/support-bot:3
    env: str
    target: str
    replicas: int = 1
    port: int = DEFAULT_PORT
    image: str | None = None  # docker/k8s: the image name (default ripple-app/<app>:<version>)
    min_replicas: int | None = None  # autoscaling bounds (k8s HPA, Ray Serve); default: replicas
    max_replicas: int | None = None
    resources: dict[str, dict[str, str]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_RESOURCES.items()}
    )

    @property
    def app_name(self) -> str:
        return parse_ref(self.app, "app").name

    @property
    def app_version(self) -> int:
        version = parse_ref(self.app, "app").version
        assert version is not None  # parse_deployment_spec pins it
        return version

    @property
    def name(self) -> str:
        return deployment_name(self.app_name, self.env)

    @property
    def image_name(self) -> str:
        return self.image or f"{DEFAULT_IMAGE_PREFIX}/{self.app_name}:{self.app_version}"

    @property
    def autoscale(self) -> tuple[int, int]:
        low = self.min_replicas if self.min_replicas is not None else self.replicas
        high = self.max_replicas if self.max_replicas is not None else max(low, self.replicas) * 2
        return low, high

    def content(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "env": self.env,
            "target": self.target,
            "replicas": self.replicas,
            "port": self.port,
            "image": self.image_name if self.target in ("docker", "k8s") else None,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "resources": self.resources,
        }


def parse_deployment_spec(spec: Mapping[str, Any]) -> DeploymentSpec:
    """Check a deployment spec; ``app`` must be an exact version (``app/NAME:N``)."""
    if not isinstance(spec, Mapping):
        raise InvalidError("a deployment spec is a mapping with app, env and target")
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise InvalidError(f"unknown deployment field(s) {', '.join(unknown)}; fields: {', '.join(FIELDS)}")
    app = spec.get("app")
    if not isinstance(app, str):
        raise InvalidError("app is required: the exact app version to deploy, such as app/support-bot:3")
    ref = parse_ref(app, "app")
    if ref.version is None:
        raise InvalidError(f"app {app!r} must be an exact version (app/{ref.name}:N); resolve the label first")
    env = validate_env(spec.get("env"))
    target = spec.get("target")
    if target not in TARGETS:
        raise InvalidError(f"target {target!r} is not known; targets: {', '.join(TARGETS)}")
    replicas = _int(spec.get("replicas", 1), "replicas", 1, MAX_REPLICAS)
    if target == LOCAL and replicas != 1:
        raise InvalidError("the local target runs one supervised process; leave --replicas out (or 1)")
    port = _int(spec.get("port", DEFAULT_PORT), "port", 1, 65535)
    image = spec.get("image")
    if image is not None and (not isinstance(image, str) or not _IMAGE.match(image)):
        raise InvalidError(f"image {image!r} is not a valid image name, such as registry.example.com/support-bot:3")
    low = spec.get("min_replicas")
    high = spec.get("max_replicas")
    low = None if low is None else _int(low, "min_replicas", 1, MAX_REPLICAS)
    high = None if high is None else _int(high, "max_replicas", 1, MAX_REPLICAS)
    if low is not None and high is not None and low > high:
        raise InvalidError(f"min_replicas {low} is more than max_replicas {high}")
    resources = _resources(spec.get("resources"))
    return DeploymentSpec(ref.text, env, str(target), replicas, port, image, low, high, resources)


def validate_env(env: Any) -> str:
    """An environment is a label name (``dev``, ``staging``, ``production`` or another)."""
    if not isinstance(env, str):
        raise InvalidError(f"env is required: one of {', '.join(ENVIRONMENTS)} (or another label name)")
    try:
        return validate_label(env, for_move=True)
    except InvalidError as exc:
        raise InvalidError(f"env {env!r} is not valid: {exc.message}") from None


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidError(f"{name} must be an integer from {low} to {high}, not {value!r}")
    return value


def _resources(value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {k: dict(v) for k, v in DEFAULT_RESOURCES.items()}
    if not isinstance(value, Mapping) or set(value) - {"requests", "limits"}:
        raise InvalidError('resources is {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {...}}')
    out: dict[str, dict[str, str]] = {}
    for part, amounts in value.items():
        if not isinstance(amounts, Mapping) or set(amounts) - {"cpu", "memory"}:
            raise InvalidError(f"resources.{part} takes cpu and memory, such as {{'cpu': '500m', 'memory': '1Gi'}}")
        out[part] = {}
        for key, amount in amounts.items():
            text = str(amount)
            if not _QUANTITY.match(text):
                raise InvalidError(f"resources.{part}.{key} {amount!r} is not a quantity such as 500m, 2 or 1Gi")
            out[part][key] = text
    return out


# -- records ---------------------------------------------------------------------------------------


class LocalState(Record):
    """The runtime state of a local deployment (a file under ``$RIPPLE_HOME/deployments``)."""

    name: str
    project: str
    deployment: str  # the deployment version it runs: deployment/support-bot-staging:2
    app: str
    host: str = "127.0.0.1"
    port: int
    status: str = "starting"  # starting | running | restarting | failed | stopping | stopped
    supervisor_pid: int | None = None
    child_pid: int | None = None
    restarts: int = 0
    fast_crashes: int = 0
    last_exit: int | None = None
    message: str = ""
    started_at: float | None = None
    updated_at: float | None = None
    log: str = ""
    command: list[str] = Field(default_factory=list)
    # the supervisor's policy: a run shorter than fast_window_s is a fast crash; it gives up
    # after max_fast_crashes of them in a row; restarts wait backoff_s, doubled per fast crash
    fast_window_s: float = 30.0
    max_fast_crashes: int = 5
    backoff_s: float = 0.5

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/v1"


class DeploymentRecord(Record):
    """A deployment: its version and, for the local target, how it runs now; for the
    template targets, the rendered files (path -> text)."""

    name: str
    ref: str  # deployment/support-bot-staging:2
    project: str
    app: str  # the exact app version
    env: str
    target: str
    replicas: int = 1
    port: int = DEFAULT_PORT
    image: str | None = None
    endpoint: str | None = None
    status: str | None = None  # local: running, failed, stopped ...; templates: rendered
    health: str | None = None  # local: ok | unhealthy | down
    pid: int | None = None  # local: the served process
    supervisor_pid: int | None = None
    restarts: int | None = None
    last_exit: int | None = None
    message: str = ""
    log: str | None = None
    files: dict[str, str] = Field(default_factory=dict)
    created_at: Any = None
    created_by: str | None = None
