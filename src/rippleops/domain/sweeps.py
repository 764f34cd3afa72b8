"""Sweep specs (pure): which knobs of an app to vary, over which values, how to search them,
and how a point's knob values turn the base app's spec into a candidate version's spec.

A sweep file (YAML or JSON)::

    app: app/support-bot@production      # the base version; candidates are new versions of app/support-bot
    suite: suite/support-qa              # scores every point
    grid:
      k: [1, 2, 4]                       # retrieve step
      mode: [vector, hybrid]             # retrieve step
      chunk_size: [400, 800]             # rebuilds the retrieve step's index with this chunk size
      prompt: [prompt/answer:1, prompt/answer:2]   # render step
      model: [model/local-smollm@production]       # generate step
      temperature: [0.0, 0.7]            # generate params
      max_tokens: [32, 64]               # generate params
    method: grid                         # grid (every combination) | optuna (TPE over the same values)
    trials: 8                            # optuna: how many points to try
    objective: rouge_l                   # quality metric (default: the suite's first metric)
    max_points: 50                       # a grid larger than this is refused
    storage: null                        # optuna: an RDB storage URL, to share one study between workers
    seed: 0

>>> spec = parse_sweep_spec({"app": "app/bot", "suite": "suite/qa", "grid": {"k": [1, 2], "mode": ["vector"]}})
>>> grid_points(spec)
[{'k': 1, 'mode': 'vector'}, {'k': 2, 'mode': 'vector'}]
>>> parse_grid_flag("temperature=0,0.5")
('temperature', [0.0, 0.5])
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rippleops.domain.apps import AGENT, GENERATE, RENDER, RETRIEVE, SEARCH_MODES
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError

KNOBS: tuple[str, ...] = ("k", "mode", "chunk_size", "prompt", "model", "temperature", "max_tokens")
METHODS = ("grid", "optuna")
MAX_POINTS = 50
MAX_TRIALS = 500
SPEC_KEYS = ("app", "suite", "grid", "method", "trials", "objective", "max_points", "storage", "seed", "study")


@dataclass(frozen=True)
class SweepSpec:
    app: str
    suite: str
    grid: dict[str, list[Any]]
    method: str = "grid"
    trials: int | None = None
    objective: str | None = None
    max_points: int = MAX_POINTS
    storage: str | None = None
    seed: int = 0
    study: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app, "suite": self.suite, "grid": {k: list(v) for k, v in self.grid.items()},
            "method": self.method, "trials": self.trials, "objective": self.objective,
            "max_points": self.max_points, "storage": self.storage, "seed": self.seed, "study": self.study,
        }  # fmt: skip

    @property
    def size(self) -> int:
        """How many distinct points the grid spans."""
        return math.prod(len(v) for v in self.grid.values())


def knob_value(knob: str, value: Any) -> Any:
    """One knob value checked and normalised (``"2"`` from a command line becomes ``2``)."""
    text = value.strip() if isinstance(value, str) else value
    try:
        if knob in ("k", "chunk_size", "max_tokens"):
            number = int(text)
            if isinstance(text, float | bool) or number < 1:
                raise ValueError
            return number
        if knob == "temperature":
            real = float(text)
            if isinstance(text, bool) or not 0.0 <= real <= 2.0:
                raise ValueError
            return real
    except (TypeError, ValueError):
        what = "a number from 0 to 2" if knob == "temperature" else "a positive whole number"
        raise InvalidError(f"sweep knob {knob}: {value!r} is not {what}") from None
    if knob == "mode":
        if text not in SEARCH_MODES:
            raise InvalidError(f"sweep knob mode: {value!r} is not a search mode; modes: {', '.join(SEARCH_MODES)}")
        return text
    if knob in ("prompt", "model"):
        if not isinstance(text, str):
            raise InvalidError(f"sweep knob {knob}: {value!r} is not a reference such as {knob}/answer:2")
        return parse_ref(text, knob).text
    raise InvalidError(f"unknown sweep knob {knob!r}; knobs: {', '.join(KNOBS)}")


def parse_grid_flag(text: str) -> tuple[str, list[Any]]:
    """``k=1,2,4`` (a ``--grid`` flag) -> ``("k", [1, 2, 4])``."""
    knob, sep, values = text.partition("=")
    knob = knob.strip()
    if not sep or not knob or not values.strip():
        raise InvalidError(f"--grid {text!r}: write KNOB=V1,V2 such as k=1,2,4 or mode=vector,hybrid")
    return knob, _values(knob, [v for v in values.split(",") if v.strip()])


def _values(knob: str, raw: Any) -> list[Any]:
    if knob not in KNOBS:
        raise InvalidError(f"unknown sweep knob {knob!r}; knobs: {', '.join(KNOBS)}")
    items = raw if isinstance(raw, list | tuple) else [raw]
    if not items:
        raise InvalidError(f"sweep knob {knob} has no values; give at least one")
    out: list[Any] = []
    for item in items:
        value = knob_value(knob, item)
        if value not in out:
            out.append(value)
    return out


def parse_sweep_spec(data: Mapping[str, Any]) -> SweepSpec:
    """A sweep spec from its file or request body, checked (knob values, method, sizes)."""
    if not isinstance(data, Mapping):
        raise InvalidError("a sweep spec is a mapping with app, suite and grid; see docs/sweeps.md")
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise InvalidError(f"a sweep spec does not take {', '.join(unknown)}; it takes {', '.join(SPEC_KEYS)}")
    app, suite = data.get("app"), data.get("suite")
    if not isinstance(app, str) or not isinstance(suite, str):
        raise InvalidError("a sweep needs `app` (app/support-bot@production) and `suite` (suite/support-qa)")
    grid_in = data.get("grid") or {}
    if not isinstance(grid_in, Mapping) or not grid_in:
        raise InvalidError(
            f"a sweep needs a `grid` of knobs and their values, such as k: [1, 2, 4]; knobs: {', '.join(KNOBS)}"
        )
    grid = {str(knob): _values(str(knob), raw) for knob, raw in grid_in.items()}
    method = data.get("method") or "grid"
    if method not in METHODS:
        raise InvalidError(f"sweep method {method!r} is unknown; methods: {', '.join(METHODS)}")
    max_points = _whole(data.get("max_points"), "max_points", MAX_POINTS, 100_000)
    trials = data.get("trials")
    if method == "optuna":
        trials = _whole(trials, "trials", min(20, MAX_TRIALS), MAX_TRIALS)
    elif trials is not None:
        raise InvalidError("`trials` is for --method optuna; a grid sweep runs every combination")
    spec = SweepSpec(
        app=parse_ref(app, "app").text, suite=parse_ref(suite, "suite").text, grid=grid, method=method, trials=trials,
        objective=_optional_str(data.get("objective"), "objective"), max_points=max_points,
        storage=_optional_str(data.get("storage"), "storage"), seed=_whole(data.get("seed"), "seed", 0, 2**31, low=0),
        study=_optional_str(data.get("study"), "study"),
    )  # fmt: skip
    if spec.storage is not None and method != "optuna":
        raise InvalidError("`storage` is an Optuna storage URL; it needs --method optuna")
    count = spec.size if method == "grid" else min(spec.size, trials or 0)
    if count > max_points:
        raise InvalidError(
            f"this sweep has {count} points, more than {max_points}; narrow the grid, use --method optuna "
            f"--trials N, or allow it with --max-points {count}"
        )
    return spec


def _whole(value: Any, name: str, default: int, high: int, *, low: int = 1) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidError(f"sweep `{name}` must be a whole number from {low} to {high}, not {value!r}")
    return value


def _optional_str(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidError(f"sweep `{name}` must be a non-empty string")
    return value.strip()


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first knob varying slowest."""
    knobs = list(spec.grid)
    return [dict(zip(knobs, combo, strict=True)) for combo in itertools.product(*(spec.grid[k] for k in knobs))]


