"""The ONNX MiniLM embedder: texts/s at batch 64 on ~2,000 varied support-desk sentences,
p50/p95 latency of one short text, and resident memory after loading and after the run.

    .venv/bin/python benchmarks/embed.py [N_TEXTS] [THREADS] [DATABASE_URL]

Then the same texts through ``services.embedders.embed`` (the embedding cache on the home's
SQLite, or on DATABASE_URL's PostgreSQL) in calls of 64: cold (every text embedded and
stored) and warm (every text read from the cache).

Needs the embed extra (pip install -e '.[embed]'). Offline: HF_HUB_OFFLINE=1 is set.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import random
import resource
import statistics
import sys
import time

from rippleops.runtime.providers.embedders import OnnxMiniLMEmbedder

SUBJECTS = [
    "The customer",
    "Our billing system",
    "A new employee",
    "The support bot",
    "My laptop",
    "The mobile app",
    "The warehouse team",
    "This invoice",
    "The nightly backup",
    "Our largest client",
]
VERBS = [
    "cannot find",
    "keeps asking about",
    "was updated to handle",
    "explains",
    "refuses to open",
    "depends on",
    "sent three emails about",
    "charged twice for",
]
OBJECTS = [
    "the password reset page",
    "last month's invoice",
    "a refund for a damaged item",
    "the holiday opening hours",
    "the quarterly usage report",
    "two-factor authentication on a new phone",
    "the delayed delivery to Berlin",
    "an export of all tickets as CSV",
    "the API rate limits for the free tier",
]
TAILS = [
    "",
    " Please advise.",
    " It started after yesterday's update and happens on every device we tried.",
    " We already cleared the cache, reinstalled the app, restarted the router and asked a colleague to try from "
    "another office, but the error message stays the same and nobody on the team can work around it.",
]


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` deterministic, varied sentences from 6 to ~60 words."""
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}.{rng.choice(TAILS)}" for _ in range(n)]


def rss_mib() -> str:
    """Resident memory now (Linux) and the peak so far (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open("/proc/self/statm") as statm:
            now = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return f"peak {peak:6.1f} MiB"
    return f"now {now:6.1f} MiB, peak {peak:6.1f} MiB"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
    texts = sentences(n)
    print(f"python + imports                                   RSS {rss_mib()}")

    started = time.perf_counter()
    embedder = OnnxMiniLMEmbedder(threads=threads)
    print(f"load model + tokenizer       {time.perf_counter() - started:8.2f} s            RSS {rss_mib()}")

    embedder.embed(texts[:64])  # warm-up: first run allocates onnxruntime's arenas
    started = time.perf_counter()
    vectors = embedder.embed(texts, batch_size=64)
    elapsed = time.perf_counter() - started
    print(
        f"embed {n} texts, batch 64   {n / elapsed:8.1f} texts/s  ({elapsed:.2f} s)  RSS {rss_mib()}"
        f"   shape {vectors.shape}"
    )

    short = ["how do I reset my password?"]
    for _ in range(20):
        embedder.embed(short)
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        embedder.embed(short)
        samples.append(time.perf_counter() - started)
    samples.sort()
    print(
        f"one short text               p50 {samples[100] * 1e3:6.2f} ms   p95 {samples[190] * 1e3:6.2f} ms"
        f"   mean {statistics.mean(samples) * 1e3:6.2f} ms"
    )
    print(f"threads={threads or 'default'}  cpus={os.cpu_count()}  load average {os.getloadavg()[0]:.1f}")
    through_the_service(texts, sys.argv[3] if len(sys.argv) > 3 else None)


def through_the_service(texts: list[str], database_url: str | None) -> None:
    """Cold and warm texts/s of ``services.embedders.embed`` in calls of 64 texts."""
    sys.path.insert(0, os.path.dirname(__file__))
    from _common import fresh_home

    from rippleops.services import Services

    texts = [f"{text} Ticket {i}." for i, text in enumerate(texts)]  # distinct: a cold run embeds every one
    settings = fresh_home(database_url)
    services = Services(settings)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    services.embedders.create(admin, "default", "minilm", {"provider": "minilm"})
    where = "PostgreSQL" if database_url else "SQLite"
    _, direct = services.embedders.embedder(admin, "default", "minilm")
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        direct.embed([f"{t} (direct)" for t in texts[start : start + 64]], batch_size=64)
    elapsed = time.perf_counter() - started
    print(f"the embedder itself, no cache, calls of 64       {len(texts) / elapsed:9.1f} texts/s   (the same texts)")
    for run in ("cold", "warm"):
        started = time.perf_counter()
        for start in range(0, len(texts), 64):
            services.embedders.embed(admin, "default", "minilm", texts[start : start + 64])
        elapsed = time.perf_counter() - started
        stats = services.embedding_cache.stats
        print(
            f"service embed, cache {run} ({where}), calls of 64   {len(texts) / elapsed:9.1f} texts/s"
            f"   (model calls so far {stats.model_calls}, hits {stats.hits})"
        )
    services.close()


if __name__ == "__main__":
    main()
