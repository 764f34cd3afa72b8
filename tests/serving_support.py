"""Real apps for the serving tests (importable as ``serving_support``): the shipped SmolLM2
behind a small chat prompt, with or without an input guard; and apps over an
OpenAI-provider model (never called) for the deployment tests that only pin versions."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from rippleops.domain.access import Principal
from rippleops.domain.prompts import parse_spec
from rippleops.services import Services
from rippleops.store.models.traces import Span

P = "default"
CHAT_PROMPT = {
    "messages": [
        {"role": "system", "content": "Answer in one short sentence."},
        {"role": "user", "content": "{{ question }}"},
    ],
    "variables": {"question": {"type": "string"}},
    "params": {"temperature": 0, "max_tokens": 16},
}
BLOCK_POLICY = {
    "input": [{"type": "deny", "words": ["password"], "action": "block"}],
    "safe_answer": "I can't help with that.",
}


def chat_app(
    model: str = "model/local-smollm@production", *, guard: str | None = None, max_tokens: int = 16
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    if guard:
        steps.append({"guard_input": guard})
    steps += [
        {"render": {"prompt": "prompt/chat"}},
        {"generate": {"model": model, "params": {"max_tokens": max_tokens}}},
    ]
    return {"description": "answers in one sentence", "steps": steps}


def local_apps(services: Services, who: Principal) -> None:
    """model/local-smollm@production, prompt/chat, policy/no-secrets, and the apps
    support-bot (labels production and staging on version 1), guarded-bot and long-bot."""
    services.models.create(who, P, "local-smollm", {"provider": "local"})
    services.labels.set(who, P, "model/local-smollm", "production", 1)
    services.prompts.create(who, P, "chat", parse_spec(CHAT_PROMPT))
    services.policies.create(who, P, "no-secrets", BLOCK_POLICY)
    services.apps.create(who, P, "support-bot", chat_app())
    services.labels.set(who, P, "app/support-bot", "production", 1)
    services.apps.create(who, P, "guarded-bot", chat_app(guard="policy/no-secrets"))
    services.apps.create(who, P, "long-bot", chat_app(max_tokens=400))


def remote_model_apps(services: Services, who: Principal, url: str = "http://127.0.0.1:9/v1") -> None:
    """model/remote (OpenAI provider, never called), prompt/chat and app/support-bot with
    two versions (1 and 2), for deployment tests that render templates."""
    services.models.create(who, P, "remote", {"provider": "openai", "model": "m", "base_url": url})
    services.prompts.create(who, P, "chat", parse_spec(CHAT_PROMPT))
    services.apps.create(who, P, "support-bot", chat_app("model/remote"))
    services.apps.create(who, P, "support-bot", chat_app("model/remote", max_tokens=32))


def root_span(services: Services, trace_id: str, timeout: float = 20.0) -> Span:
    """The stored root span of a trace (flushing the ingest queue until it is there)."""
    deadline = time.monotonic() + timeout
    while True:
        services.trace_ingest.flush()
        with services.db.reading() as s:
            row = s.execute(
                select(Span).where(Span.trace_id == trace_id, Span.parent_id.is_(None))
            ).scalar_one_or_none()
            if row is not None:
                s.expunge(row)
                return row
        if time.monotonic() > deadline:
            raise AssertionError(f"no root span for trace {trace_id} after {timeout} s")
        time.sleep(0.1)


def spans(services: Services, trace_id: str) -> list[Span]:
    services.trace_ingest.flush()
    with services.db.reading() as s:
        rows = list(s.execute(select(Span).where(Span.trace_id == trace_id).order_by(Span.start_ns)).scalars())
        for row in rows:
            s.expunge(row)
        return rows
