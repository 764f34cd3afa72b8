"""Synthetic data: the ``synth.generate`` job kind. It generates records with a prompt
version and a model version from the rows of a seed dataset, keeps those that pass the
rules, the schema and deduplication, and registers them as the next version of the target
dataset, recording the generator in provenance and lineage (inputs: the seed dataset,
role ``seed``; the prompt, ``prompt``; the model, ``generator``; and the target's previous
version, ``parent``, when the rows are appended to it).

Parameters: a synth spec (:mod:`rippleops.domain.synth`). The result: ``dataset`` (the new
version), ``rows`` (in all), ``generated``, ``accepted``, ``rejected`` (count per reason),
``calls``, ``tokens``, ``cost``, ``seconds`` and the exact ``prompt``, ``model`` and
``source`` versions used. The run itself is :class:`~rippleops.services.synth_run.SynthRun`.

Built-in templates (``rippleops/synth_templates/<task>.yaml``) are registered as
``prompt/synth-<task>`` when first used, so every generated version names a prompt version
and its hash, whether the user wrote one or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rippleops.domain.records import PromptRecord, VersionRecord
from rippleops.domain.synth import SynthSpec, check_output_schema, parse_synth_spec
from rippleops.errors import InvalidError
from rippleops.runtime.executor import JobContext, JobFunction
from rippleops.services.job_env import JobEnv, JobKind
from rippleops.services.synth_run import (
    TASK_VARIABLES,
    Resolved,
    SynthRun,
    append_to,
    columns_of,
    output_key,
    prompt_variables,
)

if TYPE_CHECKING:
    import pyarrow as pa

KIND_NAME = "synth.generate"


class NothingAcceptedError(InvalidError):
    """Every candidate was rejected; ``result`` holds the counts (the failed job keeps them)."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message, details={"rejected": result["rejected"]})
        self.result = result


def check_spec(params: dict[str, Any], env: JobEnv) -> dict[str, Any]:
    """At submit time: the spec is valid and what it names exists and fits (columns, prompt
    variables), so a bad request fails at once, not halfway through a run. Returns the spec
    with every default filled in (what the job record shows and a rerun repeats)."""
    spec = parse_synth_spec(params, KIND_NAME)
    services, p, project = env.services, env.principal, env.project
    source = services.datasets.get(p, project, spec.source)
    columns = columns_of(source)
    wanted = [("text_column", spec.text_column, "--text-column")]
    if spec.label_column:
        wanted.append(("label_column", spec.label_column, "--label-column"))
    if spec.id_column:
        wanted.append(("id_column", spec.id_column, "--id-column"))
    for what, column, option in wanted:
        if column not in columns:
            raise InvalidError(
                f"{source.ref} has no column {column!r} ({what}); its columns: {', '.join(columns)}; "
                f"name the right one with {option}"
            )
    services.models.get(p, project, spec.model)
    if spec.prompt is not None:
        prompt = services.prompts.get(p, project, spec.prompt)
        if spec.output_schema is None and prompt.output_schema is not None:
            check_output_schema(prompt.output_schema)
        _check_variables(spec, prompt, columns)
    return spec.model_dump(mode="json")


def _check_variables(spec: SynthSpec, prompt: PromptRecord, columns: list[str]) -> None:
    """The prompt needs no variable the task cannot give."""
    if prompt.variables:
        needed = {n for n, v in prompt.variables.items() if v.get("required", True)}
    else:
        needed = prompt_variables(prompt)
    available = set(TASK_VARIABLES[spec.task]) | (set(columns) if spec.task in ("paraphrase", "custom") else set())
    missing = sorted(needed - available)
    if missing:
        raise InvalidError(
            f"{prompt.ref} uses variables {', '.join(missing)}, which a {spec.task} run does not give; "
            f"it gives: {', '.join(sorted(available))}"
        )


def build_job(env: JobEnv) -> JobFunction:
    def generate(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        """Generate, judge and register (see the module docstring)."""
        spec = parse_synth_spec(params, KIND_NAME)
        resolved = Resolved(env, spec)
        ctx.log(
            f"{spec.task}: {resolved.source.ref} -> dataset/{spec.into} with {resolved.model.ref} and "
            f"{resolved.prompt.ref}{' (built-in template)' if resolved.builtin else ''}, seed {spec.params.seed}"
        )
        run = SynthRun(env, resolved, ctx)
        table = run.generate()
        result = run.result()
        if table is None:
            raise NothingAcceptedError(run.nothing_message(), result)
        record = register(env, resolved, table, run.provenance(), ctx)
        result.update(dataset=record.ref, created=record.created is not False, rows=record.content.get("rows"))
        ctx.log(f"registered {record.ref}: {result['accepted']} new rows, {result['rows']} in all")
        return result

    return generate


def register(
    env: JobEnv, resolved: Resolved, table: pa.Table, provenance: dict[str, Any], ctx: JobContext
) -> VersionRecord:
    """The new rows (after the target's, when it has some) as the target's next version."""
    spec, datasets = resolved.spec, env.services.datasets
    key = output_key(spec, resolved.source)
    if resolved.target is not None:
        existing = datasets.read_table(env.principal, env.project, resolved.target.ref)
        table = append_to(existing, table, resolved.target.ref)
        key = resolved.target.content.get("key") or key
        provenance = {**provenance, "parents": [resolved.target.ref]}
    message = (
        spec.message or f"synth {spec.task} from {resolved.source.ref} with {resolved.model.ref} (job {ctx.job_id})"
    )
    return datasets.create_from_table(
        env.principal, env.project, spec.into, table, provenance=provenance, key=key, inputs=resolved.inputs(),
        message=message, tags=spec.tags, label_column=spec.label_column if spec.task == "classify" else None,
        reporter=ctx,
    )  # fmt: skip


SYNTH_GENERATE = JobKind(
    name=KIND_NAME,
    summary="generate synthetic records (qa, paraphrase, classify, custom) with a prompt and a model into a dataset",
    check=check_spec,
    build=build_job,
)

__all__ = ["KIND_NAME", "SYNTH_GENERATE", "NothingAcceptedError", "check_spec"]
