"""The sandbox that renders templates: Jinja's immutable sandbox plus deadline and size limits.

Rendering runs in Jinja's immutable sandbox with StrictUndefined and includes from a given mapping only
(never files). On top of it, every loop item, call, filter and output chunk checks a per-render deadline,
and operations that widen strings or collections (``*``, ``**``, ``+``, ``%``, ``~``, list literals,
``center``, ``replace``, ``indent``, ``format`` ...) are refused before they run when their result would
pass the output limit. :mod:`rippleops.domain.templating` builds prompts on top of it.

>>> with render_limits(max_seconds=1.0, max_output_chars=100):
...     run("", "{{ 'ab' * n }}", (), {"n": 2}, 0)
'abab'
"""

from __future__ import annotations

import functools
import math
import re
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import DictLoader, StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError, TemplateError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from rippleops.errors import InvalidError, PayloadTooLargeError

__all__ = [
    "MAX_INT_ARG",
    "MAX_OUTPUT_CHARS",
    "MAX_RENDER_SECONDS",
    "Includes",
    "compiled",
    "environment",
    "render_limits",
    "run",
    "syntax_error",
]

MAX_OUTPUT_CHARS: int = 1_000_000
MAX_RENDER_SECONDS: float = 1.0
MAX_INT_ARG: int = 100_000

Includes = tuple[tuple[str, str], ...]
_MAX_INT_BITS = 10_000  # bigger ints cannot even be printed (Python's 4,300-digit limit)
_SIZE_ARG_FILTERS = frozenset({"batch", "center", "indent", "slice", "truncate", "wordwrap", "tojson"})
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


# -- compiled templates and running them ------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def environment(includes: Includes) -> ImmutableSandboxedEnvironment:
    """The sandbox whose loader serves ``includes`` (name, source) pairs; one per distinct set."""
    return _Sandbox(dict(includes))


@functools.lru_cache(maxsize=1024)
def compiled(source: str, includes: Includes) -> Template:
    return environment(includes).from_string(source)


@contextmanager
def render_limits(max_seconds: float, max_output_chars: int) -> Iterator[None]:
    """Give the renders run inside the block a deadline ``max_seconds`` from now and an output limit."""
    token = _LIMITS.set((time.monotonic() + max_seconds, max_seconds, max_output_chars))
    try:
        yield
    finally:
        _LIMITS.reset(token)


def syntax_error(where: str, e: TemplateSyntaxError) -> InvalidError:
    return InvalidError(f"{where} line {e.lineno}: {e.message}; fix the Jinja syntax")


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
        return syntax_error(prefix + (f"include {e.name!r}" if e.name else "template"), e)
    if isinstance(e, UndefinedError):
        return InvalidError(f"{prefix}{e.message}; pass it as a variable or fix the name")
    if isinstance(e, RecursionError):
        return InvalidError(f"{prefix}the template recursed too deeply; make recursive macros and loops stop")
    return InvalidError(f"{prefix}the template failed: {type(e).__name__}: {e}")


def run(prefix: str, source: str, includes: Includes, context: dict[str, object], used: int) -> str:
    """Render ``source`` with ``context`` under the current limits, ``used`` output characters already spent.

    Every error the template can cause comes back as an InvalidError (or PayloadTooLargeError) whose
    message starts with ``prefix``.
    """
    parts: list[str] = []
    try:
        for chunk in compiled(source, includes).generate(context):
            used += len(chunk)
            _check_size(None, "the rendered output", used)
            _tick()
            parts.append(chunk)
    except (InvalidError, *_CAUGHT) as e:  # everything a template can raise, reported as a bad template
        raise _render_error(prefix, e, includes) from None
    return "".join(parts)
