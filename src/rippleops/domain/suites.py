"""Suite specs: what a user writes to register a ``suite/*`` version, checked field by field.

::

    description: answers of the support bot against reference answers
    dataset: dataset/support-qa@latest      # pinned at creation (role "dataset")
    target: app                             # app | prompt | index
    columns: {input: question, expected: answer, relevant: relevant}
    metrics:
      - contains
      - {name: semantic_similarity, embedder: embedder/minilm}
    gates:
      - {metric: contains, min: 0.2}
      - {metric: latency_ms, stat: p95, max: 8000}
      - {metric: contains, max_regression: 0.05}
    baseline: production
    targets: [app/support-bot]
    concurrency: 2

Every error names the field and the way out. A version's content is
:meth:`SuiteSpec.content`: the spec with every default filled in (metric settings included),
and the columns as resolved against the pinned dataset's columns
(:func:`resolve_columns`).

>>> spec = parse_suite_spec({"dataset": "dataset/qa", "metrics": ["exact_match"],
...                          "gates": [{"metric": "exact_match", "min": 0.5}]})
>>> spec.target, [m.name for m in spec.metrics], spec.gates[0].rule
('app', ['exact_match'], 'min')
>>> [(ref, role) for ref, role in spec.refs()]
[('dataset/qa', 'dataset')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rippleops.domain.eval_metrics import ALWAYS, Metric, parse_metric
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError

TARGET_KINDS = ("app", "prompt", "index")
COLUMN_FIELDS = ("input", "expected", "contexts", "relevant", "id")
STATS = ("mean", "p50", "p95")
RULES = ("min", "max", "max_regression")
TOP_FIELDS = (
    "dataset", "target", "columns", "metrics", "gates", "baseline", "targets", "concurrency", "model",
)  # fmt: skip
META_FIELDS = ("description", "message", "tags")
DEFAULT_BASELINE = "production"
DEFAULT_CONCURRENCY = 2
MAX_CONCURRENCY = 64
MAX_METRICS = 50
#: the roles a metric's references are pinned with, by the referenced kind
NEED_ROLES = {"embedder": "embedder", "model": "judge-model", "prompt": "judge-prompt"}
#: where a column is looked for when the suite does not name it (first found wins)
COLUMN_DEFAULTS: dict[str, tuple[str, ...]] = {
    "input": ("input", "question", "query"),
    "expected": ("expected", "answer", "reference"),
    "contexts": ("contexts",),
    "relevant": ("relevant",),
    "id": ("id",),
}


@dataclass(frozen=True, slots=True)
class GateSpec:
    """One gate: ``rule`` (min | max | max_regression) with ``threshold`` on ``stat`` of ``metric``."""

    metric: str
    rule: str
    threshold: float
    stat: str = "mean"

    @property
    def name(self) -> str:
        """How the gate's metric is shown: ``rouge_l`` or ``latency_ms.p95``."""
        return self.metric if self.stat == "mean" else f"{self.metric}.{self.stat}"

    def content(self) -> dict[str, Any]:
        return {"metric": self.metric, "stat": self.stat, self.rule: self.threshold}


