"""The judge metrics with real parts: the shipped SmolLM2 as the judge through the model service,
Ripple's rubric prompts registered as prompt assets and rendered by the prompt service, the
shipped MiniLM for the embedding metrics, and a judge whose server refuses connections.

A 135M-parameter judge often answers off-format; what must hold is that every sample gets
either a score in [0, 1] or a MetricError with a message — never a NaN, never an exception."""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app_support import add_model
from rippleops.domain.access import Principal
from rippleops.domain.eval_judge import default_judge_prompts
from rippleops.domain.eval_metrics import MetricContext, MetricError, Outcome, Sample, parse_metric
from rippleops.domain.prompts import parse_spec
from rippleops.runtime.providers.embedders import OnnxMiniLMEmbedder
from rippleops.services import Services
from rippleops.settings import Settings

P = "default"
CONTEXTS = (
    "To roll back a prompt, move its production label back to the previous version with ripple prompt label.",
    "API tokens are hashed in the database and shown once when created.",
)
SAMPLES = [
    Sample(0, "rollback", "How do I roll back a prompt?", "Move the production label back to the previous version."),
    Sample(1, "tokens", "Are API tokens stored in clear text?", "No, they are hashed and shown once."),
    Sample(2, "capital", "What is the capital of France?", "Paris."),
    Sample(3, "empty", "What is a label?", None),
]
ANSWERS = [
    "Move the production label back to the previous version.",
    "Yes, tokens are stored as plain text.",
    "The capital of France is Paris.",
    "",
]


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


@pytest.fixture
def local(sqlite_settings: Settings) -> Iterator[tuple[Services, Principal]]:
    svc = Services(sqlite_settings)
    yield svc, svc.access.authenticate(sqlite_settings.token_file.read_text().strip())
    svc.close()


def bind(services: Services, who: Principal, model: str, prompts: list[str]) -> MetricContext:
    """What the eval service binds: the judge model as Chat, each rubric as a renderer."""

    def chat(messages: list[dict[str, str]]) -> str:
        return services.models.generate(who, P, model, messages, max_tokens=40, temperature=0.0).text

    def renderer(ref: str) -> Callable[[dict[str, Any]], Any]:
        return lambda variables: services.prompts.render(who, P, ref, variables)

    return MetricContext(chat={model: chat}, prompts={ref: renderer(ref) for ref in prompts})


def score_or_error(metric: Any, sample: Sample, outcome: Outcome, ctx: MetricContext) -> float | str:
    try:
        value = metric.score(sample, outcome, ctx)
    except MetricError as exc:
        assert str(exc), "a MetricError must say why"
        return str(exc)
    assert not math.isnan(value) and 0.0 <= value <= 1.0, value
    return value


@pytest.mark.slow
def test_the_local_model_judges_with_the_shipped_rubrics(local: tuple[Services, Principal]) -> None:
    services, who = local
    model = add_model(services, who, "judge")
    refs = []
    for name, spec in default_judge_prompts().items():
        services.prompts.create(who, P, name, parse_spec(spec, name))
        refs.append(f"prompt/{name}@latest")
    ctx = bind(services, who, model, refs)
    metrics = [
        parse_metric(
            {"name": "judge", "as": "correctness", "prompt": "prompt/judge-correctness@latest", "model": model}
        ),
        parse_metric(
            {"name": "answer_relevancy", "mode": "llm", "model": model, "prompt": "prompt/judge-relevancy@latest"}
        ),
        parse_metric({"name": "faithfulness", "mode": "llm", "model": model, "retries": 1}),  # the built-in rubric
        parse_metric({"name": "context_precision", "mode": "llm", "model": model, "retries": 0}),
        parse_metric({"name": "context_recall", "mode": "llm", "model": model, "retries": 0}),
    ]
    results: dict[str, list[float | str]] = {m.name: [] for m in metrics}
    for sample, answer in zip(SAMPLES, ANSWERS, strict=True):
        outcome = Outcome(answer, contexts=CONTEXTS)
        for m in metrics:
            results[m.name].append(score_or_error(m, sample, outcome, ctx))
    print(results)  # what the small judge made of it, for the note
    assert len(results["correctness"]) == 4
    scored = [v for vs in results.values() for v in vs if isinstance(v, float)]
    assert scored, "the judge scored nothing at all"
    for name, values in results.items():
        for v in values:
            if isinstance(v, str):
                assert v.startswith(("judge model/judge@production", name)), v


@pytest.mark.slow
def test_embedding_metrics_with_the_shipped_minilm() -> None:
    embedder = OnnxMiniLMEmbedder(threads=1)
    try:
        ctx = MetricContext(embed=embedder.embed)
        similar = parse_metric({"name": "semantic_similarity", "embedder": "embedder/minilm"})
        close = similar.score(SAMPLES[0], Outcome("Move the production label back one version."), ctx)
        far = similar.score(SAMPLES[0], Outcome("Bananas are yellow."), ctx)
        assert 0.6 < close <= 1.0 and far < close
        faithful = parse_metric({"name": "faithfulness", "embedder": "embedder/minilm", "threshold": 0.6})
        answer = "Move the production label back to the previous version. Bananas grow on trees."
        assert faithful.score(SAMPLES[0], Outcome(answer, contexts=CONTEXTS), ctx) == 0.5
        relevant = parse_metric({"name": "answer_relevancy", "embedder": "embedder/minilm"})
        on = relevant.score(SAMPLES[0], Outcome("Move the production label back."), ctx)
        off = relevant.score(SAMPLES[0], Outcome("Bananas are yellow."), ctx)
        assert 0.0 <= off < on <= 1.0
    finally:
        embedder.close()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_a_judge_that_is_down_records_an_error(services: Services, admin: Principal, refused_url: str) -> None:
    services.models.create(
        admin, P, "down", {"provider": "openai", "base_url": refused_url, "model": "m", "retries": 0}
    )
    spec = default_judge_prompts()["judge-correctness"]
    services.prompts.create(admin, P, "judge-correctness", parse_spec(spec))
    ctx = bind(services, admin, "model/down", ["prompt/judge-correctness"])
    judge = parse_metric({"name": "judge", "prompt": "prompt/judge-correctness", "model": "model/down"})
    with pytest.raises(
        MetricError, match=r"^judge model/down is unavailable: model/down:1: cannot reach the chat server"
    ):
        judge.score(SAMPLES[0], Outcome(ANSWERS[0], contexts=CONTEXTS), ctx)
    faithful = parse_metric({"name": "faithfulness", "mode": "llm", "model": "model/down"})
    with pytest.raises(MetricError, match=r"^judge model/down is unavailable"):
        faithful.score(SAMPLES[0], Outcome(ANSWERS[0], contexts=CONTEXTS), ctx)
