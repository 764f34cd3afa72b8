"""``ripple audit log`` and ``ripple audit verify``, with a real tampered database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cli_helpers import Ripple

from rippleops.cli.audit import AUDIT_BROKEN_EXIT


def test_audit_log_filters(ripple: Ripple, make_prompts: Callable[[Ripple], None]) -> None:
    make_prompts(ripple)
    ripple.ok("user", "create", "bob")
    events = ripple.json("audit", "log")
    actions = [e["action"] for e in events]
    assert "label.move" in actions and "user.create" in actions
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)

    moves = ripple.json("audit", "log", "--action", "label")
    assert [(e["action"], e["target"], e["actor"]) for e in moves] == [
        ("label.move", "prompt/answer@production", "alice")
    ]
    assert ripple.json("audit", "log", "--actor", "nobody") == []
    assert all(e["project"] == "default" for e in ripple.json("audit", "log", "--project", "default"))
    assert len(ripple.json("audit", "log", "--limit", "2")) == 2
    assert ripple.json("audit", "log", "--since", "1h") == events
    assert ripple.json("audit", "log", "--since", "1d", "--action", "label") == moves
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ripple.json("audit", "log", "--since", future) == []
    assert "--since 'yesterday' is not a duration" in ripple.fails(2, "audit", "log", "--since", "yesterday").stderr

    table = ripple.ok("audit", "log", "--action", "label").stdout
    assert "label.move" in table and "prompt/answer@production" in table


def test_audit_verify_ok_then_tampered(
    ripple: Ripple, sqlite_settings: Any, make_prompts: Callable[[Ripple], None]
) -> None:
    make_prompts(ripple)
    count = len(ripple.json("audit", "log", "--limit", "1000"))
    assert ripple.ok("audit", "verify").stdout.strip() == f"audit log OK: {count} events"
    assert ripple.json("audit", "verify")["ok"] is True

    bad_id = 2
    with sqlite3.connect(sqlite_settings.home_path / "ripple.db") as conn:
        conn.execute("UPDATE audit_events SET target = 'prompt/forged' WHERE id = ?", (bad_id,))
    broken = ripple.fails(AUDIT_BROKEN_EXIT, "audit", "verify")
    assert f"event {bad_id}" in broken.stderr and "changed" in broken.stderr
    result = ripple(*("audit", "verify", "--json"))
    assert result.exit_code == AUDIT_BROKEN_EXIT
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["first_bad_id"] == bad_id


def test_audit_needs_an_instance_admin(ripple: Ripple) -> None:
    ripple.ok("user", "create", "bob")
    token = ripple.ok("token", "create", "--user", "bob").stdout.strip()
    assert "instance admin" in ripple.fails(6, "--token", token, "audit", "log").stderr
    ripple.fails(6, "--token", token, "audit", "verify")
