"""One synthetic-data run: resolve the exact versions, plan the calls, call the model, read
and judge each candidate, and count every rejection by reason.

Determinism: every call's seed derives from the job's seed and the call's place
(:func:`~rippleops.domain.synth.call_seed`), calls run in a fixed order and candidates are
judged in that order, so a rerun with the same seed on a model that honours seeds (the local
GGUF; llama.cpp's server) yields the same rows.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from rippleops.domain import templating
from rippleops.domain.datasets import DOC_KEY
from rippleops.domain.models import LOCAL
from rippleops.domain.prompts import parse_spec_text
from rippleops.domain.records import GenerationRecord, PromptRecord, VersionRecord
from rippleops.domain.synth import (
    ALIASES,
    DEFAULT_SCHEMAS,
    LINE_PREFIXES,
    OVER_LIMIT,
    REASONS,
    TRUNCATED,
    UNPARSEABLE,
    SynthSpec,
    check_output_schema,
    effective_rules,
    grammar_schema,
)
from rippleops.domain.synth_dedupe import Deduper
from rippleops.domain.synth_output import apply_aliases, as_text, check_record, extract_json, parse_lines, plain_text
from rippleops.domain.synth_plan import (
    ID,
    SEED_ID,
    SynthCall,
    build_row,
    classify_calls,
    custom_calls,
    group_by_label,
    identity_text,
    paraphrase_calls,
    qa_calls,
)
from rippleops.domain.synth_plan import output_key as plan_output_key
from rippleops.errors import InvalidError, NotFoundError
from rippleops.runtime.executor import JobCancelled, JobContext
from rippleops.services.assets import InputSpec
from rippleops.services.job_env import JobEnv

if TYPE_CHECKING:
    import pyarrow as pa

TEMPLATE_PREFIX = "synth-"
#: Bump when generation changes what the same spec yields (recorded in provenance).
SYNTH_VERSION = "synth-1"
#: The variables each task gives its prompt (paraphrase and custom also give every column).
TASK_VARIABLES: dict[str, tuple[str, ...]] = {
    "qa": ("passage", "title", "doc_id", "heading", "candidate", "n"),
    "paraphrase": ("text", "candidate", "n"),
    "classify": ("label", "labels", "examples", "candidate", "n"),
    "custom": ("text", "candidate", "n"),
}
EXAMPLES_PER_REASON = 3  # rejected candidates logged per reason (all are counted)
READ_BATCH = 1024


def builtin_template(task: str) -> str:
    """The YAML of a task's built-in prompt template (package data)."""
    path = resources.files("rippleops").joinpath("synth_templates", f"{task}.yaml")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidError(f"task {task} has no built-in template; pass a prompt asset with --prompt") from None


def columns_of(record: VersionRecord) -> list[str]:
    return [str(c["name"]) for c in record.content.get("schema") or []]


def seed_id_column(spec: SynthSpec, source: VersionRecord) -> str | None:
    """The column naming each seed row: the spec's, else the source's key, else doc_id."""
    if spec.id_column:
        return spec.id_column
    key = source.content.get("key")
    if key:
        return str(key)
    return DOC_KEY if DOC_KEY in columns_of(source) else None


def prompt_variables(prompt: PromptRecord) -> set[str]:
    """The variables a prompt version takes (declared, else inferred from its template)."""
    if prompt.variables:
        return set(prompt.variables)
    return templating.infer_variables(prompt.type, prompt.template, prompt.messages, prompt.includes)


def output_key(spec: SynthSpec, source: VersionRecord) -> str:
    key = source.content.get("key")
    return plan_output_key(spec, str(key) if key else None)


