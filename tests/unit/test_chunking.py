"""Chunking on real Markdown (the repo's README and docs) and on small documents whose
chunks can be checked by hand."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from rippleops.domain.chunking import Chunk, ChunkingParams, chunk, chunk_document
from rippleops.errors import InvalidError

ROOT = Path(__file__).resolve().parents[2]
REAL_DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
TOKEN = re.compile(r"\w+|[^\w\s]")


def fences_of(text: str) -> list[tuple[int, int]]:
    """Fenced blocks found independently of the chunker (``` only: the repo's docs use those)."""
    out, opened = [], None
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            if opened is None:
                opened = pos
            elif line.strip() == "```":
                out.append((opened, pos + len(line)))
                opened = None
        pos += len(line)
    return out


@pytest.mark.parametrize("path", REAL_DOCS, ids=lambda p: p.name)
@pytest.mark.parametrize(("size", "overlap"), [(800, 100), (300, 60)])
def test_real_markdown_chunks_are_exact_spans_that_cover_the_text(path: Path, size: int, overlap: int) -> None:
    text = path.read_text()
    chunks = chunk(path.name, text, size=size, overlap=overlap)
    assert chunks
    covered = bytearray(len(text))
    for c in chunks:
        assert text[c.start : c.end] == c.text  # the source span is exact
        assert c.text == c.text.strip() and len(c.text) <= size
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    missed = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert missed == [], f"characters not in any chunk: {text[missed[0] : missed[0] + 40]!r}"
    assert len({c.id for c in chunks}) == len(chunks)
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


@pytest.mark.parametrize("path", REAL_DOCS, ids=lambda p: p.name)
def test_a_code_fence_that_fits_is_never_cut(path: Path) -> None:
    text = path.read_text()
    size = 800
    for c in chunk(path.name, text, size=size, overlap=100):
        for fs, fe in fences_of(text):
            if fe - fs > size:
                continue  # a fence longer than a chunk must be cut somewhere
            assert not fs < c.start < fe - 1, f"chunk starts inside a fence: {c.text[:60]!r}"
            assert not fs + 1 < c.end < fe - 1, f"chunk ends inside a fence: {c.text[-60:]!r}"


def test_heading_paths_follow_the_document_outline() -> None:
    text = (
        "Intro line before any heading.\n\n"
        "# Guide\n\nWelcome.\n\n"
        "## Install\n\nRun pip.\n\n"
        "### From source\n\nClone it.\n\n"
        "```bash\n# not a heading: a shell comment\nmake\n```\n\n"
        "## Use\n\nCall it.\n\n"
        "# Reference ##\n\nAll of it.\n"
    )
    got = [(c.heading, c.text.splitlines()[0]) for c in chunk("guide.md", text, size=1000, overlap=0)]
    assert got == [
        ((), "Intro line before any heading."),
        (("Guide",), "# Guide"),
        (("Guide", "Install"), "## Install"),
        (("Guide", "Install", "From source"), "### From source"),
        (("Guide", "Use"), "## Use"),
        (("Reference",), "# Reference ##"),
    ]
    from_source = chunk("guide.md", text, size=1000, overlap=0)[3]
    assert from_source.text.endswith("make\n```")  # the fence stays whole with its section


def test_a_heading_with_no_body_stays_with_the_next_section() -> None:
    text = "# Title\n\n## First\n\nBody one.\n\n## Second\n\nBody two.\n"
    chunks = chunk("t.md", text, size=500, overlap=0)
    assert [c.text for c in chunks] == ["# Title\n\n## First\n\nBody one.", "## Second\n\nBody two."]
    assert [c.heading for c in chunks] == [("Title", "First"), ("Title", "Second")]
    assert chunks[0].embedding_text == "Title > First\n\n# Title\n\n## First\n\nBody one."


def test_long_sections_split_at_paragraphs_then_sentences_with_overlap() -> None:
    para = " ".join(f"Sentence number {i} says something." for i in range(12))  # ~400 chars
    text = f"# Long\n\n{para}\n\n{para}\n"
    chunks = chunk("long.md", text, size=250, overlap=60)
    assert len(chunks) > 3
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end, "consecutive chunks of one section overlap"
        assert a.end - b.start <= 60
        assert b.text.startswith("Sentence number"), b.text[:30]  # overlap starts at a sentence
    assert all(c.heading == ("Long",) for c in chunks)


def test_overlap_does_not_cross_sections() -> None:
    body = "word " * 100
    text = f"# A\n\n{body}\n\n# B\n\n{body}\n"
    chunks = chunk("ab.md", text, size=200, overlap=50)
    first_b = next(i for i, c in enumerate(chunks) if c.heading == ("B",))
    assert chunks[first_b].text.startswith("# B")
    assert chunks[first_b].start >= chunks[first_b - 1].end


def test_a_fence_longer_than_a_chunk_is_cut_at_lines() -> None:
    code = "\n".join(f"print({i})" for i in range(100))
    text = f"Before.\n\n```python\n{code}\n```\n\nAfter.\n"
    chunks = chunk("code.md", text, size=200, overlap=0)
    assert all(len(c.text) <= 200 for c in chunks)
    assert len(chunks) > 4
    assert all(c.end == len(text.rstrip()) or text[c.end] == "\n" for c in chunks)  # cut at line ends, not mid-line


def test_unchanged_chunks_keep_their_ids_when_a_later_section_changes() -> None:
    text = (ROOT / "docs" / "jobs.md").read_text()
    before = chunk("jobs.md", text, size=500, overlap=50)
    marker = "## Recovery after a crash"
    assert marker in text
    edited = text.replace(marker, marker + "\n\nA new paragraph written for this test.", 1)
    after = chunk("jobs.md", edited, size=500, overlap=50)
    cut = text.index(marker)
    kept = [c for c in before if c.end <= cut]
    assert kept and {c.id for c in kept} <= {c.id for c in after}
    assert {c.id for c in after} != {c.id for c in before}
    # the id depends on the document too: the same text in another document is another chunk
    assert chunk("other.md", text, size=500, overlap=50)[0].id != before[0].id


def test_token_unit_counts_word_tokens() -> None:
    text = (ROOT / "README.md").read_text()
    chunks = chunk("README.md", text, size=120, overlap=20, unit="tokens")
    assert all(len(TOKEN.findall(c.text)) <= 120 for c in chunks)
    assert max(len(TOKEN.findall(c.text)) for c in chunks) > 80  # chunks are filled, not tiny
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_plain_text_mode_ignores_markdown() -> None:
    text = "# not a heading here\n\nJust text. " * 3
    chunks = chunk("plain.txt", text, size=1000, overlap=0, markdown=False)
    assert len(chunks) == 1 and chunks[0].heading == () and chunks[0].embedding_text == chunks[0].text


def test_empty_and_whitespace_documents_have_no_chunks() -> None:
    assert chunk("e.md", "", size=100, overlap=0) == []
    assert chunk("e.md", " \n\n\t ", size=100, overlap=0) == []


def test_a_long_word_is_cut_hard() -> None:
    chunks = chunk("w.txt", "x" * 1000, size=300, overlap=0, markdown=False)
    assert [len(c.text) for c in chunks] == [300, 300, 300, 100]
    assert isinstance(chunks[0], Chunk)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 8}, "chunk size 8 is out of range"),
        ({"size": 100, "overlap": 100}, "less than the chunk size 100"),
        ({"overlap": -1}, "at least 0"),
        ({"unit": "words"}, "unit 'words' is not known"),
        ({"size": 1.5}, "whole number"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidError, match=re.escape(message)):
        ChunkingParams(**kwargs)  # type: ignore[arg-type]


def test_params_round_trip_and_refuse_unknown_keys() -> None:
    p = ChunkingParams(500, 50, "tokens", False)
    assert ChunkingParams.from_dict(p.to_dict()) == p
    with pytest.raises(InvalidError, match="unknown chunking parameters: sise"):
        ChunkingParams.from_dict({"sise": 3})
    assert chunk_document("a", "Hello.", p)[0].text == "Hello."
