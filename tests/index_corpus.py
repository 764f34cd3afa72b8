"""Real text for the index tests: the repo's own Markdown documentation (Apache-2.0, like
the code), as a documents dataset, and questions about it with the document that answers
each (written by hand from the docs' content)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from rippleops.domain.access import Principal
from rippleops.domain.records import VersionRecord
from rippleops.services import Services

ROOT = Path(__file__).resolve().parent.parent
#: Files of the repo that exist since the spine (later docs are written while the tests run).
DOC_FILES = ("README.md", "docs/api.md", "docs/design.md", "docs/jobs.md", "docs/sdk.md")
PROVENANCE = {"source": f"file://{ROOT}", "license": "Apache-2.0", "created_by": "tests"}
#: question -> the document that answers it
QUESTIONS = {
    "q-recover": ("What happens to a job whose process was killed?", "docs/jobs.md"),
    "q-rerun": ("How do I rerun a failed job from the command line?", "docs/jobs.md"),
    "q-layers": ("Which layers does the code have and which way do imports point?", "docs/design.md"),
    "q-sqlite": ("Why do SQLite writers start with BEGIN IMMEDIATE?", "docs/design.md"),
    "q-etag": ("How does the SDK cache prompts and revalidate them with an ETag?", "docs/sdk.md"),
    "q-errors": ("Which HTTP status codes does the REST API return for errors?", "docs/api.md"),
    "q-labels": ("How do I move the production label back to roll back a prompt?", "README.md"),
}


def doc_rows(files: tuple[str, ...] = DOC_FILES) -> dict[str, list[Any]]:
    """Columns of the documents dataset: doc_id, text, format, section (the top folder)."""
    texts = [(ROOT / f).read_text() for f in files]
    return {
        "doc_id": list(files),
        "text": texts,
        "format": ["md"] * len(files),
        "section": [f.split("/")[0] if "/" in f else "root" for f in files],
    }


def make_docs(
    services: Services, principal: Principal, rows: Mapping[str, list[Any]] | None = None, name: str = "docs"
) -> VersionRecord:
    table = pa.table(dict(rows or doc_rows()))
    return services.datasets.create_from_table(
        principal, "default", name, table, provenance=PROVENANCE, key="doc_id", message="repo docs"
    )


def make_questions(services: Services, principal: Principal, name: str = "questions") -> VersionRecord:
    ids = sorted(QUESTIONS)
    table = pa.table(
        {
            "query_id": ids,
            "query": [QUESTIONS[q][0] for q in ids],
            "doc_id": [QUESTIONS[q][1] for q in ids],
            "relevance": [1] * len(ids),
        }
    )
    return services.datasets.create_from_table(principal, "default", name, table, provenance=PROVENANCE)


def edit(rows: Mapping[str, list[Any]], doc_id: str, old: str, new: str) -> dict[str, list[Any]]:
    """A copy of ``rows`` with one document's text changed (``old`` must be in it)."""
    out = {k: list(v) for k, v in rows.items()}
    i = out["doc_id"].index(doc_id)
    assert old in out["text"][i], f"{old!r} is not in {doc_id}"
    out["text"][i] = out["text"][i].replace(old, new, 1)
    return out
