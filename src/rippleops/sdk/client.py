"""``rippleops.Client``: one interface, embedded or remote.

>>> from rippleops import Client
>>> rp = Client()                                          # doctest: +SKIP
>>> rp = Client(url="http://127.0.0.1:8750", token="...")  # doctest: +SKIP
>>> rp.prompts.get("answer", label="production").render(question="...")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rippleops.domain.records import SearchResultRecord
from rippleops.domain.refs import validate_name
from rippleops.sdk.apps import Apps
from rippleops.sdk.collections import Assets, Audit, Projects, Roles, Secrets, Tokens, Users
from rippleops.sdk.datasets import Datasets
from rippleops.sdk.deployments import Deployments
from rippleops.sdk.embedders import Embedders
from rippleops.sdk.evals import Evals
from rippleops.sdk.indexes import Indexes
from rippleops.sdk.jobs import Jobs
from rippleops.sdk.models import Models
from rippleops.sdk.policies import Policies
from rippleops.sdk.prompts import Prompts
from rippleops.sdk.ripple import Ripple
from rippleops.sdk.suites import Suites
from rippleops.sdk.sweeps import Sweeps
from rippleops.sdk.synth import Synth
from rippleops.sdk.traces import TraceApi, Traces
from rippleops.sdk.transport import Transport
from rippleops.settings import Settings, get_settings


class Client:
    """The Ripple SDK. Without ``url`` (and without ``RIPPLE_SERVER_URL``) it works on the
    embedded home (``$RIPPLE_HOME``); with one, over HTTP with ``token``.

    Collections: ``prompts``, ``assets``, ``jobs``, ``audit``, ``projects``, ``users``,
    ``tokens``, ``roles``, ``secrets``, ``models``, ``indexes`` (and ``rp.search(...)``), ``datasets``, ``embedders``, ``synth``,
    ``policies``, ``apps``, ``deployments``, ``traces``, ``suites``, ``evals``, ``sweeps``, ``ripple`` (and ``rp.trace`` to trace your own code). Every call takes
    ``project=`` to leave the client's project.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        project: str | None = None,
        settings: Settings | None = None,
        cache_ttl: float | None = None,
        timeout: float = 10.0,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.project = validate_name(project or self.settings.project, "project name")
        url = url or self.settings.server_url
        if transport is not None:
            self.transport = transport
        elif url:
            from rippleops.sdk.remote import RemoteTransport

            self.transport = RemoteTransport(url, token or self.settings.token, timeout=timeout)
        else:
            from rippleops.sdk.embedded import EmbeddedTransport

            self.transport = EmbeddedTransport(self.settings, token)
        self.prompts = Prompts(self, self.settings.prompt_cache_ttl if cache_ttl is None else cache_ttl)
        self.assets = Assets(self)
        self.audit = Audit(self)
        self.projects = Projects(self)
        self.users = Users(self)
        self.tokens = Tokens(self)
        self.roles = Roles(self)
        self.secrets = Secrets(self)
        self.jobs = Jobs(self)
        self.datasets = Datasets(self)
        self.embedders = Embedders(self)
        self.models = Models(self)
        self.policies = Policies(self)
        self.indexes = Indexes(self)
        self.synth = Synth(self)
        self.traces = Traces(self)
        self.suites = Suites(self)
        self.evals = Evals(self)
        self.trace = TraceApi(self)
        self.apps = Apps(self)
        self.deployments = Deployments(self)
        self.sweeps = Sweeps(self)  # issue 6: knob sweeps
        self.ripple = Ripple(self)  # issue 6: the ripple engine

    @property
    def is_remote(self) -> bool:
        return type(self.transport).__name__ == "RemoteTransport"

    def project_of(self, project: str | None) -> str:
        return self.project if project is None else validate_name(project, "project name")

    def search(self, index: str, query: str, **kwargs: Any) -> SearchResultRecord:
        """Shortcut for ``rp.indexes.search``: ``rp.search("index/docs", "how do I roll back?", k=5)``."""
        return self.indexes.search(index, query, **kwargs)

    def lineage(self, ref: str, *, direction: str = "both", depth: int = 50, project: str | None = None) -> Any:
        """Shortcut for ``rp.assets.lineage``."""
        return self.assets.lineage(ref, direction=direction, depth=depth, project=project)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<rippleops.Client {self.transport.url} project={self.project}>"
