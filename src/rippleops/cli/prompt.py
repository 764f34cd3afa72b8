"""``ripple prompt``: create, label, show, diff, render and list prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.panel import Panel
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
from rippleops.cli.job import report, run_and_follow
from rippleops.cli.model import prompt_run
from rippleops.domain.records import PromptRecord

app = typer.Typer(no_args_is_help=True, help="Versioned prompt templates: create, label, show, diff, render.")

Json = typer.Option(False, "--json", help=JSON_HELP)
app.command("run")(prompt_run)  # defined with `ripple model run`, which it shares its options and output with


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Prompt name, such as answer."),
    file: Path = typer.Option(..., "--file", "-f", help="YAML (or JSON) prompt file."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message (overrides the file's)."),
    as_json: bool = Json,
) -> None:
    """Register a new version of a prompt from a YAML file.

    Prints the new version's reference. Registering content identical to an existing
    version creates nothing and says which version it is.

    Example: ripple prompt create answer --file answer.yaml --message "shorter answers"
    """
    with client(ctx) as rp:
        record = rp.prompts.create_from_file(name, file, message=message).record
    if as_json:
        print_json(record)
        return
    echo(record.ref)
    if record.created is False:
        note(f"unchanged: {record.note or 'the same content is already registered as ' + record.ref}")


@app.command("import")
def import_(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder of *.yaml / *.yml / *.json prompt files."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message of every new version."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Return once the job is queued (on a server)."),
    as_json: bool = Json,
) -> None:
    """Import every prompt file of a folder as a version of prompt/<file name>, as a job.

    Shows a progress bar; a bad file is reported and skipped, and the job then fails
    (exit code non-zero) naming the bad files, after importing the good ones. Every file's
    line is in `ripple job logs ID`. On a server the server reads the folder (it must be
    under RIPPLE_IMPORT_ROOTS).

    Example: ripple prompt import prompts/ --message "from the repo"
    """
    params: dict[str, Any] = {"path": str(folder.expanduser().resolve())}
    if message is not None:
        params["message"] = message
    with client(ctx) as rp:
        if no_wait:
            job = rp.jobs.submit("prompt.import", params)
        else:
            job = run_and_follow(
                lambda on_update: rp.jobs.submit("prompt.import", params, wait=True, on_update=on_update),
                f"importing {folder}",
            )
    report(job, as_json)


@app.command()
def label(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Prompt name, such as answer."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to move, such as production."),
    version: str = typer.Argument(..., help="Version: 3, :3, or @staging (where another label points)."),
) -> None:
    """Point a label at a version of a prompt (moving production needs an admin).

    Example: ripple prompt label answer production 2

    Example: ripple prompt label answer production @staging
    """
    with client(ctx) as rp:
        rec = rp.prompts.label(name, label_name, version)
    echo(f"prompt/{_bare(name)}@{rec.label} -> {rec.version}")


@app.command()
def unlabel(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Prompt name, such as answer."),
    label_name: str = typer.Argument(..., metavar="LABEL", help="Label to remove."),
) -> None:
    """Remove a label from a prompt.

    Example: ripple prompt unlabel answer staging
    """
    with client(ctx) as rp:
        rec = rp.prompts.unlabel(name, label_name)
    echo(f"removed prompt/{_bare(name)}@{rec.label} (was {rec.version})")


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="answer, answer@production or answer:2."),
    as_json: bool = Json,
) -> None:
    """Show one version of a prompt: template, variables, labels, inputs.

    Example: ripple prompt show answer@production --json
    """
    with client(ctx) as rp:
        record = rp.prompts.get(ref).record
    if as_json:
        print_json(record)
        return
    _render_record(record)


@app.command()
def diff(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="From, such as answer:1."),
    b: str = typer.Argument(..., help="To, such as answer:2 or answer@production."),
    as_json: bool = Json,
) -> None:
    """Compare two prompt versions: a unified diff of the template and the changed fields.

    Example: ripple prompt diff answer:1 answer:2
    """
    with client(ctx) as rp:
        result = rp.prompts.diff(a, b)
    if as_json:
        print_json(result)
        return
    if result.get("same"):
        echo(f"{result['from']} and {result['to']} have the same content", style="green")
        return
    out = stdout()
    for line in str(result.get("diff") or "").splitlines():
        style = "bold" if line.startswith(("+++", "---")) else {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
        out.print(Text(line, style=style or ""), soft_wrap=True)
    changes = result.get("changes") or []
    if changes:
        table(
            "changed fields",
            ["field", "from", "to"],
            [[c["field"], _short(c["from"]), _short(c["to"])] for c in changes],
        )


@app.command()
def render(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="answer, answer@production or answer:2."),
    var: list[str] = typer.Option([], "--var", help="A variable as name=value; repeat for more."),
    vars_json: str | None = typer.Option(None, "--vars-json", help="Variables as a JSON object (lists, histories)."),
    as_json: bool = Json,
) -> None:
    """Render a prompt version with the given variables (in the sandbox, with limits).

    A text prompt prints the text; a chat prompt prints its messages.

    Example: ripple prompt render answer@production --var question="What is Ripple?"

    Example: ripple prompt render chat --vars-json '{"history": [{"role": "user", "content": "hi"}]}'
    """
    values = parse_vars(var, vars_json)
    with client(ctx) as rp:
        prompt = rp.prompts.get(ref)
        output = prompt.render(**values)
    if as_json:
        print_json({"ref": prompt.record.ref, "type": prompt.record.type, "output": output})
    elif isinstance(output, str):
        typer.echo(output, nl=not output.endswith("\n"))  # the text exactly, ending in one newline
    else:
        for m in output:
            stdout().print(Text.assemble((f"{m['role']}: ", "bold cyan"), m["content"]), soft_wrap=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    tag: str | None = typer.Option(None, "--tag", help="Only prompts with this tag."),
    label_name: str | None = typer.Option(None, "--label", help="Only prompts with this label."),
    as_json: bool = Json,
) -> None:
    """List prompts with their latest version, labels and tags.

    Example: ripple prompt list --label production
    """
    with client(ctx) as rp:
        items = rp.prompts.list(tag=tag, label=label_name)
    asset_list("prompts", items, as_json=as_json)


@app.command()
def history(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Prompt name, such as answer."),
    as_json: bool = Json,
) -> None:
    """Show a prompt's versions and every label move (who moved what, when).

    Example: ripple prompt history answer
    """
    with client(ctx) as rp:
        versions = rp.prompts.versions(name)
        moves = rp.prompts.history(name)
    if as_json:
        print_json({"versions": versions, "label_moves": moves})
        return
    _versions_table(f"prompt/{_bare(name)} versions", versions)
    rows = [[m.label, f"{_v(m.from_version)} -> {_v(m.to_version)}", m.by, m.at] for m in moves]
    table("label moves", ["label", "move", "by", "at"], rows, empty="no label moves yet")


@app.command()
def versions(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Prompt name, such as answer."),
    as_json: bool = Json,
) -> None:
    """List the versions of a prompt.

    Example: ripple prompt versions answer --json
    """
    with client(ctx) as rp:
        items = rp.prompts.versions(name)
    if as_json:
        print_json(items)
        return
    _versions_table(f"prompt/{_bare(name)} versions", items)


def _versions_table(title: str, items: list[Any]) -> None:
    rows = [[v.version, short_hash(v.hash), v.created_by, v.created_at, v.labels, v.message] for v in items]
    table(title, ["version", "hash", "by", "at", "labels", "message"], rows)


def _render_record(r: PromptRecord) -> None:
    out = stdout()
    out.print(f"[bold]{escape(r.ref)}[/bold]  ({r.type} prompt)", highlight=False)
    fields: list[tuple[str, Any]] = [
        ("hash", r.hash),
        ("labels", r.labels),
        ("created", f"{when(r.created_at)} by {r.created_by}"),
        ("message", r.message or None),
        ("description", r.description or None),
        ("tags", r.tags or None),
        ("model", r.model),
        ("params", r.params or None),
        ("inputs", [f"{i.ref} = {i.resolved}" for i in r.inputs] or None),
    ]
    for key, value in fields:
        if value is not None:
            out.print(Text.assemble((f"{key:>12}: ", "dim"), cell(value)), soft_wrap=True)
    if r.variables:
        rows = [
            [n, s.get("type", "any"), s.get("required", True), s.get("default"), s.get("description")]
            for n, s in r.variables.items()
        ]
        table("variables", ["name", "type", "required", "default", "description"], rows)
    if r.template is not None:
        out.print(Panel(Text(r.template), title="template", title_align="left"))
    for m in r.messages or []:
        title = f"placeholder: {m['placeholder']}" if "placeholder" in m else m.get("role", "")
        out.print(Panel(Text(m.get("content", "")), title=escape(title), title_align="left"))
    if r.output_schema:
        out.print(Text.assemble(("output schema: ", "dim"), cell(r.output_schema)), soft_wrap=True)


def _bare(name: str) -> str:
    return name.removeprefix("prompt/")


def _v(version: int | None) -> str:
    return "-" if version is None else str(version)


def _short(value: Any, limit: int = 60) -> str:
    text = "-" if value is None else value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
