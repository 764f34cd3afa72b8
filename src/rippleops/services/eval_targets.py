"""Calling the target of an eval run on one sample: an app version (one traced call), a
prompt version (rendered and generated with the suite's model or the prompt's own) or an
index version (retrieval only, no generation). Each gives an :class:`Outcome` for the
metrics and the ``output`` stored with the sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rippleops.domain import templating
from rippleops.domain.access import Principal
from rippleops.domain.apps import BUILTIN_VARIABLES
from rippleops.domain.eval_metrics import Outcome, Sample
from rippleops.errors import InvalidError

if TYPE_CHECKING:
    from rippleops.services import Services

#: how many chunks an index target retrieves per sample
INDEX_K = 10
INPUT_KEYS = ("question", "input", "query")


@dataclass(frozen=True, slots=True)
class Called:
    outcome: Outcome
    output: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None


Caller = Callable[[Sample], Called]


def target_caller(
    services: Services, principal: Principal, project: str, kind: str, exact: str, model: str | None
) -> Caller:
    """The function that calls ``exact`` (an app, prompt or index version) on a sample."""
    if kind == "app":
        services.apps.compiled(principal, project, exact)  # a target that cannot run fails the run at once
        return _app(services, principal, project, exact)
    if kind == "prompt":
        return _prompt(services, principal, project, exact, model)
    if kind == "index":
        services.indexes.get(principal, project, exact)
        return _index(services, principal, project, exact)
    raise InvalidError(f"a suite scores an app, a prompt or an index, not a {kind}")


def _app(services: Services, principal: Principal, project: str, exact: str) -> Caller:
    def call(sample: Sample) -> Called:
        record = services.apps.invoke(principal, project, exact, app_request(sample.input))
        contexts = tuple(str(s.get("text") or "") for s in record.sources)
        retrieved = _unique(str(s.get("doc_id")) for s in record.sources if s.get("doc_id") is not None)
        outcome = Outcome(
            text=record.output, contexts=contexts, retrieved=retrieved, blocked=record.blocked,
            latency_ms=record.latency_s * 1000.0, tokens=record.usage.total_tokens, cost=record.cost.total,
        )  # fmt: skip
        output = {
            "text": record.output, "contexts": list(contexts), "retrieved": list(retrieved),
            "sources": [{k: s.get(k) for k in ("doc_id", "score", "index")} for s in record.sources],
            "blocked": record.blocked, "finish_reason": record.finish_reason,
        }  # fmt: skip
        return Called(outcome, output, record.trace_id)

    return call


def app_request(value: Any) -> dict[str, Any]:
    """An app request from a sample's input: a text is the question; a mapping gives the
    question (its ``question``/``input``/``query``) and the rest as variables."""
    if isinstance(value, Mapping):
        question = next((value[k] for k in INPUT_KEYS if isinstance(value.get(k), str)), None)
        if question is None:
            raise InvalidError(f"the sample's input has no question ({', '.join(INPUT_KEYS)}): {sorted(value)}")
        rest = {k: v for k, v in value.items() if k not in INPUT_KEYS and k not in BUILTIN_VARIABLES}
        return {"input": question, **({"variables": rest} if rest else {})}
    return {"input": "" if value is None else str(value)}


def _prompt(services: Services, principal: Principal, project: str, exact: str, model: str | None) -> Caller:
    record = services.prompts.get(principal, project, exact)
    names = sorted(record.variables) or sorted(
        templating.infer_variables(record.type, record.template, record.messages, record.includes)
    )
    if model is None and not record.model:
        raise InvalidError(f"{exact} names no model; give the suite `model: model/NAME@LABEL` to run it with")

    def call(sample: Sample) -> Called:
        values = prompt_values(sample.input, names, exact)
        gen = services.prompt_runs.run_with(principal, project, exact, values, model, {})
        outcome = Outcome(
            text=gen.text, latency_ms=gen.latency_s * 1000.0, tokens=gen.usage.total_tokens, cost=gen.cost.total
        )
        output = {"text": gen.text, "finish_reason": gen.finish_reason, "model": gen.model}
        return Called(outcome, output, None)

    return call


def prompt_values(value: Any, names: list[str], prompt: str) -> dict[str, Any]:
    """A prompt's variables from a sample's input: a mapping as is; a text goes to the
    prompt's ``input``/``question``/``query`` variable, or to its only variable."""
    if isinstance(value, Mapping):
        return dict(value)
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    for key in (*INPUT_KEYS, "text"):
        if key in names:
            return {key: text}
    if len(names) == 1:
        return {names[0]: text}
    raise InvalidError(
        f"{prompt} takes the variables {', '.join(names) or 'none'}; a text input cannot fill them: "
        "give the dataset an input column of objects (one value per variable)"
    )


def _index(services: Services, principal: Principal, project: str, exact: str) -> Caller:
    def call(sample: Sample) -> Called:
        query = app_request(sample.input)["input"]
        result = services.search.search(principal, project, exact, query, k=INDEX_K)
        contexts = tuple(h.text for h in result.hits)
        retrieved = _unique(h.doc_id for h in result.hits)
        outcome = Outcome(contexts=contexts, retrieved=retrieved, latency_ms=result.took_ms)
        output = {"text": "", "contexts": list(contexts), "retrieved": list(retrieved),
                  "hits": [{"doc_id": h.doc_id, "score": h.score, "rank": h.rank} for h in result.hits]}  # fmt: skip
        return Called(outcome, output, None)

    return call


def _unique(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
