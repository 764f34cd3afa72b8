"""Seed data for the synthetic-data tests (importable as ``synth_data``): a small folder of
real documents (short factual texts written for these tests, CC0), seed rows for paraphrase
and classify, and the checks every accepted row of a run must pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from rippleops.domain.synth import DEFAULT_SCHEMAS, effective_rules, parse_synth_spec
from rippleops.domain.synth_output import answer_overlap, check_record

DOCS: dict[str, str] = {
    "moon.md": "# The Moon\n\nThe Moon is Earth's only natural satellite. It orbits the Earth about every 27 days "
    "at an average distance of 384,400 kilometres.\n",
    "eiffel.md": "# Eiffel Tower\n\nThe Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was "
    "built between 1887 and 1889 as the entrance to the World's Fair.\n",
    "photosynthesis.txt": "Photosynthesis is the process by which green plants use sunlight, water and carbon "
    "dioxide to make glucose and oxygen. It takes place in the chloroplasts of leaf cells.\n",
}

SENTENCES: list[dict[str, Any]] = [
    {"id": "s1", "text": "The store opens at nine and closes at six on weekdays.", "topic": "hours"},
    {"id": "s2", "text": "Returns are accepted within thirty days of purchase.", "topic": "refunds"},
    {"id": "s3", "text": "Delivery to most cities takes two to four working days.", "topic": "shipping"},
]

REVIEWS: list[dict[str, Any]] = [
    {"text": "I loved this film, the acting was wonderful.", "label": "positive"},
    {"text": "Great service and very friendly staff.", "label": "positive"},
    {"text": "The best pizza I have had in years.", "label": "positive"},
    {"text": "The food was cold and the waiter was rude.", "label": "negative"},
    {"text": "Terrible support, I will never buy here again.", "label": "negative"},
    {"text": "The room was dirty and smelled of smoke.", "label": "negative"},
]

#: Few tokens, so a run on the 135M model stays fast; enough for a question and a short answer.
FAST = {"max_tokens": 64}


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def check_counts(result: Mapping[str, Any]) -> None:
    """Every candidate is either accepted or rejected for exactly one reason."""
    assert result["generated"] == result["accepted"] + sum(result["rejected"].values()), result
    assert result["calls"] >= 1 and result["generated"] >= result["calls"] - result["rejected"].get("unparseable", 0)


def check_qa_rows(rows: Sequence[Mapping[str, Any]], spec: Mapping[str, Any], docs: Mapping[str, str]) -> None:
    """Each qa row satisfies the schema and rules, and points at a real span of its document."""
    parsed = parse_synth_spec(spec)
    rules = effective_rules(parsed, DEFAULT_SCHEMAS["qa"])
    validator = jsonschema.Draft202012Validator(DEFAULT_SCHEMAS["qa"])
    for row in rows:
        record = {"question": row["query"], "answer": row["answer"]}
        assert check_record(record, rules, validator=validator, passage=row["context"]) is None, row
        text = docs[row["doc_id"]]
        assert text[row["start"] : row["end"]] == row["context"]
        assert answer_overlap(row["answer"], row["context"]) >= rules.answer_overlap
        if row["answer_start"] is not None:
            got = text[row["answer_start"] : row["answer_start"] + len(row["answer"])]
            assert got.casefold() == row["answer"].casefold()
        assert row["relevance"] == 1 and row["query_id"].startswith("q")
    assert len({r["query_id"] for r in rows}) == len(rows)