class Resolved:
    """The exact versions a run uses, resolved once when it starts."""

    def __init__(self, env: JobEnv, spec: SynthSpec) -> None:
        services, p, project = env.services, env.principal, env.project
        self.spec = spec
        self.source = services.datasets.get(p, project, spec.source)
        self.model = services.models.get(p, project, spec.model)
        self.builtin = spec.prompt is None
        if spec.prompt is not None:
            self.prompt = services.prompts.get(p, project, spec.prompt)
        else:
            name = TEMPLATE_PREFIX + spec.task
            template = parse_spec_text(builtin_template(spec.task), f"built-in template {name}")
            self.prompt = services.prompts.create(p, project, name, template)
        try:
            self.target: VersionRecord | None = services.datasets.get(p, project, f"dataset/{spec.into}")
        except NotFoundError:
            self.target = None
        self.id_column = seed_id_column(spec, self.source)
        schema = spec.output_schema or self.prompt.output_schema or DEFAULT_SCHEMAS[spec.task]
        self.schema = check_output_schema(schema)

    def inputs(self) -> list[InputSpec]:
        """Lineage: the seed dataset, the prompt and the model, as exact versions."""
        return [InputSpec(self.source.ref, "seed"), InputSpec(self.prompt.ref, "prompt"),
                InputSpec(self.model.ref, "generator")]  # fmt: skip


