"""Eval metric cost per sample: the reference, retrieval and heuristic RAG metrics on realistic
samples (~1-sentence questions, 2-3 sentence answers, 3 retrieved chunks of ~300 characters),
and with ``--judge`` the LLM judge on the shipped SmolLM2 (one CPU thread): latency per sample
and the share of samples it managed to score.

    .venv/bin/python benchmarks/eval_metrics.py [N] [--judge]

Needs the eval extra (and llm for --judge). Prints one table; no assertions.
"""

from __future__ import annotations

import os
import sys
import time

from _common import fresh_home, report, timed

from rippleops.domain.eval_metrics import MetricContext, MetricError, Outcome, Sample, parse_metric

CONTEXTS = (
    "To roll back a prompt, move its production label back to the previous version with `ripple prompt label "
    "NAME production N`. Labels are movable pointers; the versions themselves never change, so a rollback is "
    "instant and the newer version stays available for another try after it has been evaluated.",
    "A new dataset version rebuilds the index: only changed chunks are embedded again, unchanged chunks are "
    "reused from the previous version, so rebuilding after a small edit takes seconds instead of minutes.",
    "API tokens are hashed in the database and shown once when created. Revoke a token with `ripple token "
    "revoke ID`; a revoked token stops working at once on every server that shares the database.",
)
SAMPLE = Sample(
    0, "rollback", "How do I roll back a prompt to the version before yesterday's change?",
    "Move the prompt's production label back to the previous version with ripple prompt label.",
    relevant=("rollback.md",),
)  # fmt: skip
OUTCOME = Outcome(
    "Move the production label of the prompt back to the previous version. The newer version stays available. "
    "You can try it again after an evaluation.",
    contexts=CONTEXTS, retrieved=("rollback.md", "index.md", "auth.md"),
)  # fmt: skip
METRICS = [
    "exact_match", "contains", "rouge_l", "bleu", "recall", "ndcg", "mrr",
    "faithfulness", "answer_relevancy", "context_precision", "context_recall",
]  # fmt: skip


def judge(n: int) -> None:
    from rippleops.domain.eval_judge import default_judge_prompts
    from rippleops.domain.prompts import parse_spec
    from rippleops.services import Services

    os.environ.setdefault("RIPPLE_LLM_THREADS", "1")
    settings = fresh_home()
    services = Services(settings)
    who = services.access.authenticate(settings.token_file.read_text().strip())
    services.models.create(who, "default", "judge", {"provider": "local"})
    spec = default_judge_prompts()["judge-correctness"]
    services.prompts.create(who, "default", "judge-correctness", parse_spec(spec))
    calls = [0]

    def chat(messages: list[dict[str, str]]) -> str:
        calls[0] += 1
        return services.models.generate(who, "default", "model/judge", messages, max_tokens=40, temperature=0.0).text

    ctx = MetricContext(
        chat={"model/judge": chat},
        prompts={
            "prompt/judge-correctness": lambda v: services.prompts.render(who, "default", "prompt/judge-correctness", v)
        },
    )
    metric = parse_metric({"name": "judge", "prompt": "prompt/judge-correctness", "model": "model/judge"})
    chat([{"role": "user", "content": "hi"}])  # load the weights before timing
    calls[0] = 0
    scored, times = 0, []
    for i in range(n):
        t = time.perf_counter()
        try:
            metric.score(SAMPLE, Outcome(OUTCOME.text if i % 2 else "Press the undo button.", contexts=CONTEXTS), ctx)
            scored += 1
        except MetricError:
            pass
        times.append(time.perf_counter() - t)
    report(f"judge (SmolLM2-135M, {calls[0] / n:.1f} calls/sample)", times, unit="ms")
    print(f"judge: {scored}/{n} samples scored, the rest recorded as errors")
    services.close()


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), "2000"))
    ctx = MetricContext()
    for name in METRICS:
        metric = parse_metric(name)
        report(name, timed(lambda m=metric: m.score(SAMPLE, OUTCOME, ctx), n))  # type: ignore[misc]
    if "--judge" in sys.argv:
        judge(min(n, 10))


if __name__ == "__main__":
    main()
