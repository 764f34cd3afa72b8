"""``rp.suites``: eval suites — a dataset version, the target kind, metrics and gates.

>>> suite = rp.suites.create("support-qa", file="examples/support-qa.yaml")   # doctest: +SKIP
>>> [(i.resolved, i.role) for i in suite.record.inputs]                        # doctest: +SKIP
[('dataset/support-qa:1', 'dataset'), ('embedder/minilm:1', 'embedder')]
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rippleops.domain.records import AssetRecord, LabelRecord, PromptRecord, VersionRecord
from rippleops.domain.refs import make_ref
from rippleops.errors import InvalidError
from rippleops.sdk.apps import load_app_file
from rippleops.sdk.transport import Transport

if TYPE_CHECKING:
    from rippleops.sdk.client import Client

KIND = "suite"


class Suite:
    """One suite version: its spec (``content``) and what it pinned (``record.inputs``).

    >>> rp.suites.get("support-qa").run("app/support-bot:3").result["run"]   # doctest: +SKIP
    7
    """

    __slots__ = ("_suites", "record")

    def __init__(self, record: VersionRecord, suites: Suites) -> None:
        self.record = record
        self._suites = suites

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def spec(self) -> dict[str, Any]:
        return self.record.content

    def __repr__(self) -> str:
        return f"<Suite {self.record.ref} labels={self.record.labels}>"

    def run(self, target: str, **kwargs: Any) -> Any:
        """Score ``target`` with this exact suite version (see :meth:`Evals.run`)."""
        return self._suites._client.evals.run(self.record.ref, target, project=self.record.project, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return self.record.model_dump(mode="json")


class Suites:
    """Suite assets. References may be ``support-qa``, ``support-qa@production``,
    ``support-qa:2`` or ``suite/support-qa``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _t(self) -> Transport:
        return self._client.transport

    def create(
        self,
        name: str,
        spec: Mapping[str, Any] | None = None,
        *,
        file: str | Path | None = None,
        message: str | None = None,
        project: str | None = None,
    ) -> Suite:
        """Register a version of ``suite/name`` from a spec mapping or a YAML/JSON file; its
        dataset and every embedder, judge model and rubric prompt its metrics name are
        resolved now and pinned. Identical content returns the existing version.

        >>> rp.suites.create("qa", {"dataset": "dataset/qa", "metrics": ["contains"],
        ...                         "gates": [{"metric": "contains", "min": 0.5}]})   # doctest: +SKIP
        """
        if (spec is None) == (file is None):
            raise InvalidError("give a suite spec (a mapping) or file=PATH, not both or neither")
        limit = self._client.settings.max_payload_bytes
        data = dict(spec) if spec is not None else load_app_file(file, limit)  # type: ignore[arg-type]
        if message is not None:
            data["message"] = message
        return Suite(self._t.create_suite(self._client.project_of(project), name, data), self)

    def get(
        self, name: str, *, label: str | None = None, version: int | None = None, project: str | None = None
    ) -> Suite:
        """One version: ``get("support-qa@production")`` or ``get("support-qa", version=2)``."""
        ref = make_ref(KIND, name, label=label, version=version)
        return Suite(self._t.get_suite(self._client.project_of(project), ref.text), self)

    def list(self, *, tag: str | None = None, project: str | None = None) -> builtins.list[AssetRecord]:
        """Every suite asset (name, latest version, labels, tags)."""
        return self._client.assets.list(kind=KIND, tag=tag, project=project)

    def versions(self, name: str, *, project: str | None = None) -> builtins.list[VersionRecord]:
        return self._t.list_versions(self._client.project_of(project), make_ref(KIND, name).asset)

    def label(self, name: str, label: str, version: int | str, *, project: str | None = None) -> LabelRecord:
        """Point ``label`` at ``version`` of the suite."""
        return self._t.set_label(self._client.project_of(project), make_ref(KIND, name).asset, label, version)

    def init_prompts(self, *, project: str | None = None) -> builtins.list[PromptRecord]:
        """Register Ripple's judge rubric prompts (``prompt/judge-correctness`` ...) that the
        ``judge`` and RAG judge metrics name; registering them again changes nothing.

        >>> [p.ref for p in rp.suites.init_prompts()][:1]   # doctest: +SKIP
        ['prompt/judge-correctness:1']
        """
        return self._t.init_judge_prompts(self._client.project_of(project))
