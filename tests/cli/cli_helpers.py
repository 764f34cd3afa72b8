"""Helpers for the in-process CLI tests: prompt files and :class:`Ripple`, which runs
``ripple`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from rippleops.cli.main import app

ANSWER_V1 = """\
template: |
  Answer briefly: {{ question }}
variables:
  question: the user's question
tags: [support]
message: first version
"""
ANSWER_V2 = """\
template: |
  Answer in one sentence: {{ question }}
variables:
  question: {type: string, description: the user's question}
params: {temperature: 0.2}
message: shorter answers
"""
SYSTEM = 'template: "You are the support bot of {{ product }}."\n'
WITH_INCLUDE = """\
template: |
  {% include "prompt/system@production" %}
  Answer: {{ question }}
"""


class Ripple:
    """``ripple(...)`` runs one command in-process and returns the result."""

    def __init__(self, tmp_path: Path) -> None:
        self.runner = CliRunner()
        self.tmp_path = tmp_path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, env={"COLUMNS": "200"})

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run a command that must succeed."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (
            f"ripple {' '.join(args)} -> {result.exit_code}\n{result.output}\n{result.exception!r}"
        )
        return result

    def json(self, *args: str) -> Any:
        """Run a read command with --json and parse its stdout."""
        return json.loads(self.ok(*args, "--json").stdout)

    def fails(self, code: int, *args: str, input: str | None = None) -> Result:
        """Run a command that must fail with ``code``, with its message on stderr and no traceback."""
        result = self(*args, input=input)
        assert result.exit_code == code, (
            f"ripple {' '.join(args)} -> {result.exit_code}, expected {code}\n{result.output}"
        )
        assert "Traceback" not in result.output
        assert result.stderr.startswith("error: "), result.output
        return result

    def file(self, name: str, text: str) -> str:
        path = self.tmp_path / name
        path.write_text(text)
        return str(path)
