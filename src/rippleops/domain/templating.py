"""Prompt templates: validate them and render them in a sandbox no template can escape.

A prompt is ``text`` (one Jinja template) or ``chat`` (a list of messages, each a template, or a
``{"placeholder": name}`` that a message history fills in). Rendering runs in Jinja's immutable sandbox
with StrictUndefined and includes from a given mapping only (never files). On top of it, every loop item,
call, filter and output chunk checks a per-render deadline, and operations that widen strings or
collections (``*``, ``**``, ``+``, ``%``, ``~``, list literals, ``center``, ``replace``, ``indent``,
``format`` ...) are refused before they run when their result would pass the output limit.

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
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import DictLoader, StrictUndefined, Template, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from rippleops.errors import InvalidError, PayloadTooLargeError

MAX_OUTPUT_CHARS: int = 1_000_000
MAX_RENDER_SECONDS: float = 1.0
MAX_INT_ARG: int = 100_000

ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool", "developer")
TYPES: tuple[str, ...] = ("string", "number", "integer", "boolean", "array", "object", "messages", "any")

Includes = tuple[tuple[str, str], ...]
_MAX_INT_BITS = 10_000  # bigger ints cannot even be printed (Python's 4,300-digit limit)
_SIZE_ARG_FILTERS = frozenset({"batch", "center", "indent", "slice", "truncate", "wordwrap", "tojson"})
_RESERVED = frozenset({"true", "false", "none", "loop", "self", "caller", "varargs", "kwargs"})
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_CAUGHT = (TemplateError, RecursionError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError)
# (deadline, max_seconds, max_output_chars) of the render running in this context
_LIMITS: ContextVar[tuple[float, float, int]] = ContextVar(
    "rippleops_render_limits", default=(math.inf, MAX_RENDER_SECONDS, MAX_OUTPUT_CHARS)
)


# -- limits -----------------------------------------------------------------------------------------------------


def _tick() -> None:
    deadline, seconds, _ = _LIMITS.get()
    if time.monotonic() > deadline:
        raise InvalidError(f"render took longer than {seconds} s; simplify the template's loops or raise max_seconds")


def _items(container: Any) -> Iterable[Any]:
    return container.values() if isinstance(container, dict) else container


def _weight(obj: object, limit: int) -> int:
    """Rough rendered size of ``obj``, counting shared references each time; stops once past ``limit``."""
    total, stack = 0, [obj]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset | dict):
            total += 2 + 2 * len(item)  # brackets, commas and spaces; a dict's keys count as 1 each
            stack.extend(_items(item))
        else:
            total += 1
    return total


def _check_size(obj: object, what: str, size: int | None = None) -> None:
    """Refuse ``obj`` (or a predicted ``size``) when it is over the output limit."""
    limit = _LIMITS.get()[2]
    if size is None:
        size = len(obj) if isinstance(obj, str) else _weight(obj, limit) if isinstance(obj, list | tuple | dict) else 0
    if size > limit:
        raise PayloadTooLargeError(
            f"{what} would be over the output limit of {limit:,} characters; shorten it or raise max_output_chars"
        )


def _check_ints(values: Iterable[object], what: str) -> None:
    if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_INT_ARG for v in values):
        raise InvalidError(f"{what} was given a number above {MAX_INT_ARG:,}; use a smaller one")


def _check_format(fmt: object, args: Iterable[object], what: str) -> None:
    """Refuse widths over MAX_INT_ARG in ``{}`` and ``%`` formats; ``*`` and nested widths come from args."""
    if not isinstance(fmt, str):
        return
    try:
        specs = [spec or "" for _, field, spec, _ in string.Formatter().parse(fmt) if field is not None]
    except ValueError:
        specs = []  # not a valid {} format; the call itself says so
    specs += [" ".join(m) for m in _PERCENT_SPEC.findall(fmt.replace("%%", ""))]
    for spec in specs:
        if any(int(d) > MAX_INT_ARG for d in re.findall(r"\d+", spec)):
            raise InvalidError(f"{what} asks for a width above {MAX_INT_ARG:,}; use a smaller one")
        if "{" in spec or "*" in spec:  # widths taken from the arguments, maybe inside a tuple or mapping
            args = list(args)
            _check_ints([*args, *(v for a in args if isinstance(a, tuple | dict) for v in _items(a))], what)


def _check_widening(op: str, text: object, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Predict the size of the string operations that multiply their input, and refuse before they run."""
    if not isinstance(text, str):
        return
    size = 0
    if op == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        size = len(text) + text.count(args[0]) * (len(args[1]) - len(args[0]))
    elif op in ("expandtabs", "indent"):
        width = args[0] if args else kwargs.get("tabsize", kwargs.get("width", 4))
        pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        size = len(text) + text.count("\t" if op == "expandtabs" else "\n") * pad
    elif op == "join" and args and isinstance(args[0], list | tuple):
        size = _weight(args[0], _LIMITS.get()[2]) + len(text) * len(args[0])
    _check_size(None, f"{op}()", size)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1 and left.bit_length() * right > _MAX_INT_BITS:
        raise InvalidError("a ** in the template would make a number too big to print; use a smaller power")
    if operator == "*" and ints and left.bit_length() + right.bit_length() > _MAX_INT_BITS:
        raise InvalidError("a * in the template would make a number too big to print")
    limit = _LIMITS.get()[2]
    if operator == "*" and not ints:
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, str | list | tuple) and isinstance(times, int) and times > 0:
            _check_size(None, "a repetition (*)", _weight(seq, limit) * times)
    elif operator == "+" and not isinstance(left, int | float):
        _check_size(None, "a concatenation (+)", _weight(left, limit) + _weight(right, limit))
    elif operator == "%":
        _check_format(left, [right], "a % format")


