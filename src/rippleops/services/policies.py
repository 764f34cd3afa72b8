"""Policies, the ``policy/*`` asset kind: guardrail validators and their actions.

``create`` checks a spec (every validator built once, so a bad pattern or entity type is
refused before anything is written) and registers it; a policy that names an ``embedder:``
records it as an input (lineage), resolved to the exact version at creation, and its
guard always embeds with that version. ``guard`` builds a version's :class:`Guard` once and
keeps it (models and vectors load once, on first use); ``check`` runs one stage on a text.

>>> services.policies.create(admin, "default", "default", {"input": [{"type": "pii"}]})  # doctest: +SKIP
>>> services.policies.check(admin, "default", "default", "mail ana@example.org").text     # doctest: +SKIP
'mail <EMAIL_ADDRESS>'
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from rippleops.domain.access import Action, Principal
from rippleops.domain.embedders import vector_key
from rippleops.domain.guards import STAGES, GuardContext, GuardResult
from rippleops.domain.policies import PolicySpec, parse_policy
from rippleops.domain.records import VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError
from rippleops.runtime.guards import Embedding, Guard
from rippleops.runtime.providers.embedders import Embedder, OnnxMiniLMEmbedder
from rippleops.services.access import AccessService
from rippleops.services.assets import AssetService, InputSpec
from rippleops.services.embedders import EmbedderService

KIND = "policy"
#: Guards kept built (one per policy version in use).
GUARD_CACHE_SIZE = 64
Context = GuardContext | Mapping[str, Any] | str | Sequence[str] | None


class PolicyService:
    """``policy/*`` versions and their guards."""

    def __init__(self, access: AccessService, assets: AssetService, embedders: EmbedderService) -> None:
        self.access = access
        self.assets = assets
        self.embedders = embedders
        self._guards: OrderedDict[tuple[str, str, str], Guard] = OrderedDict()
        self._lock = threading.Lock()
        self._default_embedder: Embedder | None = None

    # -- versions ------------------------------------------------------------------------------

    def create(self, principal: Principal, project: str, name: str, spec: Mapping[str, Any]) -> VersionRecord:
        """Register ``spec`` as the next version of ``policy/name`` (a no-op for known content)."""
        parsed = parse_policy(spec, f"policy/{name}")
        with self.assets.db.reading() as s:
            self.access.authorize(s, principal, project, Action.WRITE)
        Guard(f"policy/{name}", parsed)  # builds every validator: what only the runtime can check fails here
        inputs = [InputSpec(parsed.embedder, role="embedder")] if parsed.embedder else []
        # the embedder version is pinned (guards run it, not what the reference points at later),
        # and the pin is part of the version's hash: the same policy over a new embedder version
        # is a new policy version, which is what the ripple engine rebuilds
        pins = (
            {parsed.embedder: self.assets.get(principal, project, parsed.embedder, "embedder").ref}
            if parsed.embedder
            else {}
        )
        record = self.assets.register(
            principal, project, KIND, name, parsed.content(), inputs=inputs, recipe={"pins": pins} if pins else None,
            message=parsed.message, tags=parsed.tags,
        )  # fmt: skip
        if parsed.description is not None:
            desc = self.assets.update(principal, project, f"{KIND}/{name}", description=parsed.description).description
            record = record.model_copy(update={"description": desc})
        return record

    def get(self, principal: Principal, project: str, ref: str) -> VersionRecord:
        return self.assets.get(principal, project, parse_ref(ref, KIND))

    def versions(self, principal: Principal, project: str, name: str) -> list[VersionRecord]:
        return self.assets.versions(principal, project, name, KIND)

    # -- guards ----------------------------------------------------------------------------------

    def guard(self, principal: Principal, project: str, ref: str) -> Guard:
        """The guard of the version ``ref`` resolves to, built once per version."""
        record = self.get(principal, project, ref)
        key = (project, record.ref, record.hash)
        with self._lock:
            cached = self._guards.get(key)
            if cached is not None:
                self._guards.move_to_end(key)
                return cached
        spec = parse_policy(record.content, record.ref)
        guard = Guard(record.ref, spec, self._embedding(principal, project, record, spec))
        with self._lock:
            cached = self._guards.setdefault(key, guard)
            while len(self._guards) > GUARD_CACHE_SIZE:
                self._guards.popitem(last=False)
        return cached

    def check(
        self,
        principal: Principal,
        project: str,
        ref: str,
        text: str,
        *,
        stage: str = "input",
        context: Context = None,
    ) -> GuardResult:
        """Run the ``stage`` validators of policy ``ref`` on ``text``.

        ``context`` is a :class:`GuardContext`, a mapping of its fields (``query``,
        ``contexts``, ``output_schema``), or the retrieved passages (a text or a list)."""
        if stage not in STAGES:
            raise InvalidError(f"stage must be input or output, not {stage!r}")
        if not isinstance(text, str):
            raise InvalidError(f"a policy checks a text, not {type(text).__name__}")
        ctx = guard_context(context)
        return self.guard(principal, project, ref).check(text, stage, ctx)

    def close(self) -> None:
        with self._lock:
            self._guards.clear()
            embedder, self._default_embedder = self._default_embedder, None
        if embedder is not None:
            embedder.close()

    # -- embedding ---------------------------------------------------------------------------------

    def _embedding(
        self, principal: Principal, project: str, record: VersionRecord, spec: PolicySpec
    ) -> Embedding | None:
        if not spec.uses_embeddings:
            return None
        pinned = next((i.resolved for i in record.inputs if i.role == "embedder"), None)
        if pinned is None:
            return Embedding("minilm-default", lambda texts: self._default().embed(texts))
        embedder_record, embedder = self.embedders.embedder(principal, project, pinned)
        return Embedding(vector_key(embedder_record.content), lambda texts: embedder.embed(texts))

    def _default(self) -> Embedder:
        """The shipped MiniLM, loaded on first use and shared by every policy without an embedder."""
        with self._lock:
            if self._default_embedder is None:
                self._default_embedder = OnnxMiniLMEmbedder()
            return self._default_embedder


def guard_context(context: Context) -> GuardContext:
    """A :class:`GuardContext` from what an interface was given."""
    if context is None or isinstance(context, GuardContext):
        return context or GuardContext()
    if isinstance(context, str):
        return GuardContext(contexts=(context,))
    if isinstance(context, Mapping):
        unknown = sorted(set(context) - {"query", "contexts", "output_schema"})
        if unknown:
            raise InvalidError(f"context takes query, contexts and output_schema, not {', '.join(unknown)}")
        query = context.get("query")
        contexts = context.get("contexts") or ()
        schema = context.get("output_schema")
        if query is not None and not isinstance(query, str):
            raise InvalidError("context.query must be a string (the user's question)")
        if isinstance(contexts, str):
            contexts = (contexts,)
        if not isinstance(contexts, list | tuple) or not all(isinstance(c, str) for c in contexts):
            raise InvalidError("context.contexts must be a list of strings (the retrieved passages)")
        if schema is not None and not isinstance(schema, dict):
            raise InvalidError("context.output_schema must be a JSON schema object")
        return GuardContext(query=query, contexts=tuple(contexts), output_schema=schema)
    if isinstance(context, list | tuple) and all(isinstance(c, str) for c in context):
        return GuardContext(contexts=tuple(context))
    raise InvalidError(
        f"context must be the retrieved passages (a text or a list of texts), not {type(context).__name__}"
    )
