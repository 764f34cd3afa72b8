"""Real parts for the sweep tests (importable as ``sweep_support``): the app tests' knowledge
base index (MiniLM), the shipped SmolLM2, the demo's RAG prompt, an ``app/bot`` that retrieves,
renders and generates (label production), a 3-row QA dataset and a suite scoring it with
``contains`` and ``exact_match``."""

from __future__ import annotations

from typing import Any

from app_support import add_model, add_rag_prompt, build_kb
from eval_support import QA, add_qa_dataset
from rippleops.domain.access import Principal
from rippleops.services import Services

P = "default"


def bot_spec(k: int = 2) -> dict[str, Any]:
    return {
        "steps": [
            {"retrieve": {"index": "index/kb@production", "k": k, "mode": "hybrid", "max_chars": 200}},
            {"render": {"prompt": "prompt/rag"}},
            {"generate": {"model": "model/local-smollm@production", "params": {"max_tokens": 6, "temperature": 0}}},
        ]
    }


def build_sweep_world(services: Services, who: Principal) -> None:
    """index/kb, model/local-smollm, prompt/rag, app/bot:1 (production), dataset/qa, suite/qa."""
    build_kb(services, who)
    add_model(services, who)
    add_rag_prompt(services, who)
    services.apps.create(who, P, "bot", bot_spec())
    services.labels.set(who, P, "app/bot", "production", 1)
    add_qa_dataset(services, who, QA[:3])
    services.suites.create(
        who,
        P,
        "qa",
        {"dataset": "dataset/qa", "target": "app", "metrics": ["contains", "exact_match"], "concurrency": 1},
    )
