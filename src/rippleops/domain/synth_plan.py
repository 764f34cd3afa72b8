"""Which model calls a synthetic-data run makes, and the rows its accepted records become
(pure: seed rows in, :class:`SynthCall` values and row dicts out).

- ``qa``: each document is cut into passages (:func:`~rippleops.domain.chunking.chunk`);
  candidate ``k`` of a document asks about one passage (a seeded rotation, so ``n`` > 1
  covers different passages even under greedy decoding). A row keeps ``doc_id`` and the
  passage's span, so the dataset doubles as relevance judgements (``query_id``, ``query``,
  ``doc_id``, ``relevance``: what ``ripple search eval`` reads).
- ``paraphrase``: ``n`` calls per seed row; a row is the seed row with its text replaced.
- ``classify``: per label, ``n`` calls, each shown a seeded sample of that label's seed texts.
- ``custom``: ``n`` calls per seed row, the row's columns as the prompt's variables.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rippleops.domain.chunking import chunk
from rippleops.domain.synth import SynthSpec, call_seed, row_id
from rippleops.domain.synth_output import as_text, normalise

#: Generated columns added to seed columns, per task (besides the generated fields).
QA_COLUMNS = ("query_id", "query", "answer", "doc_id", "context", "start", "end", "answer_start", "relevance")
QA_KEY = "query_id"
ID = "id"
PARAPHRASE_OF = "paraphrase_of"
SEED_ID = "seed_id"


@dataclass(frozen=True)
class SynthCall:
    """One model call: its prompt variables and seed, and what its records are judged by."""

    seed_id: str  # the seed row's id (document id for qa; the label for classify)
    candidate: int  # 0 .. n-1
    seed: int  # the call's sampling seed
    values: dict[str, Any]  # the prompt's variables
    passage: str | None = None  # qa: the text the answer must come from
    span: tuple[int, int] | None = None  # qa: the passage's offsets in the document
    seeds: tuple[str, ...] = ()  # texts a record must not copy (the seed; the examples shown)
    base: dict[str, Any] = field(default_factory=dict)  # columns every row of this call carries


def seed_id_of(row: Mapping[str, Any], id_column: str | None, number: int) -> str:
    """A seed row's id: its id column's value, else its row number (from 1)."""
    if id_column is not None and row.get(id_column) is not None:
        return str(row[id_column])
    return str(number)


def qa_calls(
    rows: Iterable[tuple[int, Mapping[str, Any]]], spec: SynthSpec, id_column: str | None
) -> Iterator[SynthCall]:
    """``n`` calls per document with text, each on a passage of it."""
    seed = spec.params.seed
    for number, row in rows:
        doc_id = seed_id_of(row, id_column, number)
        text = row.get(spec.text_column)
        if not isinstance(text, str) or not text.strip():
            continue
        passages = chunk(doc_id, text, size=spec.passage_chars, overlap=0)
        if not passages:
            continue
        first = call_seed(seed, "qa-passage", doc_id) % len(passages)
        for k in range(spec.n):
            p = passages[(first + k) % len(passages)]
            values = {"passage": p.text, "title": as_text(row.get("title")) or doc_id, "doc_id": doc_id,
                      "heading": " > ".join(p.heading), "candidate": k + 1, "n": spec.n}  # fmt: skip
            yield SynthCall(doc_id, k, call_seed(seed, "qa", doc_id, k), values, p.text, (p.start, p.end),
                            base={"doc_id": doc_id})  # fmt: skip


def _row_values(row: Mapping[str, Any], spec: SynthSpec) -> dict[str, Any]:
    values = {str(k): v for k, v in row.items()}
    values["text"] = row.get(spec.text_column)
    return values


def paraphrase_calls(
    rows: Iterable[tuple[int, Mapping[str, Any]]], spec: SynthSpec, id_column: str | None
) -> Iterator[SynthCall]:
    seed = spec.params.seed
    for number, row in rows:
        text = row.get(spec.text_column)
        if not isinstance(text, str) or not text.strip():
            continue
        sid = seed_id_of(row, id_column, number)
        base = {k: v for k, v in row.items() if k not in (spec.text_column, id_column)}
        for k in range(spec.n):
            values = {**_row_values(row, spec), "candidate": k + 1, "n": spec.n}
            yield SynthCall(sid, k, call_seed(seed, "paraphrase", sid, k), values, seeds=(text,),
                            base={**base, PARAPHRASE_OF: sid})  # fmt: skip


def custom_calls(
    rows: Iterable[tuple[int, Mapping[str, Any]]], spec: SynthSpec, id_column: str | None
) -> Iterator[SynthCall]:
    seed = spec.params.seed
    for number, row in rows:
        sid = seed_id_of(row, id_column, number)
        for k in range(spec.n):
            values = {**_row_values(row, spec), "candidate": k + 1, "n": spec.n}
            yield SynthCall(sid, k, call_seed(seed, "custom", sid, k), values, base={SEED_ID: sid})


def group_by_label(rows: Iterable[Mapping[str, Any]], spec: SynthSpec) -> dict[str, list[str]]:
    """The seed texts of each label (labels as strings, in first-seen order)."""
    assert spec.label_column is not None
    out: dict[str, list[str]] = {}
    for row in rows:
        label, text = row.get(spec.label_column), row.get(spec.text_column)
        if label is None or not isinstance(text, str) or not text.strip():
            continue
        out.setdefault(str(label), []).append(text)
    return out


def classify_calls(by_label: Mapping[str, Sequence[str]], spec: SynthSpec) -> Iterator[SynthCall]:
    """Per label (``spec.labels`` or every label seen), ``n`` calls, each with its own seeded
    sample of the label's texts as examples."""
    seed = spec.params.seed
    labels = list(spec.labels or by_label)
    for label in labels:
        texts = list(by_label.get(label, ()))
        for k in range(spec.n):
            rng = random.Random(call_seed(seed, "classify-examples", label, k))
            examples = rng.sample(texts, min(spec.examples_per_label, len(texts))) if texts else []
            values = {"label": label, "labels": labels, "examples": examples, "candidate": k + 1, "n": spec.n}
            yield SynthCall(label, k, call_seed(seed, "classify", label, k), values, seeds=tuple(examples))


