"""Prompt templates: validate them, infer their variables and render them in the sandbox.

A prompt is ``text`` (one Jinja template) or ``chat`` (a list of messages, each a template, or a
``{"placeholder": name}`` that a message history fills in). Every template renders in the sandbox of
:mod:`rippleops.domain.sandbox`: no escape, includes from a given mapping only, and limits on time and output.

>>> render("text", template="Hello {{ name }}!", values={"name": "Ada"})
'Hello Ada!'
>>> render("chat", messages=[{"role": "user", "content": "{{ q }}"}], values={"q": "Hi"})
[{'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

import functools
import json
import keyword
import math
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Undefined, meta, nodes
from jinja2.exceptions import TemplateSyntaxError

from rippleops.domain import sandbox
from rippleops.domain.sandbox import MAX_INT_ARG, MAX_OUTPUT_CHARS, MAX_RENDER_SECONDS
from rippleops.errors import InvalidError

__all__ = [
    "MAX_INT_ARG",
    "MAX_OUTPUT_CHARS",
    "MAX_RENDER_SECONDS",
    "ROLES",
    "TYPES",
    "check_syntax",
    "find_includes",
    "infer_variables",
    "normalize_messages",
    "normalize_variables",
    "render",
]

ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool", "developer")
TYPES: tuple[str, ...] = ("string", "number", "integer", "boolean", "array", "object", "messages", "any")

_RESERVED = frozenset({"true", "false", "none", "loop", "self", "caller", "varargs", "kwargs"})
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_DEFAULT_FILTERS = frozenset({"default", "d"})
_DEFINED_TESTS = frozenset({"defined", "undefined"})


# -- validation -------------------------------------------------------------------------------------------------


def _identifier(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name in _RESERVED:
        raise InvalidError(
            f"{what} {name!r} is not a valid variable name; use letters, digits and '_' (for example 'question')"
        )
    return name


def _message(item: object, where: str) -> dict[str, str]:
    if not isinstance(item, dict):
        raise InvalidError(f"{where} is a {type(item).__name__}; a message is a mapping with role and content")
    extra = sorted(map(str, set(item) - {"role", "content", "name"}))
    if extra:
        raise InvalidError(f"{where} has unknown keys {', '.join(extra)}; a message has role, content and name")
    role, content, name = item.get("role"), item.get("content"), item.get("name", "")
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidError(f"{where} has role {role!r}; roles: {', '.join(ROLES)}")
    if not isinstance(content, str) or not isinstance(name, str):
        raise InvalidError(f"{where}: content and name must be strings")
    return {"role": role, "content": content, **({"name": name} if "name" in item else {})}


def _history(name: str, value: object) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        raise InvalidError(
            f'{name!r} must be a list of messages such as [{{"role": "user", "content": "hi"}}], '
            f"not {type(value).__name__}"
        )
    return [_message(m, f"{name}[{i}]") for i, m in enumerate(value)]


def normalize_messages(messages: object) -> list[dict[str, str]]:
    """Check a chat message list and return a clean copy.

    >>> normalize_messages([{"role": "system", "content": "Be brief."}, {"placeholder": "history"}])
    [{'role': 'system', 'content': 'Be brief.'}, {'placeholder': 'history'}]
    """
    if not isinstance(messages, list) or not messages:
        raise InvalidError('a chat prompt needs a list of messages such as [{"role": "user", "content": "{{ q }}"}]')
    out: list[dict[str, str]] = []
    for i, item in enumerate(messages):
        if isinstance(item, dict) and "placeholder" in item:
            if len(item) != 1:
                raise InvalidError(f"message {i} is a placeholder and may have no other keys")
            out.append({"placeholder": _identifier(item["placeholder"], f"message {i} placeholder")})
        else:
            out.append(_message(item, f"message {i}"))
    return out


def _parse_text(vtype: str, text: str) -> object:
    """The CLI passes strings: read them as the declared type when they parse, else keep them."""
    s = text.strip()
    if vtype == "boolean":
        return _BOOLEANS.get(s.lower(), text)
    try:
        if vtype in ("integer", "number"):
            number = float(s) if vtype == "number" and re.search(r"[.eE]|inf|nan", s) else int(s)
            return number if math.isfinite(number) else text
        return json.loads(s)  # arrays, objects and message lists arrive as JSON text
    except ValueError:
        return text


def _coerce(name: str, vtype: str, value: object) -> object:
    if vtype == "any":
        return value
    if isinstance(value, str) and vtype != "string":
        value = _parse_text(vtype, value)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if vtype == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if vtype in ("array", "messages") and isinstance(value, list | tuple):
        return _history(name, value) if vtype == "messages" else list(value)
    if (
        (vtype == "string" and isinstance(value, str))
        or (vtype == "number" and number)
        or (vtype == "integer" and number and isinstance(value, int))
        or (vtype == "boolean" and isinstance(value, bool))
        or (vtype == "object" and isinstance(value, dict))
    ):
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise InvalidError(f"variable {name!r} must be of type {vtype}, got {type(value).__name__} {shown}")


def normalize_variables(raw: object) -> dict[str, dict[str, object]]:
    """Turn a variable schema (None, a list of names, or name -> spec) into its canonical form.

    >>> normalize_variables({"question": "what to answer", "n": {"type": "integer", "default": "3"}})
    {'question': {'type': 'any', 'required': True, 'description': 'what to answer'}, \
'n': {'type': 'integer', 'required': False, 'default': 3}}
    """
    if raw is None:
        return {}
    if isinstance(raw, list):
        names = [_identifier(n, "variable") for n in raw]
        if len(set(names)) != len(names):
            raise InvalidError(f"variables are listed twice in {', '.join(names)}; list each once")
        return {n: {"type": "any", "required": True} for n in names}
    if not isinstance(raw, dict):
        raise InvalidError(f"variables must be a list of names or a mapping name -> spec, not {type(raw).__name__}")
    out: dict[str, dict[str, object]] = {}
    for name, spec in raw.items():
        _identifier(name, "variable")
        spec = {} if spec is None else {"description": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict) or set(spec) - {"type", "description", "required", "default"}:
            raise InvalidError(
                f"variable {name!r}: give a description, or a mapping with type, description, required and default"
            )
        vtype, required = spec.get("type", "any"), spec.get("required", "default" not in spec)
        if vtype not in TYPES:
            raise InvalidError(f"variable {name!r} has type {vtype!r}; types: {', '.join(TYPES)}")
        if not isinstance(required, bool) or not isinstance(spec.get("description", ""), str):
            raise InvalidError(f"variable {name!r}: required must be true or false and description a string")
        entry: dict[str, object] = {"type": vtype, "required": required}
        if "description" in spec:
            entry["description"] = spec["description"]
        if "default" in spec:
            entry["default"] = None if spec["default"] is None else _coerce(name, vtype, spec["default"])
        out[name] = entry
    return out


# -- analysis ---------------------------------------------------------------------------------------------------


def _top_level_names(ast: nodes.Template) -> set[str]:
    """Names a template sets, imports or defines at its top level (meta misses them inside blocks)."""
    names: set[str] = set()
    for node in ast.body:
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            names.update(n.name for n in (node.target, *node.target.find_all(nodes.Name)) if isinstance(n, nodes.Name))
        elif isinstance(node, nodes.Import | nodes.Macro):
            names.add(node.target if isinstance(node, nodes.Import) else node.name)
        elif isinstance(node, nodes.FromImport):
            names.update(n if isinstance(n, str) else n[1] for n in node.names)
    return names


def _optional_names(ast: nodes.Template) -> set[str]:
    """Names the template tests with ``is defined``, or reads only through ``default``: it copes without them.

    A name also read bare (``{{ x }} {{ x | default(1) }}``) is not optional.
    """
    tests, filters = ast.find_all(nodes.Test), ast.find_all(nodes.Filter)
    tested = {t.node.name for t in tests if t.name in _DEFINED_TESTS and isinstance(t.node, nodes.Name)}
    defaulted = [f.node for f in filters if f.name in _DEFAULT_FILTERS and isinstance(f.node, nodes.Name)]
    fallback_uses = {id(d) for d in defaulted}
    bare = {n.name for n in ast.find_all(nodes.Name) if n.ctx == "load" and id(n) not in fallback_uses}
    return tested | ({d.name for d in defaulted} - bare)


@functools.lru_cache(maxsize=1024)
def _analyze(source: str) -> tuple[frozenset[str], frozenset[str], tuple[str | None, ...]]:
    """The required and the optional variables of ``source``, and the names it includes."""
    ast = sandbox.environment(()).parse(source)
    undeclared = set(meta.find_undeclared_variables(ast)) - _top_level_names(ast)
    optional = undeclared & _optional_names(ast)
    return frozenset(undeclared - optional), frozenset(optional), tuple(meta.find_referenced_templates(ast))


def _prompt(
    kind: str, template: str | None, messages: list[dict[str, Any]] | None
) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """The (label, source) pairs of a prompt and, for chat, its normalized messages."""
    if kind == "text":
        if not isinstance(template, str) or messages is not None:
            raise InvalidError("a text prompt needs a template string and no messages")
        return [("template", template)], []
    if kind == "chat":
        if template is not None:
            raise InvalidError("a chat prompt has messages, not a template; drop the template")
        msgs = normalize_messages(messages)
        return [(f"message {i}", m["content"]) for i, m in enumerate(msgs) if "content" in m], msgs
    raise InvalidError(f"unknown prompt kind {kind!r}; kinds: text, chat")


def _analysis(where: str, source: str) -> tuple[frozenset[str], frozenset[str], tuple[str | None, ...]]:
    try:
        return _analyze(source)
    except TemplateSyntaxError as e:
        raise sandbox.syntax_error(where, e) from None


def check_syntax(kind: str, template: str | None, messages: list[dict[str, Any]] | None) -> None:
    """Raise InvalidError naming the message, the line and Jinja's message on a syntax error.

    >>> check_syntax("text", "{{ a }", None)
    Traceback (most recent call last):
    rippleops.errors.InvalidError: template line 1: unexpected '}'; fix the Jinja syntax
    """
    for where, source in _prompt(kind, template, messages)[0]:
        try:
            sandbox.environment(()).compile(source)
        except TemplateSyntaxError as e:
            raise sandbox.syntax_error(where, e) from None


def find_includes(kind: str, template: str | None, messages: list[dict[str, Any]] | None) -> list[str]:
    """Sorted names the prompt includes, imports or extends.

    >>> find_includes("text", '{% include "prompt/system@production" %}{{ q }}', None)
    ['prompt/system@production']
    """
    names: set[str] = set()
    for where, source in _prompt(kind, template, messages)[0]:
        refs = _analysis(where, source)[2]
        if None in refs:
            raise InvalidError(f'{where}: include names must be literal references such as "prompt/system@production"')
        names.update(r for r in refs if r is not None)
    return sorted(names)


def _infer(
    sources: list[tuple[str, str]], msgs: list[dict[str, str]], includes: Mapping[str, str]
) -> tuple[set[str], set[str]]:
    """The required and the optional variables; a variable one source requires is required."""
    required = {m["placeholder"] for m in msgs if "placeholder" in m}
    optional: set[str] = set()
    todo, seen = list(sources), set()
    while todo:
        where, source = todo.pop()
        needs, may_use, refs = _analysis(where, source)
        required |= needs
        optional |= may_use
        for ref in refs:
            if ref is not None and ref in includes and ref not in seen:
                seen.add(ref)
                todo.append((f"include {ref!r}", includes[ref]))
    known = set(sandbox.environment(()).globals)
    return required - known, optional - required - known


def infer_variables(
    kind: str, template: str | None, messages: list[dict[str, Any]] | None, includes: dict[str, str] | None = None
) -> set[str]:
    """Variables the prompt (and the sources of its includes) use without defining them, plus placeholders.

    This includes the optional ones, which the prompt only reads through ``default(...)`` or tests with
    ``is defined``.

    >>> sorted(infer_variables("text", "{% for d in docs %}{{ d }}{% endfor %}{{ q }}", None))
    ['docs', 'q']
    """
    sources, msgs = _prompt(kind, template, messages)
    required, optional = _infer(sources, msgs, includes or {})
    return required | optional


# -- rendering --------------------------------------------------------------------------------------------------


def _bind(schema: Mapping[str, Mapping[str, object]], values: object) -> dict[str, object]:
    """The render context: values coerced to their types, then defaults; optional variables with neither
    stay undefined (falsy, printed as nothing) so that ``default(...)`` and ``is defined`` see them missing."""
    if not isinstance(values, dict):
        raise InvalidError(f"values must be a mapping name -> value, not {type(values).__name__}")
    unknown = sorted(map(str, set(values) - set(schema)))
    if unknown:
        raise InvalidError(f"unknown variables: {', '.join(unknown)}; known variables: {', '.join(schema) or 'none'}")
    missing = [n for n, spec in schema.items() if spec.get("required", True) and n not in values]
    if missing:
        raise InvalidError(
            f"missing variables: {', '.join(missing)}; pass them as --var name=value or render(name=value)"
        )
    return {
        name: _coerce(name, str(spec.get("type", "any")), values[name])
        if name in values
        else spec.get("default", Undefined(name=name))
        for name, spec in schema.items()
    }


def render(
    kind: str,
    *,
    template: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    variables: dict[str, dict[str, Any]] | None = None,
    values: dict[str, object] | None = None,
    includes: dict[str, str] | None = None,
    max_output_chars: int = MAX_OUTPUT_CHARS,
    max_seconds: float = MAX_RENDER_SECONDS,
) -> str | list[dict[str, str]]:
    """Render a text prompt to a string or a chat prompt to a list of messages.

    ``variables`` is a schema from :func:`normalize_variables`; without one, every variable the prompt uses is
    required, except those it only reads through ``default(...)`` or tests with ``is defined``. An optional
    variable given no value and no default is undefined: falsy, printed as nothing, and ``default`` applies.
    Placeholders take their messages from ``values``; includes come from ``includes`` only.

    >>> render("text", template="Be {{ tone | default('kind') }}.", values={})
    'Be kind.'

    >>> render("chat", messages=[{"role": "system", "content": "Be {{ tone }}."}, {"placeholder": "history"}],
    ...        values={"tone": "brief", "history": [{"role": "user", "content": "Hi"}]})
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    """
    sources, msgs = _prompt(kind, template, messages)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in (includes or {}).items()):
        raise InvalidError("includes must map include names to template text")
    include_items: sandbox.Includes = tuple(sorted((includes or {}).items()))
    schema: dict[str, Mapping[str, object]] = dict(variables or {})
    if not schema:
        required, optional = _infer(sources, msgs, includes or {})
        schema = {name: {"type": "any", "required": name in required} for name in sorted(required | optional)}
    for m in msgs:
        if "placeholder" in m:
            schema.setdefault(m["placeholder"], {"type": "messages", "required": True})
    context = _bind(schema, {} if values is None else values)
    with sandbox.render_limits(max_seconds, max_output_chars):
        if kind == "text":
            return sandbox.run("", sources[0][1], include_items, context, 0)
        out: list[dict[str, str]] = []
        for i, m in enumerate(msgs):
            if "placeholder" in m:
                out.extend(_history(m["placeholder"], context[m["placeholder"]] or []))
            else:
                used = sum(len(o["content"]) for o in out)
                out.append({**m, "content": sandbox.run(f"message {i}: ", m["content"], include_items, context, used)})
        return out
