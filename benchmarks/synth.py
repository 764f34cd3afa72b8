"""Synthetic data with the shipped SmolLM2: question/answer pairs from this repository's own
docs (docs/*.md, one document per file), constrained JSON decoding on and off; prints calls
per second, completion tokens per second, and how many candidates were accepted and why the
rest were rejected. Also the pure parts: parsing and judging candidates, dedupe per text.

    .venv/bin/python benchmarks/synth.py [--docs 8] [--n 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _common import fresh_home

from rippleops.domain.datasets import ImportSource, file_uri
from rippleops.domain.synth_dedupe import Deduper
from rippleops.domain.synth_output import extract_json
from rippleops.services import Services

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=8, help="documents of docs/*.md to use")
    parser.add_argument("--n", type=int, default=2, help="questions per document")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"

    reply = 'Sure:\n```json\n{"question": "How often does the Moon orbit the Earth?", "answer": "every 27 days"}\n```'
    t = time.perf_counter()
    for _ in range(20_000):
        extract_json(reply)
    print(f"{'extract_json (fenced reply)':<40} {(time.perf_counter() - t) / 20_000 * 1e6:8.1f} us per reply")
    d = Deduper(0.85)
    texts = [f"What does section {i} of the guide say about labels and versions?" for i in range(2000)]
    t = time.perf_counter()
    for text in texts:
        if d.check(text) is None:
            d.add(text)
    print(f"{'dedupe check+add (2,000 questions)':<40} {(time.perf_counter() - t) / len(texts) * 1e6:8.1f} us per text")

    settings = fresh_home()
    services = Services(settings)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    folder = Path(settings.home_path) / "bench-docs"
    folder.mkdir()
    for path in sorted(DOCS.glob("*.md"))[: args.docs]:
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    services.datasets.import_file(admin, "default", "docs", ImportSource(folder, "docs", file_uri(folder)))
    services.models.create(admin, "default", "local-smollm", {"provider": "local"})
    for constrained in ("on", "off"):
        spec = {"task": "qa", "source": "docs", "into": f"qa-{constrained}", "model": "local-smollm", "n": args.n,
                "constrained": constrained, "params": {"seed": 7}}  # fmt: skip
        t = time.perf_counter()
        job = services.jobs.submit(admin, "default", "synth.generate", spec)
        took = time.perf_counter() - t
        r = job.result or {}
        tokens = (r.get("tokens") or {}).get("completion", 0)
        why = ", ".join(f"{k} {v}" for k, v in (r.get("rejected") or {}).items()) or "none"
        print(
            f"qa constrained={constrained:<3} {r.get('calls')} calls in {took:5.1f} s "
            f"({r.get('calls', 0) / took:4.2f} calls/s, {tokens / took:5.1f} completion tokens/s): "
            f"{r.get('accepted')} of {r.get('generated')} accepted ({job.state.value}); rejected: {why}"
        )
    # the seed rows of the tests: three short documents, three sentences, six labelled reviews
    import sys

    sys.path.insert(0, str(DOCS.parent / "tests"))
    import pyarrow as pa

    from synth_data import REVIEWS, SENTENCES, write_docs

    facts = write_docs(Path(settings.home_path) / "facts")
    services.datasets.import_file(admin, "default", "facts", ImportSource(facts, "docs", file_uri(facts)))
    services.datasets.create_from_table(admin, "default", "faq", pa.Table.from_pylist(SENTENCES),
                                        provenance={"source": "bench"}, key="id")  # fmt: skip
    services.datasets.create_from_table(admin, "default", "reviews", pa.Table.from_pylist(REVIEWS),
                                        provenance={"source": "bench"})  # fmt: skip
    runs = [("qa", "facts", {}), ("paraphrase", "faq", {}), ("classify", "reviews", {"label_column": "label"})]
    for task, source, extra in runs:
        accepted = generated = 0
        rejected: dict[str, int] = {}
        t = time.perf_counter()
        for seed in range(1, 6):
            spec = {"task": task, "source": source, "into": f"{task}-{seed}", "model": "local-smollm", "n": 2,
                    "params": {"seed": seed}, **extra}  # fmt: skip
            r = services.jobs.submit(admin, "default", "synth.generate", spec).result or {}
            accepted += r.get("accepted", 0)
            generated += r.get("generated", 0)
            for k, v in (r.get("rejected") or {}).items():
                rejected[k] = rejected.get(k, 0) + v
        why = ", ".join(f"{k} {v}" for k, v in sorted(rejected.items(), key=lambda kv: -kv[1]))
        print(f"{task:<10} on the test seeds, seeds 1-5: {accepted} of {generated} accepted "
              f"in {time.perf_counter() - t:5.1f} s; rejected: {why}")  # fmt: skip
    services.close()


if __name__ == "__main__":
    main()