@dataclass(frozen=True)
class SuiteSpec:
    dataset: str  # the reference as written (normalised): dataset/support-qa
    target: str  # app | prompt | index
    metrics: tuple[Metric, ...]
    gates: tuple[GateSpec, ...] = ()
    columns: Mapping[str, str | None] = field(default_factory=dict)  # as written (None: the default)
    baseline: str = DEFAULT_BASELINE
    targets: tuple[str, ...] = ()
    concurrency: int = DEFAULT_CONCURRENCY
    model: str | None = None
    description: str | None = None
    message: str = ""
    tags: tuple[str, ...] = ()

    def content(self, columns: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        """The hashed content: every default filled in; ``columns`` as resolved, when given."""
        return {
            "dataset": self.dataset,
            "target": self.target,
            "columns": dict(columns if columns is not None else self.columns),
            "metrics": [metric_content(m) for m in self.metrics],
            "gates": [g.content() for g in self.gates],
            "baseline": self.baseline,
            "targets": list(self.targets),
            "concurrency": self.concurrency,
            "model": self.model,
        }

    def refs(self) -> list[tuple[str, str]]:
        """Every reference to pin, with its role, in spec order (each once per role)."""
        out: list[tuple[str, str]] = [(self.dataset, "dataset")]
        if self.model is not None:
            out.append((self.model, "model"))
        for metric in self.metrics:
            for need in metric.needs:
                ref = parse_ref(need).text
                item = (ref, NEED_ROLES.get(ref.split("/", 1)[0], "input"))
                if item not in out:
                    out.append(item)
        return out

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The keys the run records: the suite's metrics, then the always-recorded ones."""
        own = tuple(m.name for m in self.metrics)
        return own + tuple(a for a in ALWAYS if a not in own)

    def lower_is_better(self) -> dict[str, bool]:
        out = {a: parse_metric(a).lower_is_better for a in ALWAYS}
        out.update({m.name: m.lower_is_better for m in self.metrics})
        return out


def metric_content(metric: Metric) -> dict[str, Any]:
    """A metric as stored: its registry name, its key (when it differs) and every setting."""
    out: dict[str, Any] = {"name": metric.kind, **dict(metric.settings)}
    if metric.name != metric.kind:
        out["as"] = metric.name
    return out


def parse_suite_spec(data: Any, source: str = "suite") -> SuiteSpec:
    """Validate a mapping into a :class:`SuiteSpec`; errors name the field and the fix."""
    if not isinstance(data, Mapping):
        raise InvalidError(f"{source} must be a mapping with `dataset:` and `metrics:`, got {type(data).__name__}")
    unknown = sorted(map(str, set(data) - set(TOP_FIELDS) - set(META_FIELDS)))
    if unknown:
        allowed = ", ".join((*TOP_FIELDS, *META_FIELDS))
        raise InvalidError(f"{source} has unknown fields: {', '.join(unknown)}; allowed: {allowed}")
    dataset = _ref(data.get("dataset"), "dataset", f"{source}: dataset")
    target = data.get("target", "app")
    if target not in TARGET_KINDS:
        raise InvalidError(
            f"{source}: target must be one of {', '.join(TARGET_KINDS)} (the kind of asset it scores), not {target!r}"
        )
    metrics = _metrics(data.get("metrics"), source)
    keys = {m.name for m in metrics} | set(ALWAYS)
    raw_gates = data.get("gates") or []
    if not isinstance(raw_gates, list):
        raise InvalidError(f"{source}: gates must be a list such as [{{metric: {metrics[0].name}, min: 0.5}}]")
    gates = tuple(_gate(g, f"{source}: gates[{i}]", keys) for i, g in enumerate(raw_gates))
    baseline = data.get("baseline", DEFAULT_BASELINE)
    if not isinstance(baseline, str) or not baseline.strip() or baseline == "latest":
        raise InvalidError(f"{source}: baseline must be a label of the target (such as production), not {baseline!r}")
    targets = _targets(data.get("targets"), target, source)
    concurrency = data.get("concurrency", DEFAULT_CONCURRENCY)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidError(
            f"{source}: concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, not {concurrency!r}"
        )
    model = data.get("model")
    if model is not None:
        if target != "prompt":
            raise InvalidError(
                f"{source}: model is for target: prompt (the model to run the prompt with); leave it out for target: {target}"
            )
        model = _ref(model, "model", f"{source}: model")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidError(f"{source}: description must be a string")
    message = data.get("message", "")
    if not isinstance(message, str):
        raise InvalidError(f"{source}: message must be a string")
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidError(f"{source}: tags must be a list of strings")
    return SuiteSpec(
        dataset=dataset, target=target, metrics=metrics, gates=gates, columns=_columns(data.get("columns"), source),
        baseline=baseline, targets=targets, concurrency=concurrency, model=model, description=description,
        message=message, tags=tuple(tags),
    )  # fmt: skip


def resolve_columns(
    columns: Mapping[str, str | None], names: Sequence[str], key: str | None, source: str = "suite"
) -> dict[str, str | None]:
    """The dataset columns a suite reads, checked against the pinned dataset's ``names``:
    a column the suite names must exist; one it leaves out falls back to its defaults (the
    sample key: the ``id`` column, else the dataset's key, else the row number)."""
    have = set(names)
    out: dict[str, str | None] = {}
    for what in COLUMN_FIELDS:
        given = columns.get(what)
        if given is not None:
            if given not in have:
                raise InvalidError(
                    f"{source}: columns.{what} is {given!r}, which the dataset does not have; columns: {', '.join(names)}"
                )
            out[what] = given
        else:
            out[what] = next((c for c in COLUMN_DEFAULTS[what] if c in have), None)
    if out["id"] is None and key is not None:
        out["id"] = key
    if out["input"] is None:
        raise InvalidError(
            f"{source}: the dataset has no input column (looked for {', '.join(COLUMN_DEFAULTS['input'])}); "
            f"name it with `columns: {{input: COLUMN}}`; columns: {', '.join(names)}"
        )
    return out


# -- parts -------------------------------------------------------------------------------------------


def _metrics(raw: Any, source: str) -> tuple[Metric, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidError(
            f"{source}: metrics must be a non-empty list, such as [exact_match, {{name: regex, pattern: '^yes'}}]"
        )
    if len(raw) > MAX_METRICS:
        raise InvalidError(f"{source}: at most {MAX_METRICS} metrics, not {len(raw)}")
    out: list[Metric] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str | Mapping):
            raise InvalidError(f"{source}: metrics[{i}] must be a metric name or a mapping with `name:`, not {item!r}")
        try:
            metric = parse_metric(item)
        except InvalidError as exc:
            raise InvalidError(f"{source}: metrics[{i}]: {exc.message}") from None
        if any(m.name == metric.name for m in out):
            raise InvalidError(
                f"{source}: metrics[{i}]: a second metric named {metric.name!r}; give one of them another key with `as:`"
            )
        out.append(metric)
    return tuple(out)


def _gate(raw: Any, where: str, keys: set[str]) -> GateSpec:
    if not isinstance(raw, Mapping):
        raise InvalidError(f"{where} must be a mapping such as {{metric: rouge_l, min: 0.2}}")
    unknown = sorted(map(str, set(raw) - {"metric", "stat", *RULES}))
    if unknown:
        raise InvalidError(
            f"{where} has unknown fields: {', '.join(unknown)}; a gate takes metric, stat and one of {', '.join(RULES)}"
        )
    metric = raw.get("metric")
    if metric not in keys:
        raise InvalidError(
            f"{where}: metric must be one of the suite's metrics ({', '.join(sorted(keys))}), not {metric!r}"
        )
    rules = [r for r in RULES if r in raw]
    if len(rules) != 1:
        raise InvalidError(
            f"{where} must have exactly one of min, max or max_regression"
            + (f", not {' and '.join(rules)}" if rules else "")
            + " (write one gate per rule)"
        )
    rule = rules[0]
    threshold = raw[rule]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise InvalidError(f"{where}: {rule} must be a number, not {threshold!r}")
    if rule == "max_regression" and threshold < 0:
        raise InvalidError(
            f"{where}: max_regression must be 0 or more (how far the metric may get worse), not {threshold}"
        )
    stat = raw.get("stat", "mean")
    if stat not in STATS:
        raise InvalidError(f"{where}: stat must be one of {', '.join(STATS)}, not {stat!r}")
    return GateSpec(str(metric), rule, float(threshold), str(stat))


def _columns(raw: Any, source: str) -> dict[str, str | None]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidError(f"{source}: columns must be a mapping such as {{input: question, expected: answer}}")
    unknown = sorted(map(str, set(raw) - set(COLUMN_FIELDS)))
    if unknown:
        raise InvalidError(
            f"{source}: columns has unknown fields: {', '.join(unknown)}; allowed: {', '.join(COLUMN_FIELDS)}"
        )
    out: dict[str, str | None] = {}
    for k, v in raw.items():
        if v is not None and (not isinstance(v, str) or not v.strip()):
            raise InvalidError(f"{source}: columns.{k} must be a column name, not {v!r}")
        out[str(k)] = v
    return out


def _targets(raw: Any, kind: str, source: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidError(f"{source}: targets must be a list of {kind} assets such as [{kind}/NAME]")
    out: list[str] = []
    for i, item in enumerate(raw):
        ref = parse_ref(_ref(item, kind, f"{source}: targets[{i}]"), kind)
        if ref.label is not None or ref.version is not None:
            raise InvalidError(f"{source}: targets[{i}] names an asset, not a version: write {ref.asset}")
        if ref.asset not in out:
            out.append(ref.asset)
    return tuple(out)


def _ref(value: Any, kind: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidError(f"{where} is required: a reference such as {kind}/NAME@production or {kind}/NAME:1")
    try:
        return parse_ref(value, kind).text
    except InvalidError as exc:
        raise InvalidError(f"{where}: {exc.message}") from None
