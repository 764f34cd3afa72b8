"""Comparing two eval runs and rendering the reports: paired bootstrap, compare_runs and the
HTML pages over runs of 100 and 2,000 samples with 5 metrics (pure: no database)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np

from rippleops.domain.eval_compare import compare_runs
from rippleops.domain.eval_stats import aggregate, paired_bootstrap
from rippleops.domain.records import EvalRunRecord, EvalSampleRecord
from rippleops.services.eval_report import render_compare_html, render_run_html

METRICS = ("rouge_l", "contains", "exact_match", "semantic_similarity", "latency_ms")


def make_run(
    run_id: int, n: int, shift: float, rng: np.random.Generator
) -> tuple[EvalRunRecord, list[EvalSampleRecord]]:
    scores = {m: np.clip(rng.uniform(0, 1, n) + shift, 0, 1) for m in METRICS[:-1]}
    latency = rng.uniform(200, 2000, n)
    samples = [
        EvalSampleRecord(idx=i, key=f"q{i}", input=f"question {i}", output={"text": f"answer {i}"},
                         scores={m: float(scores[m][i]) for m in scores}, latency_ms=float(latency[i]))
        for i in range(n)
    ]  # fmt: skip
    aggs = {m: aggregate(list(scores[m])) for m in scores} | {"latency_ms": aggregate(list(latency))}
    run = EvalRunRecord(
        id=run_id, project="default", suite="suite/qa:1", target=f"app/bot:{run_id}", dataset="dataset/qa:1",
        dataset_hash="d", state="succeeded", samples=n, aggregates=aggs,
        created_at=datetime.now(UTC), created_by="bench",
    )  # fmt: skip
    return run, samples


def ms(fn: object, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    rng = np.random.default_rng(0)
    for n in (100, 2000):
        a, sa = make_run(1, n, 0.0, rng)
        b, sb = make_run(2, n, 0.02, rng)
        x, y = list(rng.uniform(0, 1, n)), list(rng.uniform(0, 1, n))
        boot = ms(lambda x=x, y=y: paired_bootstrap(x, y))
        cmp_ms = ms(lambda a=a, sa=sa, b=b, sb=sb: compare_runs(a, sa, b, sb))
        compare = compare_runs(a, sa, b, sb)
        render_compare_html(compare)  # warm: plotly.js read once per process
        page = ms(lambda c=compare: render_compare_html(c), repeat=3)
        run_page = ms(lambda a=a, sa=sa: render_run_html(a, sa), repeat=3)
        size = len(render_compare_html(compare)) / 1e6
        print(f"{n:>5} samples x {len(METRICS)} metrics: paired bootstrap (2,000 resamples) {boot:.1f} ms, "
              f"compare_runs {cmp_ms:.1f} ms, compare page {page:.0f} ms ({size:.1f} MB), run page {run_page:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
