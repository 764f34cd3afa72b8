"""The tools an app calls: Python callables (an import path or an entry point of group
``ripple.tools``) and HTTP APIs, each call bounded by the tool's ``timeout_s``.

A Python tool runs in a daemon thread of its own and is waited for up to its timeout. Python
cannot stop a thread, so a tool that hangs is *abandoned*: the call fails with an
:class:`~rippleops.errors.UnavailableError` at once, and the thread runs on in the
background until the tool returns (or the process ends). A tool that must not be left
running should bound its own work. An HTTP tool is an ``httpx`` request with the timeout
as its connect/read/write timeout (``GET``: the arguments as query parameters; ``POST``: as a
JSON body); a JSON answer is decoded, anything else is kept as text.

Callables are imported on their first call (not when the app version is created: the
machine that registers an app need not have the tools' packages).
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

import httpx

from rippleops.domain.apps import ToolSpec
from rippleops.errors import InvalidError, RippleError, UnavailableError

MAX_RESULT_CHARS = 20_000  # of a tool's result as text (what a model or a trace is given)


class Tool:
    """One tool of one app version, ready to call (its callable imported on first use)."""

    def __init__(self, spec: ToolSpec) -> None:
        self.spec = spec
        self._fn: Callable[..., Any] | None = None
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def call(self, args: Mapping[str, Any]) -> Any:
        """The tool's result for ``args`` (keyword arguments of a Python tool)."""
        if self.spec.type == "http":
            return self._call_http(dict(args))
        return self._call_python(self._callable(), dict(args))

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # -- Python -------------------------------------------------------------------------------

    def _callable(self) -> Callable[..., Any]:
        with self._lock:
            if self._fn is None:
                self._fn = self._load()
            return self._fn

    def _load(self) -> Callable[..., Any]:
        spec = self.spec
        if spec.type == "entry_point":
            group, _, name = spec.target.partition(":")
            found = list(entry_points(group=group, name=name))
            if not found:
                raise InvalidError(
                    f"tool {spec.name!r}: no entry point {name!r} in group {group!r} is installed; install the "
                    f'package that declares it ([project.entry-points."{group}"] {name} = "module:function")'
                )
            try:
                fn = found[0].load()
            except Exception as exc:  # boundary: user code imported; told as an error naming the tool
                raise InvalidError(f"tool {spec.name!r}: loading entry point {name!r} failed: {_what(exc)}") from exc
        else:
            module_name, _, attr = spec.target.partition(":")
            try:
                obj: Any = importlib.import_module(module_name)
            except ImportError as exc:
                raise InvalidError(
                    f"tool {spec.name!r}: cannot import {module_name!r} ({exc}); install it or put it on the "
                    "Python path of the process that runs the app"
                ) from exc
            except Exception as exc:  # boundary: importing user code ran it
                raise InvalidError(f"tool {spec.name!r}: importing {module_name!r} failed: {_what(exc)}") from exc
            for part in attr.split("."):
                if not hasattr(obj, part):
                    raise InvalidError(f"tool {spec.name!r}: {spec.target!r} names nothing ({part!r} is missing)")
                obj = getattr(obj, part)
            fn = obj
        if not callable(fn):
            raise InvalidError(f"tool {spec.name!r}: {spec.target!r} is a {type(fn).__name__}, not a callable")
        return fn  # type: ignore[no-any-return]

    def _call_python(self, fn: Callable[..., Any], args: dict[str, Any]) -> Any:
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = fn(**args)
            except BaseException as exc:  # boundary: user code; handed to the caller
                box["error"] = exc

        thread = threading.Thread(target=work, name=f"ripple-tool-{self.name}", daemon=True)
        thread.start()
        thread.join(self.spec.timeout_s)
        if thread.is_alive():
            raise UnavailableError(
                f"tool {self.name!r} did not finish within its timeout of {self.spec.timeout_s:g} s; the call is "
                "abandoned (its thread runs on until the tool returns); raise the tool's timeout_s or make it faster",
                details={"tool": self.name, "timeout_s": self.spec.timeout_s},
            )
        if "error" in box:
            exc = box["error"]
            if isinstance(exc, TypeError) and "argument" in str(exc):
                raise InvalidError(
                    f"tool {self.name!r} does not take these arguments ({', '.join(args) or 'none'}): {exc}",
                    details={"tool": self.name},
                ) from exc
            raise RippleError(f"tool {self.name!r} raised {_what(exc)}", details={"tool": self.name}) from exc
        return box.get("result")

    # -- HTTP -----------------------------------------------------------------------------------

    def _call_http(self, args: dict[str, Any]) -> Any:
        spec = self.spec
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=spec.timeout_s, headers=spec.headers, trust_env=False)
            client = self._http
        try:
            if spec.method == "GET":
                response = client.get(spec.target, params={k: _query_value(v) for k, v in args.items()})
            else:
                response = client.post(spec.target, json=args)
        except httpx.TimeoutException as exc:
            raise UnavailableError(
                f"tool {spec.name!r}: {spec.target} did not answer within {spec.timeout_s:g} s; raise timeout_s "
                "or check the service",
                details={"tool": spec.name, "timeout_s": spec.timeout_s},
            ) from exc
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"tool {spec.name!r}: cannot reach {spec.target} ({type(exc).__name__}: {exc}); is the service running?",
                details={"tool": spec.name},
            ) from exc
        if response.status_code >= 400:
            raise RippleError(
                f"tool {spec.name!r}: {spec.target} answered {response.status_code}: {response.text[:200]}",
                details={"tool": spec.name, "status": response.status_code},
            )
        if "json" in response.headers.get("content-type", ""):
            try:
                return response.json()
            except ValueError:
                raise RippleError(f"tool {spec.name!r}: {spec.target} answered malformed JSON") from None
        return response.text


def result_text(value: Any) -> str:
    """A tool's result as the text a model (or a trace) is given, cut to a bound."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + "…"


def _query_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float) else json.dumps(value, default=str)


def _what(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
