"""Model assets over the local SmolLM2: what the service layer adds to the runtime.

- creating the first local version (loads the GGUF and hashes the weights), and a second
  ``Services`` in the same process (the loaded model is shared);
- greedy tokens/s for a 128-token completion through ``ModelService.generate``, next to the
  runtime's own number on the same loaded model;
- per-call overhead of the service (resolve the version, merge and check parameters, usage
  and cost) on a one-token completion of a cached prompt;
- time to first token through ``ModelService.stream`` and through a real server (HTTP +
  Server-Sent Events, the remote SDK).

    .venv/bin/python benchmarks/models.py [RUNS] [POSTGRES_URL]

Needs the llm extra and the weights (see benchmarks/llm.py). Offline: HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import statistics
import sys
import time
from typing import Any

from _common import fresh_home, report, timed

from rippleops import Client
from rippleops.services import Services
from rippleops.services.model_providers import SHARED_POOL

PROMPT = "Write a long story about a lighthouse keeper and a storm."
COMPLETION_TOKENS = 128


def start_server(settings: Any) -> Any:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from support import start_server as start

    return start(settings)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    settings = fresh_home(sys.argv[2] if len(sys.argv) > 2 else None)
    services = Services(settings)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    p = "default"

    started = time.perf_counter()
    services.models.create(admin, p, "local-smollm", {"provider": "local"})
    print(f"first local version (load + sha256 of the weights)  {time.perf_counter() - started:8.2f} s")
    other = Services(settings)
    started = time.perf_counter()
    other.models.create(admin, p, "local-smollm", {"provider": "local", "params": {"max_tokens": 64}})
    print(f"a second version, another Services (shared model)    {time.perf_counter() - started:8.3f} s")

    services.models.generate(admin, p, "local-smollm", PROMPT, max_tokens=8)  # warm-up
    rates, runtime_rates = [], []
    provider = SHARED_POOL.local(None, 2048, settings.llm_threads)  # the instance the service uses
    for _ in range(runs):
        out = services.models.generate(admin, p, "local-smollm", PROMPT, max_tokens=COMPLETION_TOKENS)
        assert out.usage.completion_tokens == COMPLETION_TOKENS, out
        rates.append(out.usage.completion_tokens / out.latency_s)
        direct = provider.generate([{"role": "user", "content": PROMPT}], max_tokens=COMPLETION_TOKENS)
        runtime_rates.append(direct.tokens_per_s)
    print(
        f"greedy {COMPLETION_TOKENS} tokens: service {statistics.median(rates):6.1f} tokens/s, "
        f"runtime {statistics.median(runtime_rates):6.1f} tokens/s (median of {runs})"
    )

    messages = [{"role": "user", "content": PROMPT}]
    provider.generate(messages, max_tokens=1)
    report(
        "runtime generate, 1 token, cached prompt",
        timed(lambda: provider.generate(messages, max_tokens=1), 50, 5),
        "ms",
    )
    report(
        "service generate, 1 token, cached prompt",
        timed(lambda: services.models.generate(admin, p, "local-smollm", PROMPT, max_tokens=1), 50, 5),
        "ms",
    )

    ttfts = []
    for i in range(runs):
        stream = services.models.stream(admin, p, "local-smollm", f"{PROMPT} Chapter {i + 1}.", max_tokens=16)
        for _ in stream:
            pass
        assert stream.record.time_to_first_token_s is not None
        ttfts.append(stream.record.time_to_first_token_s)
    print(f"service stream, time to first token                  {statistics.median(ttfts) * 1000:8.1f} ms (median)")

    server = start_server(settings)
    try:
        rp = Client(url=server.url, token=settings.token_file.read_text().strip(), settings=settings)
        remote = []
        for i in range(runs):
            t = time.perf_counter()
            stream = rp.models.stream("local-smollm", f"{PROMPT} Part {i + 1}.", max_tokens=16)
            next(stream)
            remote.append(time.perf_counter() - t)
            for _ in stream:
                pass
        print(
            f"remote SDK stream (HTTP + SSE), first delta in hand   {statistics.median(remote) * 1000:8.1f} ms (median)"
        )
        rp.close()
    finally:
        server.stop()
    other.close()
    services.close()


if __name__ == "__main__":
    main()