class SynthRun:
    """Makes the calls of one run and keeps the accepted rows and the counts."""

    def __init__(self, env: JobEnv, resolved: Resolved, ctx: JobContext) -> None:
        import jsonschema

        self.env, self.r, self.ctx = env, resolved, ctx
        self.spec = resolved.spec
        self.rules = effective_rules(self.spec, resolved.schema)
        self.validator = jsonschema.validators.validator_for(resolved.schema)(resolved.schema)
        self.variables = prompt_variables(resolved.prompt)
        self.json_schema = self._constraint()
        self.rows: list[dict[str, Any]] = []
        self.rejected: Counter[str] = Counter()
        self.logged: Counter[str] = Counter()
        self.generated = self.calls = self.prompt_tokens = self.completion_tokens = 0
        self.cost = 0.0
        self.started = time.monotonic()
        self.deduper = Deduper(self.spec.dedupe.near_threshold)

    def _constraint(self) -> dict[str, Any] | None:
        mode = self.spec.constrained
        if mode == "off" or (mode == "auto" and self.r.model.content.get("provider") != LOCAL):
            return None
        return grammar_schema(self.r.schema)

    # -- reading the seed and the existing rows ------------------------------------------------

    def _batches(self, ref: str, columns: list[str] | None) -> Iterator[dict[str, Any]]:
        datasets = self.env.services.datasets
        for batch in datasets.iter_batches(self.env.principal, self.env.project, ref, columns=columns,
                                           batch_size=READ_BATCH):  # fmt: skip
            yield from batch.to_pylist()

    def _seed_rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        spec = self.spec
        limit = spec.max_seeds
        columns = None
        if spec.task == "qa":
            have = columns_of(self.r.source)
            columns = [c for c in (self.r.id_column, spec.text_column, "title") if c and c in have]
        for number, row in enumerate(self._batches(self.r.source.ref, columns), 1):
            if limit is not None and number > limit:
                return
            yield number, row

    def _load_existing(self) -> None:
        spec, against = self.spec, set(self.spec.dedupe.against)
        if "source" in against and spec.task != "qa":
            for row in self._batches(self.r.source.ref, [spec.text_column]):
                text = row.get(spec.text_column)
                if isinstance(text, str):
                    self.deduper.add_existing(identity_text(spec.task, {"text": text}, spec.dedupe.fields))
        if "target" in against and self.r.target is not None:
            for row in self._batches(self.r.target.ref, None):
                self.deduper.add_existing(identity_text(spec.task, self._as_record(row), spec.dedupe.fields))
        if self.deduper.size:
            self.ctx.log(f"deduplicating against {self.deduper.size} existing texts")

    def _as_record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """An existing row in the shape of a model's record (for duplicate checks)."""
        if self.spec.task == "qa":
            return {"question": row.get("query"), "answer": row.get("answer")}
        if self.spec.task in ("paraphrase", "classify"):
            return {"text": row.get(self.spec.text_column)}
        return {k: v for k, v in row.items() if k not in (ID, SEED_ID)}

    def _plan(self) -> tuple[Iterator[SynthCall], int]:
        spec = self.spec
        seeds = int(self.r.source.content.get("rows") or 0)
        if spec.max_seeds is not None:
            seeds = min(seeds, spec.max_seeds)
        if spec.task == "classify":
            by_label = group_by_label((row for _, row in self._seed_rows()), spec)
            missing = [lb for lb in spec.labels or [] if lb not in by_label]
            if missing:
                self.ctx.log(f"no seed examples for labels {', '.join(missing)}; their prompts show none", "warning")
            labels = spec.labels or list(by_label)
            if not labels:
                raise InvalidError(f"{self.r.source.ref} has no rows with both a text and a label to learn from")
            return classify_calls(by_label, spec), len(labels) * spec.n
        plan = {"qa": qa_calls, "paraphrase": paraphrase_calls, "custom": custom_calls}[spec.task]
        return plan(self._seed_rows(), spec, self.r.id_column), seeds * spec.n

    # -- generating --------------------------------------------------------------------------------

    def generate(self) -> pa.Table | None:
        """Run every planned call (or until ``max_rows`` rows are accepted); the accepted rows
        as a table, or None when there are none."""
        self._load_existing()
        calls, total = self._plan()
        limit = self.spec.max_rows
        self.ctx.progress(0, total, "generating")
        for call in calls:
            if self.ctx.cancelled():
                raise JobCancelled()
            generation = self._call(call)
            self._judge(call, generation)
            self.ctx.progress(
                self.calls, max(total, self.calls), f"{self.generated} generated, {len(self.rows)} accepted"
            )
            if limit is not None and len(self.rows) >= limit:
                self.ctx.log(f"max_rows {limit} reached after {self.calls} calls")
                break
        self.ctx.progress(self.calls, self.calls, f"{self.generated} generated, {len(self.rows)} accepted")
        self.ctx.log(self.summary())
        if not self.rows:
            return None
        return rows_table(self.rows)

    def _call(self, call: SynthCall) -> GenerationRecord:
        services, p, project = self.env.services, self.env.principal, self.env.project
        values = {k: v for k, v in call.values.items() if k in self.variables}
        params = {"temperature": self.spec.params.temperature, "top_p": self.spec.params.top_p,
                  "max_tokens": self.spec.params.max_tokens, "seed": call.seed}  # fmt: skip
        prompt, model_call = services.prompt_runs.prepare(
            p, project, self.r.prompt.ref, values, self.r.model.ref, params
        )
        # the job's own choice (spec.constrained) over what the prompt run would do
        sampling = {k: v for k, v in model_call.sampling.items() if k != "json_schema"}
        if self.json_schema is not None:  # the providers take json_schema= (constrained decoding)
            sampling["json_schema"] = self.json_schema
        params = {k: v for k, v in model_call.params.items() if k != "constrained"}
        model_call = dataclasses.replace(model_call, sampling=sampling, params=params)
        generation = services.models.complete(model_call, prompt=prompt.ref)
        self.calls += 1
        self.prompt_tokens += generation.usage.prompt_tokens
        self.completion_tokens += generation.usage.completion_tokens
        self.cost += generation.cost.total
        return generation

    def _records(self, text: str) -> list[dict[str, Any]]:
        task = self.spec.task
        records: list[dict[str, Any]] = extract_json(text)
        if not records:
            records = list(parse_lines(text, LINE_PREFIXES[task]))
        if not records and task in ("paraphrase", "classify") and self.json_schema is None:
            records = list(plain_text(text))
        return [apply_aliases(r, ALIASES[task]) for r in records]

    def _judge(self, call: SynthCall, generation: GenerationRecord) -> None:
        records = self._records(generation.text)
        if not records:
            self.generated += 1
            reason = TRUNCATED if generation.finish_reason == "length" else UNPARSEABLE
            self._reject(reason, "no record in the reply", generation.text)
            return
        limit = self.spec.max_rows
        for index, record in enumerate(records):
            self.generated += 1
            if limit is not None and len(self.rows) >= limit:
                self._reject(OVER_LIMIT, f"max_rows {limit} reached", json.dumps(record, ensure_ascii=False))
                continue
            verdict = check_record(record, self.rules, validator=self.validator, passage=call.passage, seeds=call.seeds)
            identity = identity_text(self.spec.task, record, self.spec.dedupe.fields)
            if verdict is None and {"batch", "source", "target"} & set(self.spec.dedupe.against):
                verdict = self._duplicate(identity)
            if verdict is not None:
                self._reject(verdict[0], verdict[1], json.dumps(record, ensure_ascii=False))
                continue
            self.rows.append(build_row(self.spec, call, record, index, output_key(self.spec, self.r.source)))
            self.deduper.add(identity)

    def _duplicate(self, identity: str) -> tuple[str, str] | None:
        verdict = self.deduper.check(identity)
        if verdict is None:
            return None
        from_batch = "this run" in verdict[1]
        if from_batch and "batch" not in self.spec.dedupe.against:
            return None
        return verdict

    def _reject(self, reason: str, detail: str, text: str) -> None:
        self.rejected[reason] += 1
        if self.logged[reason] < EXAMPLES_PER_REASON:
            self.logged[reason] += 1
            self.ctx.log(
                f"rejected ({reason}): {detail} — {text.strip()[:160]!r}", "debug" if reason == OVER_LIMIT else "info"
            )

    # -- what the run did ------------------------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        rejected = {r: self.rejected[r] for r in REASONS if self.rejected[r]}
        return {"calls": self.calls, "generated": self.generated, "accepted": len(self.rows), "rejected": rejected}

    def summary(self) -> str:
        c = self.counts()
        why = ", ".join(f"{r} {n}" for r, n in c["rejected"].items()) or "none"
        return f"{c['calls']} calls: {c['generated']} candidates generated, {c['accepted']} accepted; rejected: {why}"

    def result(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "dataset": None,
            "source": self.r.source.ref,
            "prompt": self.r.prompt.ref,
            "model": self.r.model.ref,
            "seed": self.spec.params.seed,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "cost": round(self.cost, 8),
            "seconds": round(time.monotonic() - self.started, 3),
        }

    def nothing_message(self) -> str:
        c = self.counts()
        why = ", ".join(f"{r} {n}" for r, n in c["rejected"].items()) or "no candidates"
        hint = (
            "every candidate repeats rows that exist already: use another --seed (or more --n) for new ones"
            if set(c["rejected"]) <= {"duplicate_existing"}
            else "see `ripple job logs` for examples; raise --max-tokens, loosen the rules, or try another --seed or prompt"
        )
        return f"no candidate was accepted ({why}); nothing was registered — {hint}"

    def provenance(self) -> dict[str, Any]:
        """What a generated version records about its making (no job id or times: the same
        run again gives the same provenance, so identical rows are the same version)."""
        r, spec = self.r, self.spec
        generator = {
            "kind": "synth.generate",
            "version": SYNTH_VERSION,
            "task": spec.task,
            "prompt": {"ref": r.prompt.ref, "hash": r.prompt.hash, "builtin": r.builtin},
            "model": {"ref": r.model.ref, "hash": r.model.hash},
            "seed_dataset": {"ref": r.source.ref, "hash": r.source.hash},
            "parameters": {**spec.params.model_dump(mode="json"), "constrained": self.json_schema is not None},
            "seed": spec.params.seed,
            "spec": spec.identity(),
            "output_schema": r.schema,
            "rules": self.rules.model_dump(mode="json"),
            "counts": {**self.counts(), "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens}},
        }
        license_ = spec.license or (r.source.content.get("provenance") or {}).get("license")
        return {"source": r.source.ref, "license": license_, "generator": generator}


# -- tables ---------------------------------------------------------------------------------------


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as a table; a column whose values have mixed types is kept as text."""
    import pyarrow as pa

    names: list[str] = []
    for row in rows:
        names.extend(k for k in row if k not in names)
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        kinds = {type(v) for v in values if v is not None}
        if len(kinds) > 1 or kinds - {str, int, float, bool}:
            values = [None if v is None else as_text(v) if not isinstance(v, str) else v for v in values]
        columns[name] = pa.array(values) if any(v is not None for v in values) else pa.array(values, pa.string())
    return pa.table(columns)


def append_to(existing: pa.Table, new: pa.Table, target: str) -> pa.Table:
    """The target's rows, then the new ones, in the target's schema."""
    import pyarrow as pa

    have, got = set(existing.column_names), set(new.column_names)
    if have != got:
        missing, extra = sorted(have - got), sorted(got - have)
        raise InvalidError(
            f"{target} has other columns than the generated rows (only in {target}: {', '.join(missing) or '-'}; "
            f"only in the new rows: {', '.join(extra) or '-'}); generate into another dataset with --into"
        )
    try:
        new = new.select(existing.column_names).cast(existing.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidError(f"the generated rows do not fit the column types of {target}: {exc}") from None
    return pa.concat_tables([existing, new])
