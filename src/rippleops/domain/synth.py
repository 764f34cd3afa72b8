"""Synthetic data specs: what to generate, from which seed rows, with which prompt and model,
and the rules every generated record must pass (pure: no I/O).

A spec (the YAML of ``ripple synth run --file``, the JSON ``params`` of a ``synth.generate``
job, the keywords of ``rp.synth.generate``)::

    task: qa                       # qa | paraphrase | classify | custom
    source: dataset/docs           # the seed rows (documents for qa)
    text_column: text
    into: docs-qa                  # the dataset that receives the rows (appended when it exists)
    model: model/local-smollm
    prompt: prompt/my-qa           # optional; default: the built-in template of the task
    n: 2                           # candidates per seed row (per label for classify)
    max_rows: 100                  # stop once this many rows are accepted
    params: {temperature: 0.7, max_tokens: 160, seed: 7}
    output_schema: {type: object, properties: {question: {type: string}}, required: [question]}
    rules: {min_length: {question: 12}, answer_overlap: 0.6}
    dedupe: {against: [batch, source, target], near_threshold: 0.85}

Every rejected candidate is counted under one of :data:`REASONS`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rippleops.domain.hashing import canonical_json
from rippleops.domain.refs import parse_ref
from rippleops.errors import InvalidError

TASKS = ("qa", "paraphrase", "classify", "custom")
Task = Literal["qa", "paraphrase", "classify", "custom"]
DEDUPE_SCOPES = ("batch", "source", "target")
CONSTRAINED = ("auto", "on", "off")
MAX_N = 100
MAX_ROWS = 1_000_000

# Why a candidate was rejected (the counts a job reports, in this order).
UNPARSEABLE = "unparseable"  # no JSON object (nor the line format) in the model's text
TRUNCATED = "truncated"  # nothing parseable and the model ran out of max_tokens
SCHEMA = "schema"  # fails output_schema
EMPTY = "empty"  # a required field is missing or blank
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
NO_MATCH = "no_match"  # a field does not match its pattern (rules.match)
NOT_GROUNDED = "not_grounded"  # qa: the answer does not occur in / overlap enough with the source passage
COPY_OF_SEED = "copy_of_seed"  # paraphrase/classify: (nearly) the seed or an example again
OFF_TOPIC = "off_topic"  # too little in common with the seed (paraphrase) or the passage (a qa question)
DUPLICATE = "duplicate"  # exact duplicate (normalised) of a row accepted in this run
DUPLICATE_EXISTING = "duplicate_existing"  # exact duplicate of a row of the source or the target
NEAR_DUPLICATE = "near_duplicate"  # MinHash near-duplicate of an accepted or existing row
OVER_LIMIT = "over_limit"  # more records in one reply than max_rows still allowed
REASONS = (UNPARSEABLE, TRUNCATED, SCHEMA, EMPTY, TOO_SHORT, TOO_LONG, NO_MATCH, NOT_GROUNDED, COPY_OF_SEED,
           OFF_TOPIC, DUPLICATE, DUPLICATE_EXISTING, NEAR_DUPLICATE, OVER_LIMIT)  # fmt: skip

#: The fields a model writes, per built-in task (``custom`` takes them from its schema).
TASK_FIELDS: dict[str, tuple[str, ...]] = {"qa": ("question", "answer"), "paraphrase": ("text",),
                                           "classify": ("text",), "custom": ()}  # fmt: skip
#: Keys small models write instead of the wanted ones, per built-in task.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "qa": {"question": ("q", "query", "questions"), "answer": ("a", "response", "answers")},
    "paraphrase": {"text": ("paraphrase", "rewrite", "rewritten", "sentence", "output")},
    "classify": {"text": ("example", "sentence", "output")},
    "custom": {},
}
#: The line format a reply may use instead of JSON ("Q: ... A: ..."), per built-in task.
LINE_PREFIXES: dict[str, dict[str, tuple[str, ...]]] = {
    "qa": {"question": ("q", "question"), "answer": ("a", "answer")},
    "paraphrase": {"text": ("paraphrase", "text", "rewritten", "rewrite")},
    "classify": {"text": ("text", "example")},
    "custom": {},
}


def _string_schema(fields: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f: {"type": "string", "minLength": 1} for f in fields},
        "required": list(fields),
        "additionalProperties": False,
    }


DEFAULT_SCHEMAS: dict[str, dict[str, Any]] = {t: _string_schema(f) for t, f in TASK_FIELDS.items() if f}
DEFAULT_SCHEMAS["custom"] = {"type": "object"}


class SynthParams(BaseModel):
    """Decoding parameters of every call, and the job's seed (each call's seed derives from it)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(192, ge=1, le=100_000)
    seed: int = Field(0, ge=0, lt=2**32)