# -- the sandbox ------------------------------------------------------------------------------------------------


def _finalize(value: Any) -> Any:
    _tick()
    _check_size(value, "an expression")
    return value


def _range(*args: int) -> range:
    items = range(*args)
    if -((items.start - items.stop) // items.step) > MAX_INT_ARG:  # its length; len() overflows on huge ranges
        raise InvalidError(f"range() over {MAX_INT_ARG:,} items is not allowed; loop over fewer items")
    return items


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 2 if hasattr(func, "jinja_pass_arg") else 1  # the context or environment comes before the value

    @functools.wraps(func)  # keeps jinja_pass_arg, so Jinja still passes the context
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        value: Any = args[skip - 1] if len(args) >= skip else None
        rest = args[skip:]
        if isinstance(value, types.GeneratorType):  # map/select output: measure it before join or sum
            value = list(_Sandbox.loop_guard(value))
            args = (*args[: skip - 1], value, *rest)
        if name == "format":
            _check_format(value, (*rest, *kwargs.values()), "the format filter")
        elif name in _SIZE_ARG_FILTERS:
            _check_ints((*rest, *kwargs.values()), f"the {name} filter")
        if name == "join":
            _check_widening("join", rest[0] if rest else kwargs.get("d", ""), (value,), {})
        start = kwargs["start"] if "start" in kwargs else rest[1] if len(rest) > 1 else 0
        if name == "sum" and not isinstance(start, int | float) and len(value) > 1_000:  # list + list is quadratic
            raise InvalidError("the sum filter joins at most 1,000 lists; loop over them instead")
        _check_widening(name, value, rest, kwargs)
        _check_size(None if isinstance(value, str) else value, f"the {name} filter's input")
        result = func(*args, **kwargs)
        _check_size(result, f"the {name} filter")
        return result

    return guarded


def _guard_call(attr: str, arg: nodes.Node, lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(attr, lineno=lineno), [arg], [], None, None, lineno=lineno)


class _Guards(NodeTransformer):
    """Route loops, ``~`` and collection literals through the sandbox's checks."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guard_call("loop_guard", node.iter, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guard_call("concat_guard", nodes.Tuple(node.nodes, "load", lineno=node.lineno), node.lineno)

    def _literal(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        if isinstance(node, nodes.Tuple) and node.ctx != "load":
            return node
        return _guard_call("value_guard", node, node.lineno)  # call() measures it: [x, x] may double a size

    visit_List = visit_Tuple = visit_Dict = _literal


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus deadline and size checks on every operator, call, filter and loop."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, includes: Mapping[str, str]) -> None:
        super().__init__(
            loader=DictLoader(dict(includes)),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
            finalize=_finalize,
        )
        self.globals.pop("lipsum", None)  # a text generator: no use in prompts, a cheap way to burn CPU
        self.globals["range"] = _range
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        _Guards().visit(source)  # Jinja's documented hook for a different code generation
        source.set_environment(self)
        return super()._generate(source, name, filename, defer_init)

    @staticmethod
    def loop_guard(items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            _tick()
            yield item

    @staticmethod
    def concat_guard(parts: tuple[Any, ...]) -> str:
        for part in parts:
            _check_size(part, "a ~ operand")
        texts = [str(part) for part in parts]
        _check_size(None, "a ~ concatenation", sum(map(len, texts)))
        return "".join(texts)

    @staticmethod
    def value_guard(value: Any) -> Any:
        return value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        owner, wrapped = getattr(__obj, "__self__", None), getattr(__obj, "__wrapped__", None)
        if isinstance(fmt := getattr(wrapped, "__self__", None), str):  # the sandbox's wrapper of str.format
            _check_format(fmt, (*args, *kwargs.values()), "str.format()")
        elif isinstance(owner, str):
            _check_ints((*args, *kwargs.values()), f"str.{__obj.__name__}()")
            _check_widening(__obj.__name__, owner, args, kwargs)
        for value in (*args, *kwargs.values()):
            _check_size(None if isinstance(value, str) else value, "an argument")
        result = __context.call(__obj, *args, **kwargs)
        _check_size(result, "a call's result")
        return result


@functools.lru_cache(maxsize=64)
def _sandbox(includes: Includes) -> _Sandbox:
    return _Sandbox(dict(includes))


@functools.lru_cache(maxsize=1024)
def _compiled(source: str, includes: Includes) -> Template:
    return _sandbox(includes).from_string(source)


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


@functools.lru_cache(maxsize=1024)
def _analyze(source: str) -> tuple[frozenset[str], tuple[str | None, ...]]:
    ast = _sandbox(()).parse(source)
    undeclared = set(meta.find_undeclared_variables(ast)) - _top_level_names(ast)
    return frozenset(undeclared), tuple(meta.find_referenced_templates(ast))


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


def _syntax_error(where: str, e: TemplateSyntaxError) -> InvalidError:
    return InvalidError(f"{where} line {e.lineno}: {e.message}; fix the Jinja syntax")


def _analysis(where: str, source: str) -> tuple[frozenset[str], tuple[str | None, ...]]:
    try:
        return _analyze(source)
    except TemplateSyntaxError as e:
        raise _syntax_error(where, e) from None


def check_syntax(kind: str, template: str | None, messages: list[dict[str, Any]] | None) -> None:
    """Raise InvalidError naming the message, the line and Jinja's message on a syntax error.

    >>> check_syntax("text", "{{ a }", None)
    Traceback (most recent call last):
    rippleops.errors.InvalidError: template line 1: unexpected '}'; fix the Jinja syntax
    """
    for where, source in _prompt(kind, template, messages)[0]:
        try:
            _sandbox(()).compile(source)
        except TemplateSyntaxError as e:
            raise _syntax_error(where, e) from None


def find_includes(kind: str, template: str | None, messages: list[dict[str, Any]] | None) -> list[str]:
    """Sorted names the prompt includes, imports or extends.

    >>> find_includes("text", '{% include "prompt/system@production" %}{{ q }}', None)
    ['prompt/system@production']
    """
    names: set[str] = set()
    for where, source in _prompt(kind, template, messages)[0]:
        refs = _analysis(where, source)[1]
        if None in refs:
            raise InvalidError(f'{where}: include names must be literal references such as "prompt/system@production"')
        names.update(r for r in refs if r is not None)
    return sorted(names)


def _infer(sources: list[tuple[str, str]], msgs: list[dict[str, str]], includes: Mapping[str, str]) -> set[str]:
    names = {m["placeholder"] for m in msgs if "placeholder" in m}
    todo, seen = list(sources), set()
    while todo:
        where, source = todo.pop()
        undeclared, refs = _analysis(where, source)
        names |= undeclared
        for ref in refs:
            if ref is not None and ref in includes and ref not in seen:
                seen.add(ref)
                todo.append((f"include {ref!r}", includes[ref]))
    return names - set(_sandbox(()).globals)


def infer_variables(
    kind: str, template: str | None, messages: list[dict[str, Any]] | None, includes: dict[str, str] | None = None
) -> set[str]:
    """Variables the prompt (and the sources of its includes) use without defining them, plus placeholders.

    >>> sorted(infer_variables("text", "{% for d in docs %}{{ d }}{% endfor %}{{ q }}", None))
    ['docs', 'q']
    """
    sources, msgs = _prompt(kind, template, messages)
    return _infer(sources, msgs, includes or {})


# -- rendering --------------------------------------------------------------------------------------------------


def _bind(schema: Mapping[str, Mapping[str, object]], values: object) -> dict[str, object]:
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
        name: _coerce(name, str(spec.get("type", "any")), values[name]) if name in values else spec.get("default")
        for name, spec in schema.items()
    }


def _render_error(prefix: str, e: BaseException, includes: Includes) -> InvalidError:
    if isinstance(e, InvalidError):
        return type(e)(prefix + e.message, details=e.details)
    if isinstance(e, SecurityError):
        return InvalidError(
            f"{prefix}the sandbox refused it: {str(e).rstrip('.')}; templates may use their variables only"
        )
    if isinstance(e, TemplateNotFound):
        given = ", ".join(name for name, _ in includes) or "none"
        return InvalidError(f"{prefix}include {e.name!r} was not given; includes given: {given}")
    if isinstance(e, TemplateSyntaxError):
        return _syntax_error(prefix + (f"include {e.name!r}" if e.name else "template"), e)
    if isinstance(e, UndefinedError):
        return InvalidError(f"{prefix}{e.message}; pass it as a variable or fix the name")
    if isinstance(e, RecursionError):
        return InvalidError(f"{prefix}the template recursed too deeply; make recursive macros and loops stop")
    return InvalidError(f"{prefix}the template failed: {type(e).__name__}: {e}")


def _run(prefix: str, source: str, includes: Includes, context: dict[str, object], used: int) -> str:
    parts: list[str] = []
    try:
        for chunk in _compiled(source, includes).generate(context):
            used += len(chunk)
            _check_size(None, "the rendered output", used)
            _tick()
            parts.append(chunk)
    except (InvalidError, *_CAUGHT) as e:  # everything a template can raise, reported as a bad template
        raise _render_error(prefix, e, includes) from None
    return "".join(parts)


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
    required. Placeholders take their messages from ``values``; includes come from ``includes`` only.

    >>> render("chat", messages=[{"role": "system", "content": "Be {{ tone }}."}, {"placeholder": "history"}],
    ...        values={"tone": "brief", "history": [{"role": "user", "content": "Hi"}]})
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    """
    sources, msgs = _prompt(kind, template, messages)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in (includes or {}).items()):
        raise InvalidError("includes must map include names to template text")
    include_items: Includes = tuple(sorted((includes or {}).items()))
    schema: dict[str, Mapping[str, object]] = dict(variables or {}) or {
        name: {"type": "any", "required": True} for name in sorted(_infer(sources, msgs, includes or {}))
    }
    for m in msgs:
        if "placeholder" in m:
            schema.setdefault(m["placeholder"], {"type": "messages", "required": True})
    context = _bind(schema, {} if values is None else values)
    token = _LIMITS.set((time.monotonic() + max_seconds, max_seconds, max_output_chars))
    try:
        if kind == "text":
            return _run("", sources[0][1], include_items, context, 0)
        out: list[dict[str, str]] = []
        for i, m in enumerate(msgs):
            if "placeholder" in m:
                out.extend(_history(m["placeholder"], context[m["placeholder"]] or []))
            else:
                used = sum(len(o["content"]) for o in out)
                out.append({**m, "content": _run(f"message {i}: ", m["content"], include_items, context, used)})
        return out
    finally:
        _LIMITS.reset(token)