def knob_label(knobs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in knobs.items())


def _step(steps: list[dict[str, Any]], kinds: Sequence[str], knob: str) -> dict[str, Any]:
    for step in steps:
        kind = next(iter(step))
        if kind in kinds:
            fields: dict[str, Any] = step[kind]
            return fields
    raise InvalidError(f"sweep knob {knob} needs a {' or '.join(kinds)} step, and the app has none")


def retrieve_index(content: Mapping[str, Any]) -> str:
    """The index reference of the app's first retrieve step (what ``chunk_size`` rebuilds)."""
    steps = list(content.get("steps") or [])
    return str(_step(steps, (RETRIEVE,), "chunk_size")["index"])


def apply_knobs(content: Mapping[str, Any], knobs: Mapping[str, Any], *, index: str | None = None) -> dict[str, Any]:
    """The base app content with a point's knob values applied (the base is not changed).

    ``index`` is the exact index version built for the point's ``chunk_size``; ``k``, ``mode``
    and it go to every retrieve step, ``prompt`` to the render step (or the agent's prompt),
    ``model``, ``temperature`` and ``max_tokens`` to the generate (or agent) step."""
    out = copy.deepcopy(dict(content))
    steps: list[dict[str, Any]] = out.get("steps") or []
    retrieves = [s[RETRIEVE] for s in steps if RETRIEVE in s]
    for knob, value in knobs.items():
        if knob in ("k", "mode", "chunk_size"):
            if not retrieves:
                raise InvalidError(f"sweep knob {knob} needs a retrieve step, and the app has none")
            for fields in retrieves:
                if knob == "chunk_size":
                    if index is None:
                        raise InvalidError("sweep knob chunk_size needs the index version built for it")
                    fields["index"] = index
                else:
                    fields[knob] = value
        elif knob == "prompt":
            _step(steps, (RENDER, AGENT), knob)["prompt"] = value
        elif knob == "model":
            _step(steps, (GENERATE, AGENT), knob)["model"] = value
        elif knob in ("temperature", "max_tokens"):
            fields = _step(steps, (GENERATE, AGENT), knob)
            fields["params"] = {**(fields.get("params") or {}), knob: value}
        else:
            raise InvalidError(f"unknown sweep knob {knob!r}; knobs: {', '.join(KNOBS)}")
    return out