# -- rows ---------------------------------------------------------------------------------------


def identity_text(task: str, record: Mapping[str, Any], fields: Sequence[str] | None) -> str:
    """The text duplicates are judged on: question (qa), text (paraphrase, classify), or the
    ``fields`` asked for; custom records default to every string value, by key."""
    if fields:
        return "\n".join(as_text(record.get(f)) for f in fields)
    if task == "qa":
        return as_text(record.get("question"))
    if task in ("paraphrase", "classify"):
        return as_text(record.get("text"))
    return "\n".join(as_text(v) for _, v in sorted(record.items()) if isinstance(v, str))


def scalar(value: Any) -> Any:
    """A value as a table cell: scalars kept, anything nested as its JSON text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return as_text(value)


def build_row(
    spec: SynthSpec, call: SynthCall, record: Mapping[str, Any], index: int, key: str | None
) -> dict[str, Any]:
    """The dataset row of an accepted record (``index``: its place in the call's reply)."""
    task = spec.task
    if task == "qa":
        question, answer = as_text(record.get("question")), as_text(record.get("answer"))
        assert call.passage is not None and call.span is not None
        found = call.passage.casefold().find(answer.casefold()) if answer else -1
        return {
            QA_KEY: "q" + row_id(task, call.seed_id, call.candidate, index, normalise(question)),
            "query": question, "answer": answer, "doc_id": call.seed_id, "context": call.passage,
            "start": call.span[0], "end": call.span[1],
            "answer_start": call.span[0] + found if found >= 0 else None, "relevance": 1,
        }  # fmt: skip
    text = as_text(record.get("text"))
    rid = row_id(task, call.seed_id, call.candidate, index, normalise(identity_text(task, record, None)))
    if task == "paraphrase":
        return {**call.base, spec.text_column: text, key or ID: rid}
    if task == "classify":
        assert spec.label_column is not None
        return {ID: rid, spec.text_column: text, spec.label_column: call.seed_id}
    return {ID: rid, **call.base, **{str(k): scalar(v) for k, v in record.items() if str(k) not in (ID, SEED_ID)}}


def output_key(spec: SynthSpec, source_key: str | None) -> str:
    """The key column of the generated rows."""
    if spec.task == "qa":
        return QA_KEY
    if spec.task == "paraphrase" and source_key:
        return source_key
    return ID
