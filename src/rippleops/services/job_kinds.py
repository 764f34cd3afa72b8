"""The kinds of job Ripple can run: name -> a parameter check and a function.

A kind's ``check`` validates and normalises the parameters when the job is submitted (so a
bad request fails at once, not in a worker); its ``build`` binds the services the job uses
and returns the job function ``fn(context, params) -> JSON result`` that an executor runs.

Each area defines its kinds in its own module (a :class:`~rippleops.services.job_env.JobKind`)
and lists them in :data:`KINDS` below. Kinds so far: ``prompt.import``, ``index.build``, ``dataset.import``,
``synth.generate``, ``eval.run``, ``sweep.run``, ``ripple.apply``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rippleops.domain.prompts import parse_spec_bytes
from rippleops.domain.refs import validate_name
from rippleops.errors import InvalidError, RippleError
from rippleops.runtime.executor import JobCancelled, JobContext, JobFunction
from rippleops.services.dataset_jobs import DATASET_IMPORT
from rippleops.services.evals import EVAL_RUN
from rippleops.services.indexes import INDEX_BUILD
from rippleops.services.job_env import JobEnv, JobKind
from rippleops.services.ripple import RIPPLE_APPLY
from rippleops.services.sweeps import SWEEP_RUN
from rippleops.services.synth import SYNTH_GENERATE

PROMPT_SUFFIXES = (".json", ".yaml", ".yml")


class PromptImportError(InvalidError):
    """Some files of an import could not be read or registered; ``result`` says what was."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message, details={"failed": result["failed"]})
        self.result = result


# -- prompt.import ---------------------------------------------------------------------------


def _allowed(path: Path, env: JobEnv) -> bool:
    """A server reads only under RIPPLE_IMPORT_ROOTS; an embedded user reads their own files."""
    return env.local or any(path.is_relative_to(root) for root in env.settings.import_root_paths)


def _check_import(params: dict[str, Any], env: JobEnv) -> dict[str, Any]:
    unknown = sorted(set(params) - {"path", "message"})
    if unknown:
        raise InvalidError(f"prompt.import takes `path` and `message`; unknown: {', '.join(unknown)}")
    path, message = params.get("path"), params.get("message")
    if not isinstance(path, str) or not path.strip():
        raise InvalidError('prompt.import needs `path`, the folder of prompt files: {"path": "prompts/"}')
    if message is not None and not isinstance(message, str):
        raise InvalidError("prompt.import `message` must be a string (the commit message of every version)")
    folder = Path(path).expanduser().resolve()  # rerunning from another folder reads the same files
    if not _allowed(folder, env):
        roots = ", ".join(map(str, env.settings.import_root_paths)) or "none set"
        raise InvalidError(
            f"this server imports only from folders under RIPPLE_IMPORT_ROOTS ({roots}); {folder} is not one "
            "(or import from your machine: run the command without --server / RIPPLE_SERVER_URL)"
        )
    if not folder.is_dir():
        raise InvalidError(f"{folder} is not a folder; give the folder that holds the *.yaml / *.json prompt files")
    return {"path": str(folder), **({"message": message} if message is not None else {})}


def _prompt_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.suffix in PROMPT_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _build_import(env: JobEnv) -> JobFunction:
    limit = env.settings.max_payload_bytes

    def import_prompts(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        """Register every prompt file of the folder as a version of ``prompt/<file stem>``.

        A bad file is logged and skipped; the job fails at the end naming the bad files,
        after the good ones were imported (each version is registered atomically)."""
        folder = Path(params["path"])
        if not folder.is_dir():
            raise InvalidError(f"{folder} is not a folder (any more)")
        files = _prompt_files(folder)
        ctx.progress(0, len(files), f"{len(files)} prompt files in {folder}")
        result: dict[str, Any] = {"created": [], "unchanged": [], "failed": {}}
        for i, file in enumerate(files, 1):
            if ctx.cancelled():
                raise JobCancelled()
            try:
                record = _import_file(env, file, params.get("message"), limit)
            except RippleError as exc:
                result["failed"][file.name] = exc.message
                ctx.log(f"{file.name}: {exc.message}", "error")
            else:
                if record[1]:
                    result["created"].append(record[0])
                    ctx.log(f"{file.name}: created {record[0]}")
                else:
                    result["unchanged"].append(record[0])
                    ctx.log(f"{file.name}: unchanged, already {record[0]}")
            ctx.progress(i, len(files), file.name)
        if result["failed"]:
            bad = result["failed"]
            raise PromptImportError(
                f"{len(bad)} of {len(files)} prompt files could not be imported: {', '.join(sorted(bad))} "
                f"(see `ripple job logs {ctx.job_id}`); the other {len(files) - len(bad)} were imported "
                "(created or unchanged)",
                result,
            )
        return result

    return import_prompts


def _import_file(env: JobEnv, file: Path, message: str | None, limit: int) -> tuple[str, bool]:
    name = validate_name(file.stem, "prompt name (the file name)")
    if not _allowed(file.resolve(), env):
        raise InvalidError("it links to a file outside RIPPLE_IMPORT_ROOTS")
    with file.open("rb") as f:
        data = f.read(limit + 1)
    spec = parse_spec_bytes(data, f"prompt file {file.name}", limit)
    if message is not None:
        spec = spec.model_copy(update={"message": message})
    record = env.prompts.create(env.principal, env.project, name, spec)
    return record.ref, record.created is not False


PROMPT_IMPORT = JobKind(
    name="prompt.import",
    summary="import every *.yaml / *.yml / *.json prompt file of a folder as prompt versions",
    check=_check_import,
    build=_build_import,
)

KINDS: dict[str, JobKind] = {k.name: k for k in (PROMPT_IMPORT, INDEX_BUILD, DATASET_IMPORT, SYNTH_GENERATE, EVAL_RUN)}
KINDS[SWEEP_RUN.name] = SWEEP_RUN  # issue 6: knob sweeps
KINDS[RIPPLE_APPLY.name] = RIPPLE_APPLY  # issue 6: the ripple engine

__all__ = ["KINDS", "PROMPT_IMPORT", "JobEnv", "JobKind", "PromptImportError"]
