"""Suites (``suite/*`` assets): what an eval measures — a dataset version, the target kind,
metrics with settings, and gates.

Creating a version resolves every reference the spec makes (the dataset, the embedders,
judge models and rubric prompts its metrics name, the model of a prompt target) and records
the exact versions as its inputs (lineage, with a role: ``dataset``, ``embedder``,
``judge-model``, ``judge-prompt``, ``model``) and in its recipe as ``{"pins": {ref: exact}}``,
so the ripple engine sees a suite as stale when its dataset moved. The content is the spec
with its defaults filled in and the dataset columns resolved against the pinned dataset.

>>> services.suites.create(admin, "default", "support-qa", yaml.safe_load(open("examples/support-qa.yaml")))  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rippleops.domain.access import Principal
from rippleops.domain.records import AssetRecord, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.domain.suites import SuiteSpec, parse_suite_spec, resolve_columns
from rippleops.errors import NotFoundError
from rippleops.services.assets import InputSpec

if TYPE_CHECKING:
    from rippleops.services import Services

KIND = "suite"


class SuiteService:
    def __init__(self, services: Services) -> None:
        self.services = services

    def create(self, principal: Principal, project: str, name: str, spec: Mapping[str, Any]) -> VersionRecord:
        """Register ``spec`` as the next version of ``suite/name``, its references pinned.

        A reference that does not resolve is a :class:`NotFoundError` naming the field;
        identical content over the same pinned versions returns the existing version."""
        source = f"suite/{name}"
        parsed = parse_suite_spec(spec, source)
        roles: dict[str, list[str]] = {}
        pins: dict[str, str] = {}
        for ref, role in parsed.refs():
            if ref not in pins:
                pins[ref] = self._resolve(principal, project, source, ref, role)
            roles.setdefault(ref, [])
            if role not in roles[ref]:
                roles[ref].append(role)
        dataset = self.services.datasets.get(principal, project, pins[parsed.dataset])
        names = [c["name"] for c in dataset.content.get("schema") or []]
        columns = resolve_columns(parsed.columns, names, dataset.content.get("key"), source)
        inputs = [InputSpec(ref, ",".join(r)) for ref, r in roles.items()]
        record = self.services.assets.register(
            principal, project, KIND, name, parsed.content(columns), inputs=inputs, recipe={"pins": pins},
            message=parsed.message, tags=parsed.tags,
        )  # fmt: skip
        if parsed.description is not None:
            desc = self.services.assets.update(principal, project, f"{KIND}/{name}", description=parsed.description)
            record = record.model_copy(update={"description": desc.description})
        return record

    def get(self, principal: Principal, project: str, ref: str) -> VersionRecord:
        return self.services.assets.get(principal, project, parse_ref(ref, KIND))

    def versions(self, principal: Principal, project: str, name: str) -> builtins.list[VersionRecord]:
        return self.services.assets.versions(principal, project, name, KIND)

    def list(self, principal: Principal, project: str) -> builtins.list[AssetRecord]:
        out: builtins.list[AssetRecord] = []
        cursor = None
        while True:
            page = self.services.assets.list(principal, project, kind=KIND, limit=500, cursor=cursor)
            out.extend(page.items)
            if not page.next_cursor:
                return out
            cursor = page.next_cursor

    def _resolve(self, principal: Principal, project: str, source: str, ref: str, role: str) -> str:
        kind = ref.split("/", 1)[0]
        try:
            return self.services.assets.get(principal, project, ref, kind).ref
        except NotFoundError as exc:
            raise NotFoundError(
                f"{source}: {role} {ref} cannot be resolved: {exc.message}. List what exists with "
                f"`ripple {kind} list` (and its versions with `ripple {kind} versions NAME`)",
                details={"ref": ref, "role": role},
            ) from exc


def suite_spec(record: VersionRecord) -> SuiteSpec:
    """A stored suite version's spec (its content parsed again: settings filled in)."""
    return parse_suite_spec(record.content, record.ref)


def pinned(record: VersionRecord, ref: str) -> str:
    """The exact version ``ref`` (as written in the suite) was pinned to."""
    pins: dict[str, str] = (record.recipe or {}).get("pins") or {}
    text = parse_ref(ref).text
    if text not in pins:
        raise NotFoundError(f"{record.ref} did not pin {text}; register the suite again to pin it")
    return pins[text]
