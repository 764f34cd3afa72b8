"""Prompts, the first asset kind: create from a spec, fetch with includes pinned, render,
diff. Storage, labels and lineage are the generic asset machinery."""

from __future__ import annotations

from typing import Any

from rippleops.domain import templating
from rippleops.domain.access import Action, Principal
from rippleops.domain.prompts import PromptSpec, diff_contents
from rippleops.domain.records import PromptRecord, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError
from rippleops.services.access import AccessService
from rippleops.services.assets import AssetService, InputSpec, VersionCache, resolve, version_record
from rippleops.store.db import Database
from rippleops.store.models import Version

KIND = "prompt"
INCLUDE_ROLE = "include"
MAX_INCLUDE_DEPTH = 10


class PromptService:
    def __init__(self, db: Database, access: AccessService, assets: AssetService) -> None:
        self.db = db
        self.access = access
        self.assets = assets
        self._cache = VersionCache()

    def create(self, principal: Principal, project: str, name: str, spec: PromptSpec) -> PromptRecord:
        """Register ``spec`` as the next version of ``prompt/name`` (a no-op for known content)."""
        content = spec.content()
        includes = templating.find_includes(content["type"], content["template"], content["messages"])
        inputs, texts = [], {}
        for inc in includes:
            ref = parse_ref(inc, KIND)
            if ref.kind != KIND:
                raise InvalidError(f"{inc!r}: only prompts can be included")
            target = self.get(principal, project, ref.text)
            if target.type != "text":
                raise InvalidError(f"{inc!r} is a chat prompt; only text prompts can be included")
            inputs.append(InputSpec(inc, INCLUDE_ROLE))
            texts.update(target.includes)
            texts[inc] = target.template or ""
        if content["variables"]:
            used = templating.infer_variables(content["type"], content["template"], content["messages"], texts)
            undeclared = sorted(used - set(content["variables"]))
            if undeclared:
                raise InvalidError(
                    f"the template uses variables not declared under `variables:`: {', '.join(undeclared)}; "
                    "declare them or leave `variables:` out to infer them"
                )
        record = self.assets.register(
            principal, project, KIND, name, content, inputs=inputs, message=spec.message, tags=spec.tags
        )
        if spec.description is not None:
            desc = self.assets.update(principal, project, f"{KIND}/{name}", description=spec.description).description
            record = record.model_copy(update={"description": desc})
        if record.inputs:  # read back the texts pinned by the recorded inputs (a label may have moved since)
            got = self.get(principal, project, record.ref)
            return got.model_copy(update={"created": record.created, "note": record.note})
        return prompt_record(record, record.content, None)

    def get(self, principal: Principal, project: str, ref: str) -> PromptRecord:
        parsed = parse_ref(ref, KIND)
        with self.db.reading() as s:
            proj = self.access.authorize(s, principal, project, Action.READ)
            r = resolve(s, proj, parsed)
            cached = self._cache.get(r.version_id)
            if cached is None or cached.project != project:
                base = version_record(s, None, r, project)
                version = s.get(Version, r.version_id)
                assert version is not None
                cached = prompt_record(base, base.content, _includes(version))
                self._cache.put(r.version_id, cached)
            return cached.model_copy(update={"labels": r.labels, "description": r.description})

    def versions(self, principal: Principal, project: str, name: str) -> list[VersionRecord]:
        return self.assets.versions(principal, project, name, KIND)

    def render(
        self, principal: Principal, project: str, ref: str, values: dict[str, Any]
    ) -> str | list[dict[str, str]]:
        return render_record(self.get(principal, project, ref), values)

    def diff(self, principal: Principal, project: str, a: str, b: str) -> dict[str, Any]:
        ra, rb = self.get(principal, project, a), self.get(principal, project, b)
        return diff_contents(ra.ref, content_of(ra), rb.ref, content_of(rb))


def content_of(record: PromptRecord) -> dict[str, Any]:
    return {
        k: getattr(record, k) for k in ("type", "template", "messages", "variables", "model", "params", "output_schema")
    }


def render_record(record: PromptRecord, values: dict[str, Any]) -> str | list[dict[str, str]]:
    """Render a fetched prompt version (used by the service and by the SDK, offline too)."""
    return templating.render(
        record.type,
        template=record.template,
        messages=record.messages,
        variables=record.variables or None,
        values=values,
        includes=record.includes,
    )


def prompt_record(base: VersionRecord, c: dict[str, Any], includes: dict[str, str] | None) -> PromptRecord:
    """A prompt version's record from the generic one: content fields moved to the top."""
    return PromptRecord(
        **base.model_dump(exclude={"content"}),
        type=c["type"],
        template=c.get("template"),
        messages=c.get("messages"),
        variables=c.get("variables") or {},
        model=c.get("model"),
        params=c.get("params") or {},
        output_schema=c.get("output_schema"),
        includes=includes or {},
    )


def _includes(version: Version, depth: int = 0) -> dict[str, str]:
    """The text of every included prompt, pinned to the recorded input versions (transitively)."""
    out: dict[str, str] = {}
    if depth > MAX_INCLUDE_DEPTH:
        raise InvalidError(f"prompt includes nest deeper than {MAX_INCLUDE_DEPTH} levels")
    for edge in version.inputs:
        if edge.role != INCLUDE_ROLE:
            continue
        target = edge.input_version
        for ref, text in _includes(target, depth + 1).items():
            out.setdefault(ref, text)
        out[edge.ref] = target.content.get("template") or ""
    return out
