"""The root app: help, init, db, global options, the duration parser and the one error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from cli_helpers import Ripple
from typer.main import get_command
from typer.testing import CliRunner

from rippleops.cli.common import RippleGroup, parse_duration, parse_time, parse_vars
from rippleops.cli.main import app
from rippleops.errors import InvalidError, NotFoundError
from rippleops.settings import get_settings


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in getattr(group, "commands", {}).items():
        out.append((*path, name))
        out.extend(_commands(cmd, (*path, name)))
    return out


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    commands = _commands(get_command(app))
    assert ("prompt", "render") in commands and ("lineage",) in commands and ("server", "start") in commands
    for path in commands:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        is_group = hasattr(get_command(app).commands.get(path[0]), "commands") and len(path) == 1
        if not is_group:
            assert "Example: ripple" in result.stdout, path


def test_no_arguments_shows_help() -> None:
    result = CliRunner().invoke(app, [])
    assert "Usage" in result.output and "prompt" in result.output
    assert "Usage" in CliRunner().invoke(app, ["prompt"]).output


def test_init_then_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh"
    monkeypatch.setenv("RIPPLE_HOME", str(home))
    get_settings.cache_clear()
    r = Ripple(tmp_path)
    assert "run `ripple init`" in r.fails(8, "prompt", "list").stderr

    first = r.ok("init", "--admin", "carol").stdout
    assert str(home) in first and "ripple.db" in first and f"{home / 'token'}" in first
    assert (home / "token").stat().st_mode & 0o777 == 0o600
    assert r.json("whoami")["name"] == "carol"
    again = r.ok("init").stdout
    assert "already set up" in again and str(home / "token") in again
    assert r.json("whoami")["name"] == "carol"


def test_init_default_admin_and_invalid_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_HOME", str(tmp_path / "h"))
    get_settings.cache_clear()
    r = Ripple(tmp_path)
    assert "not valid" in r.fails(2, "init", "--admin", "Not Valid").stderr
    r.ok("init")
    assert r.json("whoami")["is_admin"] is True


def test_db_current_and_upgrade(ripple: Ripple) -> None:
    assert "up to date" in ripple.ok("db", "current").stdout
    current = ripple.json("db", "current")
    assert current["up_to_date"] is True and current["current"] == current["head"]
    assert "up to date" in ripple.ok("db", "upgrade").stdout


def test_bad_settings_and_unreachable_token(ripple: Ripple, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "not known" in ripple.fails(5, "--token", "rpl_nope", "whoami").stderr
    monkeypatch.setenv("RIPPLE_AUTH", "sometimes")
    get_settings.cache_clear()
    assert "RIPPLE_AUTH" in ripple.fails(2, "whoami").stderr


def test_duration_and_time_parsing() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("1h") == timedelta(hours=1)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1w") == timedelta(weeks=1)
    assert parse_duration("2024-01-01") is None
    now = datetime.now(UTC)
    assert abs(parse_time("1h", future=False, option="--since") - (now - timedelta(hours=1))) < timedelta(seconds=5)
    assert abs(parse_time("30d", future=True, option="--expires") - (now + timedelta(days=30))) < timedelta(seconds=5)
    assert parse_time("2024-05-01T12:00", future=False, option="--since") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_time("2024-05-01T14:00+02:00", future=False, option="--since") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_time("2024-05-01T12:00Z", future=False, option="--since") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    with pytest.raises(InvalidError, match="--since '3 days' is not a duration or a time; write 30m, 1h, 2d"):
        parse_time("3 days", future=False, option="--since")


def test_parse_vars() -> None:
    assert parse_vars(["a=1", "b=x=y", "c="], '{"a": 0, "h": [1]}') == {"a": "1", "b": "x=y", "c": "", "h": [1]}
    with pytest.raises(InvalidError, match="name=value"):
        parse_vars(["novalue"], None)
    with pytest.raises(InvalidError, match="JSON object"):
        parse_vars([], "[]")


def test_the_one_error_mapping() -> None:
    """A stand-in app isolates the mapping: RippleError -> its exit code, anything else -> 1."""
    demo = typer.Typer(cls=RippleGroup)

    @demo.command()
    def missing() -> None:
        raise NotFoundError("prompt/x has no label 'prod'; labels: production")

    @demo.command()
    def bug() -> None:
        raise ValueError("boom")

    @demo.command()
    def leave() -> None:
        raise typer.Exit(5)

    runner = CliRunner()
    result = runner.invoke(demo, ["missing"])
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr == "error: prompt/x has no label 'prod'; labels: production\n"
    result = runner.invoke(demo, ["bug"])
    assert result.exit_code == 1 and result.stderr == "error: internal error: ValueError: boom\n"
    assert "Traceback" not in result.output
    assert runner.invoke(demo, ["leave"]).exit_code == 5
    assert runner.invoke(demo, ["nope"]).exit_code == 2
