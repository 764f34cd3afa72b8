"""App serving overhead: what an app call costs besides the model and the retrieval.

A guarded RAG app (input guard -> hybrid retrieval over a small knowledge base with the
shipped MiniLM -> render -> SmolLM2 with max_tokens 1 -> output guard) is invoked through
``services.apps.invoke``; the overhead of a call is its wall time minus the durations of its
``retrieve`` and ``generate`` steps (as the run record reports them from their spans). It
covers request parsing, authorisation and the app reference lookup, the compiled-app cache,
both guards, rendering, building the model call, spans and the record — and, on a busy
machine, whatever the background threads (the trace writer, the embedder's and LanceDB's
pools) take from it. A second figure times calls the input guard blocks: the same path with
no retrieval and no model at all.

    .venv/bin/python benchmarks/app_overhead.py [RUNS] [POSTGRES_URL]

Target: < 2 ms p50. Offline: HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RIPPLE_LLM_THREADS", "1")

import statistics
import sys
import time

from _common import fresh_home

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from app_support import P, add_model, add_rag_prompt, build_kb, rag_app
from rippleops.services import Services


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    settings = fresh_home(sys.argv[2] if len(sys.argv) > 2 else None)
    services = Services(settings)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    build_kb(services, admin)
    add_model(services, admin)
    add_rag_prompt(services, admin)
    services.policies.create(admin, P, "support", {
        "input": [{"type": "regex", "pattern": r"[\w.]+@[\w.]+", "action": "redact"},
                  {"type": "deny", "words": ["password", "secret key"]}],
        "output": [{"type": "length", "max_chars": 400, "action": "fix"}],
    })  # fmt: skip
    app = rag_app()
    app["steps"] = [{"guard_input": "policy/support"}, *app["steps"], {"guard_output": "policy/support"}]
    app["steps"][3]["generate"]["params"] = {"max_tokens": 1}
    services.apps.create(admin, P, "bot", app)
    services.labels.set(admin, P, "app/bot", "production", 1)
    request = {"input": "How do I roll back a prompt to the previous version?"}

    def one() -> tuple[float, float, float]:
        t = time.perf_counter()
        out = services.apps.invoke(admin, P, "bot@production", request)
        wall = (time.perf_counter() - t) * 1000
        parts = {s["name"]: s["latency_ms"] for s in out.steps}
        return wall, parts["retrieve"], parts["generate"]

    for _ in range(20):
        one()
    samples = [one() for _ in range(runs)]
    overhead = sorted(w - r - g for w, r, g in samples)
    walls = sorted(w for w, _, _ in samples)

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    db = "postgresql" if len(sys.argv) > 2 else "sqlite"
    print(f"app overhead ({db}, {runs} calls of a guarded RAG app; wall minus retrieve and generate):")
    print(f"  overhead   p50 {pct(overhead, 0.5):7.3f} ms   p99 {pct(overhead, 0.99):7.3f} ms   (target < 2 ms p50)")
    print(f"  whole call p50 {pct(walls, 0.5):7.3f} ms   p99 {pct(walls, 0.99):7.3f} ms")
    print(f"  retrieve   p50 {statistics.median(r for _, r, _ in samples):7.3f} ms   "
          f"generate p50 {statistics.median(g for _, _, g in samples):7.3f} ms")  # fmt: skip

    # The same machinery with nothing to wait for: the input guard blocks, so no retrieval and
    # no model run; what is left is parsing, authorisation, lookup, the guard, spans, the record.
    blocked = {"input": "What is the admin password?"}
    for _ in range(50):
        services.apps.invoke(admin, P, "bot@production", blocked)
    times = []
    for _ in range(max(runs, 500)):
        t = time.perf_counter()
        services.apps.invoke(admin, P, "bot@production", blocked)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(
        f"  a blocked call (the app path alone, {len(times)} calls): p50 {pct(times, 0.5):.3f} ms   "
        f"p99 {pct(times, 0.99):.3f} ms"
    )
    services.close()


if __name__ == "__main__":
    main()
