"""Deployments on both databases: an env moves the app's label, each deploy is a
``deployment/<app>-<env>`` version pinned to the exact app version (its input), the template
targets render files whose YAML and Dockerfile are checked for structure, promotion moves the
production label (admins only) and is audited."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rippleops.deploy.files import write_folder
from rippleops.domain.access import Principal
from rippleops.domain.deployments import DeploymentRecord
from rippleops.errors import ForbiddenError, InvalidError, NotFoundError
from rippleops.services import Services
from rippleops.settings import Settings
from serving_support import P, remote_model_apps


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    s = Services(settings)
    yield s
    s.close()


@pytest.fixture
def alice(services: Services) -> Principal:
    who = services.access.local_admin()
    remote_model_apps(services, who)
    return who


@pytest.fixture
def bob(services: Services, alice: Principal) -> Principal:
    """An engineer of the project (not an admin)."""
    services.access.create_user(alice, "bob")
    services.access.grant(alice, P, "bob", "engineer")
    token = services.access.create_token(alice, user="bob").token
    assert token is not None
    return services.access.authenticate(token)


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def check_k8s(files: dict[str, str], app: str, name: str, port: int, replicas: int) -> None:
    (dep,) = docs(files["deployment.yaml"])
    (svc,) = docs(files["service.yaml"])
    (hpa,) = docs(files["hpa.yaml"])
    assert (dep["apiVersion"], dep["kind"], dep["metadata"]["name"]) == ("apps/v1", "Deployment", name)
    assert (svc["apiVersion"], svc["kind"], svc["metadata"]["name"]) == ("v1", "Service", name)
    assert (hpa["apiVersion"], hpa["kind"], hpa["metadata"]["name"]) == (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        name,
    )
    spec = dep["spec"]
    assert spec["replicas"] == replicas
    labels = spec["template"]["metadata"]["labels"]
    selector = spec["selector"]["matchLabels"]
    assert selector and selector.items() <= labels.items()  # the selector matches the pods it makes
    assert svc["spec"]["selector"] == selector
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (container,) = spec["template"]["spec"]["containers"]
    (cport,) = container["ports"]
    assert cport["containerPort"] == port
    assert svc["spec"]["ports"][0]["targetPort"] == port
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["command"][:3] == ["ripple", "serve", app]
    assert container["command"][container["command"].index("--port") + 1] == str(port)
    assert "--auth" in container["command"]  # it binds 0.0.0.0
    assert set(container["resources"]) == {"requests", "limits"}
    env = {e["name"]: e for e in container["env"]}
    for secret_env in ("RIPPLE_DATABASE_URL", "RIPPLE_TOKEN"):
        assert env[secret_env]["valueFrom"]["secretKeyRef"]["name"] == f"{name}-secrets"
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert dep["metadata"]["annotations"]["ripple.dev/app"] == app
    assert labels["app.kubernetes.io/version"] == app.rpartition(":")[2]


def dockerfile(text: str) -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def check_docker(files: dict[str, str], app: str, port: int) -> None:
    steps = dockerfile(files["Dockerfile"])
    words = [w for w, _ in steps]
    assert words[0] == "FROM"
    assert {"USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT"} <= set(words)
    user = next(a for w, a in steps if w == "USER")
    assert user not in ("root", "0")
    assert next(a for w, a in steps if w == "EXPOSE") == str(port)
    health = next(a for w, a in steps if w == "HEALTHCHECK")
    assert f"127.0.0.1:{port}/healthz" in health
    assert words.index("USER") > max(
        i for i, w in enumerate(words) if w == "RUN"
    )  # installs run as root, the server not
    entry = files["entrypoint.sh"]
    serve = next(line for line in entry.splitlines() if line.startswith("exec ripple serve"))
    argv = shlex.split(serve)
    assert argv[1:4] == ["ripple", "serve", app]
    assert "--auth" in argv and argv[argv.index("--host") + 1] == "0.0.0.0"
    assert [ln for ln in files[".dockerignore"].splitlines() if not ln.startswith("#")] == ["*", "!entrypoint.sh"]


def check_ray(files: dict[str, str], app: str, name: str, port: int) -> None:
    (config,) = docs(files["serve-config.yaml"])
    assert config["http_options"]["port"] == port
    (application,) = config["applications"]
    assert application["name"] == name
    assert application["route_prefix"] == "/"
    assert application["import_path"] == "rippleops.deploy.ray_app:build"
    assert application["args"] == {"apps": [app], "project": P}
    assert application["runtime_env"]["pip"][0].startswith("rippleops")
    (deployment,) = application["deployments"]
    assert ("num_replicas" in deployment) != ("autoscaling_config" in deployment)


def test_template_targets_render_valid_files(services: Services, alice: Principal, tmp_path: Path) -> None:
    k8s = services.deployments.create(alice, P, "app/support-bot:2", env="staging", target="k8s", replicas=3, port=9000)
    assert (k8s.name, k8s.ref, k8s.app, k8s.status) == ("support-bot-staging", "deployment/support-bot-staging:1",
                                                          "app/support-bot:2", "rendered")  # fmt: skip
    assert sorted(k8s.files) == ["README.md", "deployment.yaml", "hpa.yaml", "service.yaml"]
    check_k8s(k8s.files, "app/support-bot:2", "support-bot-staging", 9000, 3)
    assert "app/support-bot:2" in k8s.files["README.md"]

    docker = services.deployments.create(alice, P, "support-bot", env="dev", target="docker")
    assert docker.app == "app/support-bot:2"  # a bare name is the latest version, pinned
    check_docker(docker.files, "app/support-bot:2", 8760)
    assert docker.image == "ripple-app/support-bot:2"

    ray = services.deployments.create(alice, P, "app/support-bot:1", env="qa", target="ray-serve", min_replicas=1,
                                      max_replicas=4)  # fmt: skip
    check_ray(ray.files, "app/support-bot:1", "support-bot-qa", 8760)
    (config,) = docs(ray.files["serve-config.yaml"])
    assert config["applications"][0]["deployments"][0]["autoscaling_config"]["max_replicas"] == 4

    # written atomically into a folder; a render again replaces it; a user's folder is never replaced
    out = write_folder(k8s.files, tmp_path / "deploy" / "k8s")
    assert sorted(p.name for p in out.iterdir()) == sorted(k8s.files)
    write_folder(services.deployments.render(alice, P, "support-bot-staging").files, out)
    assert not [p for p in (tmp_path / "deploy").iterdir() if p.name.startswith(".")]  # no temp folder left
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InvalidError, match=r"notes\.txt"):
        write_folder(k8s.files, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_env_is_a_label_and_a_version_pins_the_app(services: Services, alice: Principal) -> None:
    first = services.deployments.create(alice, P, "support-bot:1", env="staging", target="k8s")
    version = services.assets.get(alice, P, first.ref)
    assert version.content["app"] == "app/support-bot:1"
    assert [(i.resolved, i.role) for i in version.inputs] == [("app/support-bot:1", "app")]
    assert "staging" in services.assets.get(alice, P, "app/support-bot:1").labels
    # the same again is the same version; another app version is a new one and moves the label
    assert services.deployments.create(alice, P, "support-bot:1", env="staging", target="k8s").ref == first.ref
    second = services.deployments.create(alice, P, "support-bot:2", env="staging", target="k8s")
    assert second.ref == "deployment/support-bot-staging:2"
    assert services.assets.get(alice, P, "app/support-bot@staging").version == 2
    lineage = services.lineage.walk(alice, P, "app/support-bot:2", direction="down")
    assert "deployment/support-bot-staging:2" in str(lineage)
    assert [d.name for d in services.deployments.list(alice, P)] == ["support-bot-staging"]


def test_promote_moves_production_audited_and_admin_only(services: Services, alice: Principal, bob: Principal) -> None:
    services.deployments.create(alice, P, "support-bot:1", env="production", target="k8s", replicas=4)
    services.deployments.create(bob, P, "support-bot:2", env="staging", target="k8s")  # engineers deploy staging

    with pytest.raises(ForbiddenError):
        services.deployments.promote(bob, P, "support-bot", source="staging", to="production")
    with pytest.raises(ForbiddenError):
        services.deployments.create(bob, P, "support-bot:2", env="production", target="k8s")
    assert services.assets.get(alice, P, "app/support-bot@production").version == 1  # nothing moved

    promoted = services.deployments.promote(alice, P, "support-bot", source="staging", to="production")
    assert isinstance(promoted, DeploymentRecord)
    assert (promoted.ref, promoted.app, promoted.replicas) == (
        "deployment/support-bot-production:2",
        "app/support-bot:2",
        4,
    )
    assert services.assets.get(alice, P, "app/support-bot@production").version == 2
    check_k8s(promoted.files, "app/support-bot:2", "support-bot-production", 8760, 4)

    events = services.audit.log(alice, project=P)
    actions = [(e.action, e.target) for e in events]
    assert ("label.move", "app/support-bot@production") in actions
    assert ("version.create", "deployment/support-bot-production:2") in actions
    promote = next(e for e in events if e.action == "deployment.promote")
    assert promote.target == "deployment/support-bot-production:2" and promote.actor == alice.name
    assert promote.before == {"env": "production", "app": "app/support-bot:1"}
    assert promote.after["app"] == "app/support-bot:2"
    assert services.audit.verify(alice).ok

    with pytest.raises(NotFoundError, match="deploy first"):
        services.deployments.promote(alice, P, "support-bot", source="dev", to="production")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"env": "latest", "target": "k8s"}, "latest"),
        ({"env": "Staging!", "target": "k8s"}, "env"),
        ({"env": "staging", "target": "lambda"}, "targets: local, docker, k8s, ray-serve"),
        ({"env": "staging", "target": "local", "replicas": 2}, "one supervised process"),
        ({"env": "staging", "target": "k8s", "port": 70000}, "port"),
        ({"env": "staging", "target": "k8s", "resources": {"requests": {"cpu": "lots"}}}, "quantity"),
        ({"env": "staging", "target": "docker", "image": "bad image"}, "image"),
    ],
)
def test_bad_deployments_are_refused(services: Services, alice: Principal, options: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidError, match=match):
        services.deployments.create(alice, P, "support-bot:1", **options)
    assert services.assets.list(alice, P, kind="deployment").items == []


def test_missing_app_is_not_found(services: Services, alice: Principal) -> None:
    with pytest.raises(NotFoundError, match="app/nope"):
        services.deployments.create(alice, P, "nope", env="staging", target="k8s")
    services.deployments.create(alice, P, "support-bot:1", env="staging", target="k8s")
    with pytest.raises(InvalidError, match="is a k8s deployment"):
        services.deployments.stop(alice, P, "support-bot-staging")