class SynthRules(BaseModel):
    """Quality rules; a field left out takes the task's default (see :func:`effective_rules`)."""

    model_config = ConfigDict(extra="forbid")

    required: list[str] | None = None  # fields that must be present and not blank
    min_length: dict[str, int] | None = None  # characters, per field
    max_length: dict[str, int] | None = None
    match: dict[str, str] | None = None  # a regular expression each field must match (re.search)
    answer_overlap: float | None = Field(None, ge=0.0, le=1.0)  # qa: share of answer words found in the passage
    question_overlap: float | None = Field(None, ge=0.0, le=1.0)  # qa: share of question words found in it
    min_seed_similarity: float | None = Field(None, ge=0.0, le=1.0)  # paraphrase: word Jaccard to the seed
    max_seed_similarity: float | None = Field(None, ge=0.0, le=1.0)  # paraphrase/classify: above it is a copy

    @field_validator("min_length", "max_length")
    @classmethod
    def _lengths(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        if v is not None and any(n < 0 for n in v.values()):
            raise ValueError("lengths are numbers of characters, at least 0")
        return v

    @field_validator("match")
    @classmethod
    def _patterns(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for field, pattern in (v or {}).items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match.{field}: {pattern!r} is not a regular expression ({exc})") from None
        return v


class SynthDedupe(BaseModel):
    """What a candidate is compared with, on which fields, and how near is a duplicate."""

    model_config = ConfigDict(extra="forbid")

    against: list[Literal["batch", "source", "target"]] = ["batch", "source", "target"]
    fields: list[str] | None = None  # default: question (qa), text (paraphrase, classify), every string (custom)
    near_threshold: float | None = Field(0.85, gt=0.0, le=1.0)  # estimated Jaccard; null: exact duplicates only


class SynthSpec(BaseModel):
    """A validated synthetic-data spec (module docstring: the fields)."""

    model_config = ConfigDict(extra="forbid")

    task: Task
    source: str
    into: str
    model: str
    prompt: str | None = None
    text_column: str = "text"
    id_column: str | None = None  # default: the source's key, else doc_id, else the row number
    label_column: str | None = None  # classify: the label of each seed row
    labels: list[str] | None = None  # classify: which labels to generate (default: all seen)
    examples_per_label: int = Field(3, ge=1, le=20)
    passage_chars: int = Field(1200, ge=100, le=20_000)  # qa: the document is cut into passages this long
    n: int = Field(1, ge=1, le=MAX_N)
    max_rows: int | None = Field(None, ge=1, le=MAX_ROWS)
    max_seeds: int | None = Field(None, ge=1, le=MAX_ROWS)
    params: SynthParams = SynthParams()
    output_schema: dict[str, Any] | None = None
    constrained: Literal["auto", "on", "off"] = "auto"
    rules: SynthRules = SynthRules()
    dedupe: SynthDedupe = SynthDedupe()
    license: str | None = None  # default: the source's license
    message: str = ""
    tags: list[str] = []

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return parse_ref(v, "dataset").text

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        return parse_ref(v, "model").text

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str | None) -> str | None:
        return None if v is None else parse_ref(v, "prompt").text

    @field_validator("into")
    @classmethod
    def _into(cls, v: str) -> str:
        ref = parse_ref(v, "dataset")
        if ref.label is not None or ref.version is not None:
            raise ValueError(f"{v!r} names a version; `into` is the dataset's name (new rows become its next version)")
        return ref.name

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else check_output_schema(v)

    @model_validator(mode="after")
    def _per_task(self) -> SynthSpec:
        if self.task == "classify" and not self.label_column:
            raise ValueError("task classify needs `label_column` (--label-column), the column that holds the labels")
        if self.task == "custom" and not self.prompt:
            raise ValueError("task custom needs `prompt` (--prompt), a prompt asset whose reply is JSON")
        if self.labels is not None and (not self.labels or not all(isinstance(x, str) and x for x in self.labels)):
            raise ValueError("labels must be a non-empty list of label names")
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        return TASK_FIELDS[self.task]

    def identity(self) -> dict[str, Any]:
        """What shapes the generated rows (recorded in provenance; metadata left out)."""
        return self.model_dump(mode="json", exclude={"message", "tags"})


def check_output_schema(schema: Any) -> dict[str, Any]:
    """A JSON schema (any draft ``jsonschema`` knows) that describes an object, or an error."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - a dependency of the data extra
        raise InvalidError("synthetic data needs the 'data' extra: pip install 'rippleops[data]'") from None
    if not isinstance(schema, Mapping):
        raise InvalidError(f"output_schema must be a JSON schema object, not {type(schema).__name__}")
    out: dict[str, Any] = dict(schema)
    validator = jsonschema.validators.validator_for(out)
    try:
        validator.check_schema(out)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise InvalidError(f"output_schema is not a valid JSON schema: {exc.message} (at {where})") from None
    kind = out.get("type")
    if kind is not None and kind != "object" and not (isinstance(kind, list) and "object" in kind):
        raise InvalidError(f"output_schema must describe a JSON object (type: object), not type {kind!r}")
    return out


def grammar_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema for constrained decoding: length and pattern limits dropped (llama.cpp turns
    a maxLength into a slow, huge grammar; the validator checks them afterwards), and each
    object's properties in the order of its ``required`` list, then as given. The grammar
    writes keys in that order, and order matters to a small model (a question written after
    its answer is a worse question); a stored schema's own key order is not kept (PostgreSQL's
    JSONB sorts keys), a list's is.

    >>> list(grammar_schema({"type": "object", "properties": {"b": {}, "a": {}}, "required": ["b", "a"]})["properties"])
    ['b', 'a']
    """
    dropped = {"minLength", "maxLength", "pattern", "format", "$schema"}

    def strip(node: Any) -> Any:
        if isinstance(node, Mapping):
            out = {k: strip(v) for k, v in node.items() if k not in dropped}
            props, required = out.get("properties"), out.get("required")
            if isinstance(props, dict) and isinstance(required, list):
                first = [k for k in required if k in props]
                out["properties"] = {k: props[k] for k in [*first, *(k for k in props if k not in first)]}
            return out
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    out: dict[str, Any] = strip(schema)
    return out


def parse_synth_spec(data: Any, source: str = "synth spec") -> SynthSpec:
    """Validate a mapping into a :class:`SynthSpec`; errors name the field and the way out."""
    if isinstance(data, SynthSpec):
        return data
    if not isinstance(data, Mapping):
        raise InvalidError(f"{source} must be a mapping with task, source, into and model; got {type(data).__name__}")
    task = data.get("task")
    if task is not None and task not in TASKS:
        raise InvalidError(f"{source}: unknown task {task!r}; tasks: {', '.join(TASKS)}")
    unknown = sorted(set(map(str, data)) - set(SynthSpec.model_fields))
    if unknown:
        raise InvalidError(
            f"{source} has unknown fields: {', '.join(unknown)}; fields: {', '.join(SynthSpec.model_fields)}"
        )
    try:
        return SynthSpec.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InvalidError(f"{source} is not valid: {problems}") from None


def parse_synth_spec_text(text: str, source: str = "synth file") -> SynthSpec:
    """A YAML (or JSON) spec."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InvalidError(f"{source} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_synth_spec(data, source)


class Rules(BaseModel):
    """The rules in effect: the spec's, with the task's defaults where it gave none."""

    required: list[str]
    min_length: dict[str, int]
    max_length: dict[str, int]
    match: dict[str, str]
    answer_overlap: float
    question_overlap: float
    min_seed_similarity: float
    max_seed_similarity: float | None


TASK_RULES: dict[str, dict[str, Any]] = {
    "qa": {
        "min_length": {"question": 10, "answer": 1},
        "max_length": {"question": 300, "answer": 500},
        "match": {"question": r"\?\s*$"},
        "answer_overlap": 0.5,
        "question_overlap": 0.3,
    },
    "paraphrase": {
        "min_length": {"text": 3},
        "max_length": {"text": 4000},
        "min_seed_similarity": 0.15,
        "max_seed_similarity": 0.9,
    },
    "classify": {"min_length": {"text": 3}, "max_length": {"text": 4000}, "max_seed_similarity": 0.9},
    "custom": {},
}


def effective_rules(spec: SynthSpec, schema: Mapping[str, Any]) -> Rules:
    """The spec's rules over the task's defaults (dicts merge per field)."""
    base = TASK_RULES[spec.task]
    given = spec.rules
    required = given.required
    if required is None:
        required = list(spec.fields) or [str(f) for f in schema.get("required", []) if isinstance(f, str)]
    return Rules(
        required=required,
        min_length={**base.get("min_length", {}), **(given.min_length or {})},
        max_length={**base.get("max_length", {}), **(given.max_length or {})},
        match={**base.get("match", {}), **(given.match or {})},
        answer_overlap=base.get("answer_overlap", 0.0) if given.answer_overlap is None else given.answer_overlap,
        question_overlap=(
            base.get("question_overlap", 0.0) if given.question_overlap is None else given.question_overlap
        ),
        min_seed_similarity=(
            base.get("min_seed_similarity", 0.0) if given.min_seed_similarity is None else given.min_seed_similarity
        ),
        max_seed_similarity=(
            base.get("max_seed_similarity") if given.max_seed_similarity is None else given.max_seed_similarity
        ),
    )


def call_seed(seed: int, *parts: Any) -> int:
    """The seed of one model call: a hash of the job's seed and the call's place (task, seed
    row, candidate number), so a rerun makes the same calls and reordering none of them.

    >>> call_seed(7, "qa", "a.md", 0) == call_seed(7, "qa", "a.md", 0) != call_seed(7, "qa", "a.md", 1)
    True
    """
    digest = hashlib.sha256(canonical_json([seed, *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def row_id(*parts: Any) -> str:
    """A generated row's id: 16 hex digits of the hash of where and what it is."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:16]
