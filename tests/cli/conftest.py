"""Fixtures for the in-process CLI tests: ``ripple`` on an initialised home (admin ``alice``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import ANSWER_V1, ANSWER_V2, Ripple


@pytest.fixture
def ripple(sqlite_settings: Any, tmp_path: Path) -> Ripple:
    """The CLI on an initialised SQLite home."""
    return Ripple(tmp_path)


@pytest.fixture
def ripple_on(settings: Any, tmp_path: Path) -> Ripple:
    """The CLI on an initialised home on SQLite and on PostgreSQL (parametrised)."""
    return Ripple(tmp_path)


@pytest.fixture
def make_prompts() -> Callable[[Ripple], None]:
    """Register prompt/answer v1 and v2 and label v1 production."""

    def make(r: Ripple) -> None:
        r.ok("prompt", "create", "answer", "--file", r.file("a1.yaml", ANSWER_V1))
        r.ok("prompt", "create", "answer", "--file", r.file("a2.yaml", ANSWER_V2))
        r.ok("prompt", "label", "answer", "production", "1")

    return make
