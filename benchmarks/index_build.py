"""Index builds and search: a full build, an incremental rebuild after 1% of the documents
changed (target: at most 5% of the full build's time), a rebuild with nothing changed, and
the latency of one search per mode (p50 / p95, warm).

    .venv/bin/python benchmarks/index_build.py [N_DOCS] [MAX_CHARS] [DATABASE_URL]

The corpus is real Markdown: the *.md documentation Debian installs under /usr/share/doc
(each file under its package's licence, in /usr/share/doc/<package>/copyright), the first
N_DOCS (200) files of at least 1,000 characters in name order, each cut at MAX_CHARS (3,000)
on a paragraph boundary. Chunks of 800 characters with 100 of overlap, embedded with the
shipped MiniLM on the home's SQLite (or DATABASE_URL's PostgreSQL) and LanceDB.

The change: 1% of the documents (at least 1) get a sentence inserted in their middle and
one appended at the end, a new dataset version is registered, and the index is rebuilt.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gzip
import sys
import time
from pathlib import Path

import pyarrow as pa
from _common import fresh_home, report

from rippleops.domain.chunking import chunk
from rippleops.services import Services

DOCS = Path("/usr/share/doc")
P = "default"


def corpus(n: int, max_chars: int) -> dict[str, list[str]]:
    files = sorted(p for p in DOCS.rglob("*") if p.is_file() and (p.name.endswith((".md", ".md.gz", ".markdown"))))
    ids, texts = [], []
    for path in files:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        if len(text) < 1000:
            continue
        if len(text) > max_chars:
            cut = text.rfind("\n\n", 0, max_chars)
            text = text[: cut if cut > max_chars // 2 else max_chars]
        ids.append(str(path.relative_to(DOCS)))
        texts.append(text)
        if len(ids) == n:
            break
    return {"doc_id": ids, "text": texts, "package": [i.split("/")[0] for i in ids]}


def changed(rows: dict[str, list[str]], share: float = 0.01) -> tuple[dict[str, list[str]], int]:
    out = {k: list(v) for k, v in rows.items()}
    n = max(1, round(len(out["doc_id"]) * share))
    step = len(out["doc_id"]) // n
    for i in range(0, n * step, step):
        text = out["text"][i]
        middle = text.find("\n\n", len(text) // 2)
        middle = middle if middle > 0 else len(text) // 2
        out["text"][i] = (
            text[:middle] + "\n\nThis sentence was added for the benchmark." + text[middle:]
            + "\n\nAnd one more at the end.\n"
        )  # fmt: skip
    return out, n


def main() -> None:
    n_docs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    max_chars = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    settings = fresh_home(sys.argv[3] if len(sys.argv) > 3 else None)
    services = Services(settings)
    admin = services.access.authenticate(settings.token_file.read_text().strip())
    prov = {"source": f"file://{DOCS}", "license": "see /usr/share/doc/<package>/copyright", "created_by": "bench"}
    rows = corpus(n_docs, max_chars)
    services.datasets.create_from_table(admin, P, "docs", pa.table(rows), provenance=prov, key="doc_id")
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    services.embedders.embed(admin, P, "minilm", ["warm the model up"])
    chars = sum(map(len, rows["text"]))
    print(f"corpus: {len(rows['doc_id'])} Markdown documents from {DOCS}, {chars / 1e6:.2f} M characters")
    t = time.perf_counter()
    n_chunks = sum(
        len(chunk(d, text, size=800, overlap=100)) for d, text in zip(rows["doc_id"], rows["text"], strict=True)
    )
    took = time.perf_counter() - t
    print(f"{'chunking alone':<40} {took:8.2f} s   {n_chunks} chunks, {chars / took / 1e6:.1f} M characters/s")

    def build(label: str, **kw: object) -> tuple[float, dict[str, object]]:
        t = time.perf_counter()
        if kw:
            job = services.indexes.create(admin, P, "docs", dataset="dataset/docs", embedder="embedder/minilm",
                                          wait=True, **kw)  # type: ignore[arg-type]  # fmt: skip
        else:
            job = services.indexes.build(admin, P, "docs", wait=True)
        took = time.perf_counter() - t
        assert job.state.value == "succeeded", job.error
        r = job.result
        print(f"{label:<40} {took:8.2f} s   {r['chunks']} chunks: {r['embedded']} embedded "
              f"({r['cache_hits']} from the cache), {r['reused']} reused")  # fmt: skip
        return took, r

    full, r1 = build("full build", chunk_size=800, overlap=100, metadata_columns=["package"])
    print(f"{'':<40} {r1['chunks'] / full:8.1f} chunks/s")
    new_rows, n_changed = changed(rows)
    services.datasets.create_from_table(admin, P, "docs", pa.table(new_rows), provenance=prov, key="doc_id")
    inc, _ = build(f"incremental ({n_changed} of {len(rows['doc_id'])} docs changed)")
    print(f"{'':<40} {100 * inc / full:8.1f} % of the full build   (target <= 5 %)")
    build("rebuild, nothing changed")

    queries = [t.split("\n", 1)[0].lstrip("# ").strip()[:80] or "installation" for t in rows["text"][:60]]
    for n, mode in enumerate(("vector", "bm25", "hybrid"), 1):
        for q in queries[:5]:  # warm: the table is opened and its matrix loaded once
            services.search.search(admin, P, "docs", q, k=5, mode=mode)
        samples = []
        for q in queries:
            t = time.perf_counter()
            # trailing spaces: the same words, but a text the embedding cache has not seen (the model runs)
            services.search.search(admin, P, "docs", q + " " * n, k=5, mode=mode)
            samples.append(time.perf_counter() - t)
        report(f"search k=5, mode {mode} ({len(queries)} queries)", samples, unit="ms")
    services.close()


if __name__ == "__main__":
    main()
