"""Eval runs and samples made up for report tests (records only; no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from rippleops.domain.eval_stats import aggregate
from rippleops.domain.records import EvalRunRecord, EvalSampleRecord

HOSTILE = "<script>alert(1)</script>"


def run_with_samples(
    run_id: int, target: str, shift: float, *, n: int = 24, hostile: bool = False
) -> tuple[EvalRunRecord, list[EvalSampleRecord]]:
    """A run of ``suite/support-qa:1`` whose rouge_l is ``0.3 + shift`` give or take, and whose
    latency grows with the shift (a better but slower B)."""
    samples = []
    for i in range(n):
        rouge = min(1.0, max(0.0, 0.3 + (i % 5) * 0.1 + shift * (1 if i % 4 else -1)))
        latency = 400.0 + 25 * i + 600 * shift
        text = HOSTILE if hostile and i == 3 else f"answer {i} from {target} & co"
        samples.append(
            EvalSampleRecord(
                idx=i, key=f"q{i:02d}", input=f"question {i} <b>bold</b>?", expected=f"reference {i}",
                output={"text": text}, scores={"rouge_l": rouge, "contains": float(i % 3 != 0)},
                latency_ms=latency, tokens=20 + i, cost=0.0,
            )
        )  # fmt: skip
    aggregates = {
        "rouge_l": aggregate([s.scores["rouge_l"] for s in samples]),
        "contains": aggregate([s.scores["contains"] for s in samples]),
        "latency_ms": aggregate([s.latency_ms for s in samples]),
    }
    run = EvalRunRecord(
        id=run_id, project="default", suite="suite/support-qa:1", target=target, dataset="dataset/support-qa:1",
        dataset_hash="d" * 64, state="succeeded", samples=n, done=n, aggregates=aggregates,
        created_at=datetime(2026, 12, 7, 9, 0, tzinfo=UTC), created_by="alice", duration_s=12.5,
    )  # fmt: skip
    return run, samples
