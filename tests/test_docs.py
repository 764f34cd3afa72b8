"""Every ```python block in docs/*.md runs, in order, against a fresh embedded home."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rippleops.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md") if "```python" in p.read_text()))
def test_doc_examples_run(page: str, sqlite_settings: Settings) -> None:
    namespace: dict[str, object] = {}
    for i, block in enumerate(BLOCK.findall((DOCS / page).read_text())):
        if "Client(url=" in block and "token=" in block and block.strip().startswith("rp = Client(url"):
            continue
        try:
            exec(compile(block, f"{page} block {i + 1}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page}, python block {i + 1} failed: {exc!r}\n{block}") from exc
