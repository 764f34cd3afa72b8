"""Real parts for the eval tests (importable as ``eval_support``): a small QA dataset, the
shipped SmolLM2 as ``model/local-smollm``, a one-line prompt and an app over them
(``app/bot``, label production on version 1), and a suite that scores it with metrics that
need no model of their own."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from rippleops.domain.access import Principal
from rippleops.domain.prompts import parse_spec
from rippleops.services import Services

P = "default"
QA = [
    ("q1", "How do I roll back a prompt?", "move the production label"),
    ("q2", "How do I rerun a failed job?", "ripple job rerun"),
    ("q3", "Which search modes are there?", "vector, bm25 and hybrid"),
    ("q4", "How do I check the audit log?", "ripple audit verify"),
]
PROVENANCE = {"source": "tests", "license": "Apache-2.0", "created_by": "tests"}


def add_qa_dataset(services: Services, who: Principal, rows: list[tuple[str, str, str]] | None = None) -> str:
    rows = QA if rows is None else rows
    table = pa.table({"id": [r[0] for r in rows], "question": [r[1] for r in rows], "answer": [r[2] for r in rows]})
    return services.datasets.create_from_table(who, P, "qa", table, provenance=PROVENANCE, key="id").ref


def bot_spec(model: str = "model/local-smollm@production", max_tokens: int = 6) -> dict[str, Any]:
    return {"steps": [{"render": {"prompt": "prompt/ask"}},
                      {"generate": {"model": model, "params": {"max_tokens": max_tokens, "temperature": 0}}}]}  # fmt: skip


def build_bot(services: Services, who: Principal) -> str:
    """dataset/qa:1, model/local-smollm (production), prompt/ask, app/bot:1 (production)."""
    add_qa_dataset(services, who)
    services.models.create(who, P, "local-smollm", {"provider": "local"})
    services.labels.set(who, P, "model/local-smollm", "production", 1)
    services.prompts.create(who, P, "ask", parse_spec({"template": "Answer in a few words: {{ question }}"}))
    services.apps.create(who, P, "bot", bot_spec())
    services.labels.set(who, P, "app/bot", "production", 1)
    return "app/bot:1"


def suite_spec(**extra: Any) -> dict[str, Any]:
    return {
        "description": "the bot against short reference answers",
        "dataset": "dataset/qa",
        "target": "app",
        "metrics": ["contains", "exact_match", {"name": "regex", "pattern": r"\w", "as": "nonempty"}],
        "gates": [
            {"metric": "nonempty", "min": 0.5},
            {"metric": "latency_ms", "stat": "p95", "max": 120000},
            {"metric": "nonempty", "max_regression": 0.1},
        ],
        "targets": ["app/bot"],
        "concurrency": 2,
        **extra,
    }
