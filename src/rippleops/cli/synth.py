"""``ripple synth``: generate synthetic rows with a prompt and a model into a dataset (a
``synth.generate`` job, followed with a progress bar, ending in a summary table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml

from rippleops.cli.common import JSON_HELP, client, echo, note, print_json, table
from rippleops.cli.job import job_error, run_and_follow
from rippleops.domain.jobs import JobState
from rippleops.domain.records import JobRecord
from rippleops.errors import InvalidError
from rippleops.sdk.jobs import OnUpdate

app = typer.Typer(
    no_args_is_help=True,
    help="Synthetic data: question/answer pairs from documents, paraphrases, labelled examples, or any JSON "
    "a prompt asks for, kept only when they pass the rules, the schema and deduplication.",
)

KIND = "synth.generate"
Json = typer.Option(False, "--json", help=JSON_HELP)
NoWait = typer.Option(False, "--no-wait", help="Return once the job is queued instead of following it.")
From = typer.Option(..., "--from", help="The seed dataset (documents for qa), e.g. dataset/docs or docs@production.")
Model = typer.Option(..., "--model", help="The model version that generates, e.g. model/local-smollm.")
Into = typer.Option(..., "--into", help="The dataset that receives the rows (appended as a new version if it exists).")
N = typer.Option(1, "--n", min=1, help="Candidates per seed row (per label for classify).")
Seed = typer.Option(0, "--seed", min=0, help="The job's seed: the same seed gives the same rows on the local model.")
PromptOpt = typer.Option(None, "--prompt", help="Your prompt asset instead of the built-in template.")
Schema = typer.Option(None, "--schema", help="A JSON schema file every record must satisfy.")
MaxRows = typer.Option(None, "--max-rows", min=1, help="Stop once this many rows are accepted.")
MaxSeeds = typer.Option(None, "--max-seeds", min=1, help="Read at most this many seed rows.")
TextColumn = typer.Option("text", "--text-column", help="The column holding each seed row's text.")
IdColumn = typer.Option(None, "--id-column", help="The column naming each seed row (default: the dataset's key).")
Temperature = typer.Option(None, "--temperature", help="Sampling temperature (default 0.7; 0 is greedy).")
MaxTokens = typer.Option(None, "--max-tokens", min=1, help="Tokens per reply (default 192).")
Constrained = typer.Option(
    None, "--constrained", help="auto (local models decode JSON by grammar), on or off."
)  # fmt: skip
Message = typer.Option(None, "--message", "-m", help="The commit message of the new dataset version.")


def _schema(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidError(f"cannot read the schema file {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidError(f"the schema file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidError(f"the schema file {path} must hold a JSON schema object")
    return data


def _spec(task: str, **given: Any) -> dict[str, Any]:
    """The spec of a task command: options left unset are left out (the spec's defaults apply)."""
    params = {k: v for k in ("temperature", "max_tokens", "seed") if (v := given.pop(k, None)) is not None}
    return {"task": task, **{k: v for k, v in given.items() if v is not None}, "params": params}


def _run(ctx: typer.Context, spec: dict[str, Any], no_wait: bool, as_json: bool) -> None:
    with client(ctx) as rp:
        if no_wait:
            job = rp.synth.generate(spec, wait=False, check=False)
        else:

            def start(on_update: OnUpdate) -> JobRecord:
                return rp.synth.generate(spec, wait=True, check=False, on_update=on_update)

            job = run_and_follow(start, f"synth {spec.get('task', '')}".strip())
    if as_json:
        print_json(job)
    elif job.state in (JobState.QUEUED, JobState.RUNNING):
        echo(f"job {job.id} {job.state.value}; follow it with `ripple job logs {job.id} --follow`")
    else:
        summary(job)
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        raise job_error(job)


def summary(job: JobRecord) -> None:
    """The counts of a finished run as a table (also for a run that accepted nothing)."""
    r = job.result or {}
    if not r:
        return
    rows: list[list[Any]] = [["calls", r.get("calls")], ["generated", r.get("generated")],
                             ["accepted", r.get("accepted")]]  # fmt: skip
    for reason, count in (r.get("rejected") or {}).items():
        rows.append([f"rejected: {reason}", count])
    if not r.get("rejected"):
        rows.append(["rejected", 0])
    tokens = r.get("tokens") or {}
    rows += [["tokens (prompt / completion)", f"{tokens.get('prompt', 0)} / {tokens.get('completion', 0)}"],
             ["seconds", r.get("seconds")], ["source", r.get("source")], ["prompt", r.get("prompt")],
             ["model", r.get("model")], ["seed", r.get("seed")]]  # fmt: skip
    if r.get("dataset"):
        rows.append(["new version", f"{r['dataset']} ({r.get('rows')} rows)"])
    table(f"synth job {job.id}", ["", "value"], rows)
    if r.get("dataset") and r.get("created") is False:
        note(f"unchanged: {r['dataset']} already holds exactly these rows")


@app.command()
def qa(
    ctx: typer.Context,
    source: str = From, model: str = Model, into: str = Into, n: int = N, seed: int = Seed,
    prompt: str | None = PromptOpt, schema: Path | None = Schema, max_rows: int | None = MaxRows,
    max_seeds: int | None = MaxSeeds, text_column: str = TextColumn, id_column: str | None = IdColumn,
    passage_chars: int | None = typer.Option(None, "--passage-chars", help="Passage size in characters (default 1200)."),
    temperature: float | None = Temperature, max_tokens: int | None = MaxTokens, constrained: str | None = Constrained,
    message: str | None = Message, no_wait: bool = NoWait, as_json: bool = Json,
) -> None:  # fmt: skip
    """Question/answer pairs from documents; each row keeps doc_id and the passage's span.

    Example: ripple synth qa --from dataset/docs --model model/local-smollm --into docs-qa --n 2 --seed 7
    """
    spec = _spec("qa", source=source, model=model, into=into, n=n, seed=seed, prompt=prompt,
                 output_schema=_schema(schema), max_rows=max_rows, max_seeds=max_seeds, text_column=text_column,
                 id_column=id_column, passage_chars=passage_chars, temperature=temperature, max_tokens=max_tokens,
                 constrained=constrained, message=message)  # fmt: skip
    _run(ctx, spec, no_wait, as_json)


@app.command()
def paraphrase(
    ctx: typer.Context,
    source: str = From, model: str = Model, into: str = Into, n: int = N, seed: int = Seed,
    prompt: str | None = PromptOpt, schema: Path | None = Schema, max_rows: int | None = MaxRows,
    max_seeds: int | None = MaxSeeds, text_column: str = TextColumn, id_column: str | None = IdColumn,
    temperature: float | None = Temperature, max_tokens: int | None = MaxTokens, constrained: str | None = Constrained,
    message: str | None = Message, no_wait: bool = NoWait, as_json: bool = Json,
) -> None:  # fmt: skip
    """N paraphrases of each seed row's text (copies of the seed are rejected).

    Example: ripple synth paraphrase --from dataset/faq --text-column question --model model/local-smollm --into faq-para --n 3
    """
    spec = _spec("paraphrase", source=source, model=model, into=into, n=n, seed=seed, prompt=prompt,
                 output_schema=_schema(schema), max_rows=max_rows, max_seeds=max_seeds, text_column=text_column,
                 id_column=id_column, temperature=temperature, max_tokens=max_tokens, constrained=constrained,
                 message=message)  # fmt: skip
    _run(ctx, spec, no_wait, as_json)


@app.command()
def classify(
    ctx: typer.Context,
    source: str = From, model: str = Model, into: str = Into,
    label_column: str = typer.Option(..., "--label-column", help="The column holding each seed row's label."),
    labels: list[str] | None = typer.Option(None, "--label", help="Generate for this label (repeat; default: all)."),
    examples: int | None = typer.Option(None, "--examples", min=1, help="Seed examples shown per call (default 3)."),
    n: int = N, seed: int = Seed, prompt: str | None = PromptOpt, schema: Path | None = Schema,
    max_rows: int | None = MaxRows, max_seeds: int | None = MaxSeeds, text_column: str = TextColumn,
    temperature: float | None = Temperature, max_tokens: int | None = MaxTokens, constrained: str | None = Constrained,
    message: str | None = Message, no_wait: bool = NoWait, as_json: bool = Json,
) -> None:  # fmt: skip
    """N new labelled examples per label, each call shown a sample of that label's seed texts.

    Example: ripple synth classify --from dataset/reviews --label-column sentiment --model model/local-smollm --into reviews-more --n 5
    """
    spec = _spec("classify", source=source, model=model, into=into, label_column=label_column,
                 labels=labels or None, examples_per_label=examples, n=n, seed=seed, prompt=prompt,
                 output_schema=_schema(schema), max_rows=max_rows, max_seeds=max_seeds, text_column=text_column,
                 temperature=temperature, max_tokens=max_tokens, constrained=constrained,
                 message=message)  # fmt: skip
    _run(ctx, spec, no_wait, as_json)


@app.command()
def run(
    ctx: typer.Context,
    file: Path = typer.Option(..., "--file", "-f", help="A synth spec (YAML or JSON), the fields of docs/synth.md."),
    no_wait: bool = NoWait,
    as_json: bool = Json,
) -> None:
    """Run a full synth spec from a file (any task, custom included).

    Example: ripple synth run --file synth.yaml
    """
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidError(f"cannot read the synth spec {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidError(f"the synth spec {file} is not UTF-8 text") from None
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidError(f"the synth spec {file} is not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise InvalidError(f"the synth spec {file} must be a mapping with task, source, into and model")
    schema_file = spec.pop("output_schema_file", None)
    if schema_file is not None:  # a path relative to the spec file
        spec["output_schema"] = _schema((file.parent / str(schema_file)).resolve())
    _run(ctx, spec, no_wait, as_json)
