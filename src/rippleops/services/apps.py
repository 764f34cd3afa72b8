"""Apps (``app/*`` assets): compound AI systems written as steps over other assets.

Creating a version resolves every part it references (``kind/name@label``, ``kind/name:N``,
bare = latest) and records the exact versions as its inputs (lineage, with the step kind as
the edge's role) and in its recipe, so the same spec over moved labels is a new version. The
content is the spec as written. A call runs the *pinned* versions, never what the labels
point at now: an app version behaves the same until a new version is made.

Everything a call needs that cannot change (the parsed spec, the pinned prompt and model
records, the guards, the tools) is built once per app version and cached, so that a call
costs one authorisation and one reference lookup besides its steps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rippleops.domain import templating
from rippleops.domain.access import Action, Principal
from rippleops.domain.app_requests import AppStream, parse_request
from rippleops.domain.apps import GENERATE, RENDER, TOOL, AppSpec, PartRef, parse_app_spec
from rippleops.domain.records import AppRunRecord, PromptRecord, VersionRecord
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError, NotFoundError
from rippleops.runtime.tracing import Tracing
from rippleops.services.app_run import AppCall
from rippleops.services.app_spans import CompiledApp
from rippleops.services.app_tools import Tool
from rippleops.services.assets import InputSpec

if TYPE_CHECKING:
    from rippleops.services import Services

KIND = "app"
MAX_COMPILED = 256


class AppService:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._compiled: OrderedDict[tuple[str, str], CompiledApp] = OrderedDict()
        self._lock = threading.Lock()

    # -- versions ------------------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        project: str,
        name: str,
        spec: Mapping[str, Any],
        *,
        pins: Mapping[str, str] | None = None,
    ) -> VersionRecord:
        """Register ``spec`` as the next version of ``app/name``, its parts resolved and pinned.

        A part that does not resolve is a :class:`NotFoundError` naming the step and the
        reference; identical content over the same pinned versions returns the existing one.
        ``pins`` (reference as written -> exact reference) pins a part to a given version
        instead of what it resolves to now (the ripple engine rebuilds on new upstream versions)."""
        parsed = parse_app_spec(spec, f"app/{name}")
        roles: dict[str, list[str]] = {}
        given = dict(pins or {})
        pinned: dict[str, str] = {}
        for part in self._parts(principal, project, name, parsed):
            if part.ref not in pinned:
                pinned[part.ref] = given.get(part.ref) or self._resolve(principal, project, name, part)
            roles.setdefault(part.ref, [])
            if part.role not in roles[part.ref]:
                roles[part.ref].append(part.role)
        inputs = [InputSpec(ref, ",".join(r), pinned[ref] if ref in given else None) for ref, r in roles.items()]
        record = self.services.assets.register(
            principal, project, KIND, name, parsed.content(), inputs=inputs, recipe={"pins": pinned},
            message=parsed.message, tags=parsed.tags,
        )  # fmt: skip
        if parsed.description is not None:
            desc = self.services.assets.update(principal, project, f"{KIND}/{name}", description=parsed.description)
            record = record.model_copy(update={"description": desc.description})
        return record

    def get(self, principal: Principal, project: str, ref: str) -> VersionRecord:
        return self.services.assets.get(principal, project, ref, KIND)

    def versions(self, principal: Principal, project: str, name: str) -> list[VersionRecord]:
        return self.services.assets.versions(principal, project, name, KIND)

    # -- calls -----------------------------------------------------------------------------------

    def invoke(self, principal: Principal, project: str, ref: str, request: Mapping[str, Any]) -> AppRunRecord:
        """Run the app version ``ref`` names on ``request`` (``{"input": ...}`` or
        ``{"messages": [...]}``, plus ``variables``, ``params``, ``metadata``): one trace."""
        req = parse_request(request)
        app = self.compiled(principal, project, ref)
        return AppCall(self.services, principal, project, app, req, self.tracing(project)).invoke()

    def stream(self, principal: Principal, project: str, ref: str, request: Mapping[str, Any]) -> AppStream:
        """Like :meth:`invoke`, as text deltas; fails here when the app cannot start."""
        req = parse_request(request)
        app = self.compiled(principal, project, ref)
        return AppCall(self.services, principal, project, app, req, self.tracing(project)).stream()

    def tracing(self, project: str) -> Tracing:
        return self.services.trace_ingest.tracing(project)

    def compiled(self, principal: Principal, project: str, ref: str) -> CompiledApp:
        """The app version ``ref`` names, ready to run (built once per version).

        An exact version (``app/x:3``, what ``ripple serve`` and deployments call) never
        changes, so once compiled it costs one authorisation query, not a resolution."""
        parsed = parse_ref(ref, KIND)
        if parsed.version is not None:
            app = self._cached((project, parsed.text))
            if app is not None:
                self.services.access.authorize_cached(principal, project, Action.READ)
                return app
        record = self.get(principal, project, ref)
        key = (project, record.ref)
        app = self._cached(key)
        if app is not None:
            return app
        app = self._compile(principal, project, record)
        with self._lock:
            self._compiled[key] = app
            while len(self._compiled) > MAX_COMPILED:
                _, old = self._compiled.popitem(last=False)
                for tool in old.tools.values():
                    tool.close()
        return app

    def _cached(self, key: tuple[str, str]) -> CompiledApp | None:
        with self._lock:
            app = self._compiled.get(key)
            if app is not None:
                self._compiled.move_to_end(key)
            return app

    # -- the rules ---------------------------------------------------------------------------------

    def _parts(self, principal: Principal, project: str, name: str, spec: AppSpec) -> list[PartRef]:
        """Every part to pin: the spec's references, plus the rendered prompt's own model when
        the generate step names none."""
        parts = spec.refs()
        answer = spec.answer_step
        if answer.kind == GENERATE and answer.fields["model"] is None:
            render = next(s for s in spec.steps if s.kind == RENDER)
            prompt_ref = render.fields["prompt"]
            prompt = self._prompt(principal, project, name, PartRef(render.index, RENDER, "prompt", prompt_ref))
            model = prompt.model
            if not model or "/" not in model:
                raise InvalidError(
                    f"app/{name}: {answer.where} names no model and {prompt.ref} names no model asset "
                    f"({'model: ' + repr(model) if model else 'no model:'}); give the step `model: model/NAME@LABEL`"
                )
            parts.append(PartRef(answer.index, GENERATE, "model", parse_ref(model, "model").text))
        return parts

    def _resolve(self, principal: Principal, project: str, name: str, part: PartRef) -> str:
        try:
            return self.services.assets.get(principal, project, part.ref, part.kind).ref
        except NotFoundError as exc:
            raise NotFoundError(
                f"app/{name}: steps[{part.step}] ({part.role}) refers to {part.ref}, which cannot be resolved: "
                f"{exc.message}. List what exists with `ripple {part.kind} list` (and its versions with "
                f"`ripple {part.kind} versions NAME`)",
                details={"step": part.step, "ref": part.ref, "kind": part.kind},
            ) from exc

    def _prompt(self, principal: Principal, project: str, name: str, part: PartRef) -> PromptRecord:
        self._resolve(principal, project, name, part)
        return self.services.prompts.get(principal, project, part.ref)

    def _compile(self, principal: Principal, project: str, record: VersionRecord) -> CompiledApp:
        spec = parse_app_spec(record.content, record.ref)
        pins = {i.ref: i.resolved for i in record.inputs}
        prompts: dict[str, PromptRecord] = {}
        models: dict[str, VersionRecord] = {}
        guards: dict[str, Any] = {}
        for i in record.inputs:
            kind = i.resolved.split("/", 1)[0]
            if kind == "prompt":
                prompts[i.resolved] = self.services.prompts.get(principal, project, i.resolved)
            elif kind == "model":
                models[i.resolved] = self.services.models.get(principal, project, i.resolved)
            elif kind == "policy":
                guards[i.resolved] = self.services.policies.guard(principal, project, i.resolved)
        answer = spec.answer_step
        model_ref = answer.fields.get("model")
        if model_ref is None:  # the rendered prompt's own model, pinned at creation
            render = next(s for s in spec.steps if s.kind == RENDER)
            model_ref = parse_ref(str(prompts[pins[render.fields["prompt"]]].model), "model").text
        arg_vars = {
            (s.index, k): frozenset(templating.infer_variables("text", v, None))
            for s in spec.steps
            if s.kind == TOOL
            for k, v in s.fields["args"].items()
            if isinstance(v, str) and ("{{" in v or "{%" in v)
        }
        return CompiledApp(
            record=record, spec=spec, pins=pins, prompts=prompts,
            prompt_vars={ref: _variables(p) for ref, p in prompts.items()}, models=models, guards=guards,
            tools={t.name: Tool(t) for t in spec.tools}, arg_vars=arg_vars, answer_model=pins[model_ref],
        )  # fmt: skip


def _variables(prompt: PromptRecord) -> frozenset[str]:
    """The variables a prompt version takes: those it declares, else those it uses."""
    if prompt.variables:
        holders = {m["placeholder"] for m in prompt.messages or [] if "placeholder" in m}
        return frozenset(prompt.variables) | holders
    return frozenset(templating.infer_variables(prompt.type, prompt.template, prompt.messages, prompt.includes))
