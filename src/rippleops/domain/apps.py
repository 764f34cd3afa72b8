"""App specs: the YAML/JSON shape of an ``app/*`` version — a compound AI system written as
steps over other assets — validated strictly into a version's content.

An app file::

    description: answers questions about Ripple from its docs
    steps:
      - guard_input: policy/support@production
      - retrieve: {index: index/ripple-docs@production, k: 3, mode: hybrid, max_chars: 600}
      - tool: {name: status, args: {q: "{{ question }}"}}        # result as variable `status`
      - render: {prompt: prompt/rag@production}
      - generate: {model: model/local-smollm@production, params: {max_tokens: 64}}
      - guard_output: policy/support@production
    tools:
      - {name: add, python: "mypkg.tools:add", timeout_s: 2}
      - {name: lookup, entry_point: lookup}                       # group ripple.tools
      - {name: status, http: {url: "http://127.0.0.1:9000/status", method: GET}, timeout_s: 5}

The order is fixed where another order means nothing: ``guard_input`` first, then any
``retrieve`` and ``tool`` steps, at most one ``render``, exactly one answering step
(``generate`` or ``agent``), and ``guard_output`` last. The content hash covers the
normalised steps and tools (defaults filled in, references as written); ``description``,
``message`` and ``tags`` are metadata.

>>> spec = parse_app_spec({"steps": [{"generate": {"model": "model/m@production"}}]})
>>> spec.content()["steps"]
[{'generate': {'model': 'model/m@production', 'params': {}}}]
>>> [(r.role, r.ref) for r in spec.refs()]
[('generate', 'model/m@production')]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rippleops.domain.refs import parse_ref, validate_name
from rippleops.errors import InvalidError

GUARD_INPUT, RETRIEVE, TOOL, RENDER, GENERATE, AGENT, GUARD_OUTPUT = (
    "guard_input", "retrieve", "tool", "render", "generate", "agent", "guard_output",
)  # fmt: skip
STEP_KINDS: tuple[str, ...] = (GUARD_INPUT, RETRIEVE, TOOL, RENDER, GENERATE, AGENT, GUARD_OUTPUT)
SPEC_FIELDS: tuple[str, ...] = ("steps", "tools", "description", "message", "tags")
SEARCH_MODES = ("vector", "bm25", "hybrid")
HTTP_METHODS = ("GET", "POST")
TOOL_GROUP = "ripple.tools"  # the entry-point group of Python tools
DEFAULT_TOOL_TIMEOUT_S = 10.0
MAX_TOOL_TIMEOUT_S = 600.0
DEFAULT_MAX_STEPS = 4
MAX_AGENT_STEPS = 50
#: Variables every render and tool-argument template can read (besides tool results and the
#: request's own ``variables``).
BUILTIN_VARIABLES = ("question", "history", "chunks", "sources")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: The asset kind each step references, and under which field.
_STEP_REFS: dict[str, tuple[tuple[str, str], ...]] = {
    GUARD_INPUT: (("policy", "policy"),),
    RETRIEVE: (("index", "index"),),
    RENDER: (("prompt", "prompt"),),
    GENERATE: (("model", "model"),),
    AGENT: (("model", "model"), ("prompt", "prompt")),
    GUARD_OUTPUT: (("policy", "policy"),),
    TOOL: (),
}
_STEP_FIELDS: dict[str, tuple[str, ...]] = {
    GUARD_INPUT: ("policy",),
    RETRIEVE: ("index", "k", "mode", "max_chars", "filters"),
    TOOL: ("name", "args", "as"),
    RENDER: ("prompt",),
    GENERATE: ("model", "params"),
    AGENT: ("model", "tools", "max_steps", "prompt", "params"),
    GUARD_OUTPUT: ("policy",),
}
_TOOL_FIELDS = ("name", "description", "python", "entry_point", "http", "timeout_s")
_HTTP_FIELDS = ("url", "method", "headers")


@dataclass(frozen=True)
class Step:
    """One step: its place in the list (0-based), kind and normalised fields."""

    index: int
    kind: str
    fields: dict[str, Any]

    @property
    def name(self) -> str:
        """What the step is called in traces and records: ``retrieve``, ``tool:status`` ..."""
        return f"{self.kind}:{self.fields['name']}" if self.kind == TOOL else self.kind

    @property
    def where(self) -> str:
        return f"steps[{self.index}] ({self.kind})"


@dataclass(frozen=True)
class ToolSpec:
    """A tool an app may call: a Python callable (import path or entry point) or an HTTP API."""

    name: str
    type: str  # python | entry_point | http
    target: str  # the import path, the entry point name (group:name), or the URL
    method: str = "POST"  # http only
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    description: str = ""

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "timeout_s": self.timeout_s, "description": self.description}
        if self.type == "http":
            out["http"] = {"url": self.target, "method": self.method, "headers": dict(self.headers)}
        else:
            out[self.type] = self.target
        return out


@dataclass(frozen=True)
class PartRef:
    """A reference an app makes to another asset: where (step), in which role, to what."""

    step: int
    role: str
    kind: str
    ref: str  # as written, with the kind: prompt/rag@production


@dataclass(frozen=True)
class AppSpec:
    steps: tuple[Step, ...]
    tools: tuple[ToolSpec, ...] = ()
    description: str | None = None
    message: str = ""
    tags: tuple[str, ...] = ()

    def content(self) -> dict[str, Any]:
        """The hashed content fields: normalised steps and tools."""
        return {
            "steps": [{s.kind: _plain(s.fields)} for s in self.steps],
            "tools": [t.content() for t in self.tools],
        }

    def refs(self) -> list[PartRef]:
        """Every asset reference, in step order."""
        out: list[PartRef] = []
        for s in self.steps:
            for key, kind in _STEP_REFS[s.kind]:
                if s.fields.get(key):
                    out.append(PartRef(s.index, s.kind, kind, s.fields[key]))
        return out

    def tool(self, name: str) -> ToolSpec:
        return next(t for t in self.tools if t.name == name)

    @property
    def answer_step(self) -> Step:
        return next(s for s in self.steps if s.kind in (GENERATE, AGENT))


def parse_app_spec(data: Any, source: str = "app") -> AppSpec:
    """Validate a mapping into an :class:`AppSpec`; errors name the step index and the field."""
    if not isinstance(data, Mapping):
        raise InvalidError(f"{source} must be a mapping with `steps:`, got {type(data).__name__}")
    unknown = sorted(map(str, set(data) - set(SPEC_FIELDS)))
    if unknown:
        raise InvalidError(f"{source} has unknown fields: {', '.join(unknown)}; allowed: {', '.join(SPEC_FIELDS)}")
    tools = _tools(data.get("tools"), source)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidError(
            f"{source}: `steps:` must be a non-empty list, such as [{{generate: {{model: model/NAME@production}}}}]"
        )
    steps = tuple(_step(i, raw, source, {t.name for t in tools}) for i, raw in enumerate(raw_steps))
    _check_order(steps, source)
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidError(f"{source}: description must be a string")
    message = data.get("message", "")
    if not isinstance(message, str):
        raise InvalidError(f"{source}: message must be a string")
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidError(f"{source}: tags must be a list of strings")
    return AppSpec(steps, tools, description, message, tuple(tags))


# -- steps ----------------------------------------------------------------------------------------


def _step(i: int, raw: Any, source: str, tool_names: set[str]) -> Step:
    where = f"{source}: steps[{i}]"
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise InvalidError(
            f"{where} must be a mapping with exactly one key, the step kind ({', '.join(STEP_KINDS)}), "
            "for example `- retrieve: {index: index/docs@production}`"
        )
    ((kind, body),) = raw.items()
    if kind not in STEP_KINDS:
        raise InvalidError(f"{where}: unknown step kind {kind!r}; kinds: {', '.join(STEP_KINDS)}")
    where = f"{source}: steps[{i}] ({kind})"
    if isinstance(body, str) and kind in (GUARD_INPUT, GUARD_OUTPUT, RENDER, GENERATE, RETRIEVE):
        body = {_STEP_FIELDS[kind][0]: body}  # the short form: `- render: prompt/rag@production`
    if not isinstance(body, Mapping):
        raise InvalidError(f"{where} must be a mapping of fields ({', '.join(_STEP_FIELDS[kind])})")
    unknown = sorted(map(str, set(body) - set(_STEP_FIELDS[kind])))
    if unknown:
        raise InvalidError(
            f"{where} has unknown fields: {', '.join(unknown)}; allowed: {', '.join(_STEP_FIELDS[kind])}"
        )
    f = dict(body)
    out: dict[str, Any]
    if kind in (GUARD_INPUT, GUARD_OUTPUT):
        out = {"policy": _ref(f.get("policy"), "policy", f"{where}: policy")}
    elif kind == RETRIEVE:
        out = {
            "index": _ref(f.get("index"), "index", f"{where}: index"),
            "k": _int(f.get("k", 3), f"{where}: k", 1, 100),
            "mode": _choice(f.get("mode", "hybrid"), SEARCH_MODES, f"{where}: mode"),
            "max_chars": None
            if f.get("max_chars") is None
            else _int(f["max_chars"], f"{where}: max_chars", 1, 100_000),
            "filters": mapping_field(f.get("filters"), f"{where}: filters"),
        }
    elif kind == TOOL:
        name = f.get("name")
        if name not in tool_names:
            have = ", ".join(sorted(tool_names)) or "none"
            raise InvalidError(f"{where}: name {name!r} is not a tool of this app; tools under `tools:`: {have}")
        target = f.get("as", name)
        if not isinstance(target, str) or not _VARIABLE.match(target) or target in BUILTIN_VARIABLES:
            raise InvalidError(
                f"{where}: as {target!r} must be a variable name (letters, digits, _) other than "
                f"{', '.join(BUILTIN_VARIABLES)}; the tool's result is given to later steps under it"
            )
        out = {"name": name, "args": _args(f.get("args"), f"{where}: args"), "as": target}
    elif kind == RENDER:
        out = {"prompt": _ref(f.get("prompt"), "prompt", f"{where}: prompt")}
    elif kind == GENERATE:
        model = f.get("model")
        out = {
            "model": None if model is None else _ref(model, "model", f"{where}: model"),
            "params": mapping_field(f.get("params"), f"{where}: params"),
        }
    else:  # AGENT
        names = f.get("tools")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidError(f"{where}: tools must be a non-empty list of tool names from `tools:`")
        missing = [n for n in names if n not in tool_names]
        if missing:
            have = ", ".join(sorted(tool_names)) or "none"
            raise InvalidError(f"{where}: tools {', '.join(missing)} are not defined under `tools:` (defined: {have})")
        prompt = f.get("prompt")
        out = {
            "model": _ref(f.get("model"), "model", f"{where}: model"),
            "tools": list(dict.fromkeys(names)),
            "max_steps": _int(f.get("max_steps", DEFAULT_MAX_STEPS), f"{where}: max_steps", 1, MAX_AGENT_STEPS),
            "prompt": None if prompt is None else _ref(prompt, "prompt", f"{where}: prompt"),
            "params": mapping_field(f.get("params"), f"{where}: params"),
        }
    return Step(i, kind, out)


def _check_order(steps: tuple[Step, ...], source: str) -> None:
    """guard_input? (retrieve | tool)* render? (generate | agent) guard_output?"""
    answers = [s for s in steps if s.kind in (GENERATE, AGENT)]
    if len(answers) != 1:
        raise InvalidError(
            f"{source}: an app has exactly one answering step (generate or agent); it has {len(answers)}"
            + (f" (at {', '.join(s.where for s in answers)})" if answers else "; add `- generate: {model: ...}`")
        )
    answer = answers[0]
    for s in steps:
        if s.kind == GUARD_INPUT and s.index != 0:
            raise InvalidError(
                f"{source}: {s.where} must be the first step: it checks the question before anything runs"
            )
        if s.kind == GUARD_OUTPUT and s.index != len(steps) - 1:
            raise InvalidError(f"{source}: {s.where} must be the last step: it checks the answer")
        if s.kind in (RETRIEVE, TOOL, RENDER) and s.index > answer.index:
            raise InvalidError(
                f"{source}: {s.where} comes after the answering step {answer.where}, where its result is never used; "
                "move it before"
            )
    renders = [s for s in steps if s.kind == RENDER]
    if len(renders) > 1:
        raise InvalidError(f"{source}: at most one render step; there are {len(renders)} ({renders[1].where} is extra)")
    if renders:
        r = renders[0]
        late = [s for s in steps if s.kind in (RETRIEVE, TOOL) and s.index > r.index]
        if late:
            raise InvalidError(
                f"{source}: {late[0].where} comes after {r.where}, so the prompt never sees its result; move it before"
            )
        if answer.kind == AGENT:
            raise InvalidError(
                f"{source}: {r.where} before an agent step: the agent renders its own `prompt:`; drop the render step"
            )
    if answer.kind == GENERATE and answer.fields["model"] is None and not renders:
        raise InvalidError(
            f"{source}: {answer.where}: model is required when no render step comes before it "
            "(with one, the prompt's own `model:` is used)"
        )


# -- tools -----------------------------------------------------------------------------------------


def _tools(raw: Any, source: str) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidError(f"{source}: `tools:` must be a list of tools ({{name: ..., python: module:function}})")
    out: list[ToolSpec] = []
    for i, t in enumerate(raw):
        where = f"{source}: tools[{i}]"
        if not isinstance(t, Mapping):
            raise InvalidError(f"{where} must be a mapping with name and one of python, entry_point, http")
        unknown = sorted(map(str, set(t) - set(_TOOL_FIELDS)))
        if unknown:
            raise InvalidError(f"{where} has unknown fields: {', '.join(unknown)}; allowed: {', '.join(_TOOL_FIELDS)}")
        name = validate_name(t.get("name"), f"{where}: name")  # type: ignore[arg-type]
        where = f"{source}: tools[{i}] ({name})"
        if name in {x.name for x in out}:
            raise InvalidError(f"{where}: a tool named {name!r} is defined twice")
        kinds = [k for k in ("python", "entry_point", "http") if k in t]
        if len(kinds) != 1:
            raise InvalidError(f"{where} needs exactly one of python (module:function), entry_point (name) or http")
        timeout = t.get("timeout_s", DEFAULT_TOOL_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TOOL_TIMEOUT_S:
            raise InvalidError(f"{where}: timeout_s must be a number of seconds in (0, {MAX_TOOL_TIMEOUT_S:g}]")
        description = t.get("description", "")
        if not isinstance(description, str):
            raise InvalidError(f"{where}: description must be a string")
        kind = kinds[0]
        value = t[kind]
        if kind == "python":
            if not isinstance(value, str) or not _IMPORT_PATH.match(value):
                raise InvalidError(f"{where}: python must be an import path module:function, not {value!r}")
            out.append(ToolSpec(name, kind, value, timeout_s=float(timeout), description=description))
        elif kind == "entry_point":
            if not isinstance(value, str) or not value.strip():
                raise InvalidError(f"{where}: entry_point must name an entry point of group {TOOL_GROUP}")
            target = value if ":" in value else f"{TOOL_GROUP}:{value}"
            out.append(ToolSpec(name, kind, target, timeout_s=float(timeout), description=description))
        else:
            out.append(_http_tool(name, value, where, float(timeout), description))
    return tuple(out)


def _http_tool(name: str, raw: Any, where: str, timeout: float, description: str) -> ToolSpec:
    if not isinstance(raw, Mapping):
        raise InvalidError(f"{where}: http must be a mapping {{url: ..., method: GET|POST}}")
    unknown = sorted(map(str, set(raw) - set(_HTTP_FIELDS)))
    if unknown:
        raise InvalidError(
            f"{where}: http has unknown fields: {', '.join(unknown)}; allowed: {', '.join(_HTTP_FIELDS)}"
        )
    url = raw.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidError(f"{where}: http.url must start with http:// or https://, not {url!r}")
    method = raw.get("method", "POST")
    method = _choice(method.upper() if isinstance(method, str) else method, HTTP_METHODS, f"{where}: http.method")
    headers = raw.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidError(f"{where}: http.headers must map header names to strings")
    return ToolSpec(name, "http", url, method, dict(headers), timeout, description)


# -- values ------------------------------------------------------------------------------------------


def _ref(value: Any, kind: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidError(f"{where} is required: a reference such as {kind}/NAME@production or {kind}/NAME:1")
    try:
        return parse_ref(value, kind).text
    except InvalidError as exc:
        raise InvalidError(f"{where}: {exc.message}") from None


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidError(f"{where} must be a whole number from {lo} to {hi}, not {value!r}")
    return value


def _choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise InvalidError(f"{where} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def mapping_field(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidError(f"{where} must be a mapping of names to values")
    return dict(value)


def _args(value: Any, where: str) -> dict[str, Any]:
    out = mapping_field(value, where)
    bad = [k for k in out if not _VARIABLE.match(k)]
    if bad:
        raise InvalidError(f"{where}: argument names must be identifiers, not {', '.join(map(repr, bad))}")
    return out


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}
