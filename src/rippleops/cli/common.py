"""What every ``ripple`` command shares: the global options, the client factory, output
helpers (Rich tables, JSON) and the one place where errors become exit codes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from rippleops.domain.times import parse_duration as parse_duration
from rippleops.domain.times import parse_time as parse_time
from rippleops.errors import InvalidError, RippleError
from rippleops.sdk.client import Client
from rippleops.settings import Settings, get_settings

JSON_HELP = "Print machine-readable JSON (and nothing else) on stdout."


# -- global options and the client ----------------------------------------------------------------------------


@dataclass(slots=True)
class GlobalOptions:
    """The root callback's options, kept on ``ctx.obj`` for every command."""

    project: str | None = None
    server: str | None = None
    token: str | None = None


def settings() -> Settings:
    """The process's settings; invalid ``RIPPLE_*`` values become a clear error (exit 2)."""
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"RIPPLE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise InvalidError(f"the Ripple settings are not valid: {problems}") from None


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, GlobalOptions) else GlobalOptions()


@contextmanager
def client(ctx: typer.Context) -> Iterator[Client]:
    """The SDK client the global options ask for: embedded on $RIPPLE_HOME, or remote when
    ``--server`` / ``RIPPLE_SERVER_URL`` is set. Closed when the command is done."""
    opts = options(ctx)
    rp = Client(url=opts.server, token=opts.token, project=opts.project, settings=settings(), cache_ttl=0)
    try:
        yield rp
    finally:
        rp.close()


# -- errors: the one mapping to exit codes ---------------------------------------------------------------------


class RippleGroup(TyperGroup):
    """The root command group. Every command runs inside its ``invoke``, so this is the one
    place where a :class:`RippleError` becomes a red message and its ``exit_code``."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors click privately)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own exits, usage errors and Ctrl-C keep their codes
        except RippleError as exc:
            error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:  # boundary: anything else is a bug; say so briefly, never a traceback
            error(f"internal error: {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from None


# -- output -----------------------------------------------------------------------------------------------------


def stdout() -> Console:
    # built per call so it writes to whatever sys.stdout is now (the test runner swaps it)
    return Console(soft_wrap=False)


def error(message: str) -> None:
    """A red message on stderr (markup in ``message`` is printed as is)."""
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}", highlight=False)


def note(message: str, style: str = "yellow") -> None:
    """A remark on stderr, so that stdout stays clean for scripts."""
    Console(stderr=True, soft_wrap=True).print(f"[{style}]{escape(message)}[/{style}]", highlight=False)


def echo(message: str, *, style: str | None = None) -> None:
    """A plain line on stdout (user content is never read as Rich markup)."""
    text = escape(message)
    stdout().print(f"[{style}]{text}[/{style}]" if style else text, soft_wrap=True, highlight=False)


def to_jsonable(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list | tuple):
        return [to_jsonable(d) for d in data]
    if isinstance(data, dict):
        return {k: to_jsonable(v) for k, v in data.items()}
    if isinstance(data, datetime):
        return data.isoformat()
    return data


def print_json(data: Any) -> None:
    """Records and lists of records as JSON on stdout; nothing else is printed."""
    typer.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False, default=str))


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    empty: str = "nothing yet",
    flex: str | None = None,
) -> None:
    """A Rich table on stdout, or a short line when there are no rows.

    With ``flex``, the other columns keep their width and that one column takes what is left,
    one line per row, cut with an ellipsis (a list of previews stays readable at 80 columns)."""
    if not rows:
        echo(f"{title + ': ' if title else ''}{empty}", style="dim")
        return
    t = Table(title=title, title_justify="left", header_style="bold")
    cells = [[escape(cell(v)) for v in row] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    room = stdout().width - 3 * len(columns) - 1  # each column's borders and padding, and the last border
    room -= sum(w for col, w in zip(columns, widths, strict=True) if col != flex)
    for col, width in zip(columns, widths, strict=True):
        if flex is None:
            t.add_column(col, overflow="fold")
        elif col == flex:
            t.add_column(col, overflow="ellipsis", no_wrap=True, max_width=max(room, 8))
        else:
            t.add_column(col, no_wrap=True, min_width=width)
    for row in cells:
        t.add_row(*row)
    stdout().print(t)


def asset_list(plural: str, items: Sequence[Any], *, as_json: bool) -> None:
    """The output of every ``ripple KIND list``: the assets as JSON, or a table of name,
    latest version, labels, tags, description and last update."""
    if as_json:
        print_json(items)
        return
    rows = [[a.name, a.latest_version, a.labels, a.tags, a.description, a.updated_at] for a in items]
    table(plural, ["name", "latest", "labels", "tags", "description", "updated"], rows, empty=f"no {plural} yet")


def cell(value: Any) -> str:
    """How one value looks in a table cell."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}:{v}" for k, v in value.items()) or "-"
    return str(value)


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def short_hash(h: str) -> str:
    return h.removeprefix("sha256:")[:12]


# -- parsing ----------------------------------------------------------------------------------------------------


def parse_vars(pairs: Sequence[str], vars_json: str | None) -> dict[str, Any]:
    """``--vars-json`` first, then each ``--var name=value`` over it."""
    values: dict[str, Any] = {}
    if vars_json:
        try:
            loaded = json.loads(vars_json)
        except json.JSONDecodeError as exc:
            raise InvalidError(f"--vars-json is not valid JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(loaded, dict):
            raise InvalidError('--vars-json must be a JSON object such as \'{"question": "..."}\'')
        values.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidError(f"--var {pair!r} is not name=value; write it as --var question='What is Ripple?'")
        values[name.strip()] = value
    return values


def write_file(path: str | Path, text: str) -> Path:
    """Write a file the user asked for (an HTML report ...) through a temp file in the same
    folder and a rename, so that a reader never sees half of it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
