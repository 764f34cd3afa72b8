"""Cutting documents into chunks for an index: by size with overlap, Markdown-aware.

Pure: text in, :class:`Chunk` values out. Every chunk is an exact slice of the document
(``text == document[start:end]``), so a search hit can point at its source span.

How a document is cut (``markdown=True``):

1. **Sections.** ATX headings (``#`` to ``######``, outside code fences) start sections; each
   chunk keeps the path of headings above it (``("Ripple", "Quick start")``). A heading with
   no body of its own is kept with the section that follows it, so there is no chunk that
   is only a title.
2. **Pieces.** A section longer than ``size`` is split at blank lines, then at line ends,
   then after sentences, then between words, and only then anywhere. A fenced code block
   (```` ``` ```` or ``~~~``) is one piece: it is cut only when it alone is longer than ``size``.
3. **Chunks.** Pieces are packed greedily up to ``size``. The next chunk starts up to
   ``overlap`` before the end of the previous one, at a sentence start if there is one in
   that window, else at a word start, never inside a code fence. Overlap never crosses a
   section boundary.

With ``markdown=False`` the whole document is one section and fences mean nothing.

``unit="chars"`` measures sizes in characters. ``unit="tokens"`` measures them in word
tokens: runs of letters/digits and single punctuation marks (``\\w+|[^\\w\\s]``). That count
needs no model and is fast; a WordPiece tokenizer such as MiniLM's counts about 1.2-1.4
times as many on English prose (more on code and rare words), so leave headroom under the
embedder's limit (MiniLM truncates at 256 of its tokens).

Chunk ids are content hashes of (document id, start offset, heading path, text): a chunk
that did not change keeps its id in the next dataset version, which is what lets an index
rebuild reuse its vector.

>>> [c.text for c in chunk("a.md", "# Title\\n\\nHello world.\\n\\n## Part\\n\\nMore.\\n", size=200, overlap=0)]
['# Title\\n\\nHello world.', '## Part\\n\\nMore.']
>>> chunk("a.md", "# Title\\n\\nHello world.\\n", size=200, overlap=0)[0].heading
('Title',)
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rippleops.domain.hashing import content_hash
from rippleops.errors import InvalidError

#: Bump when the cutting rules change: it is part of every index recipe, so indexes built
#: by older rules are seen as stale.
CHUNKER_VERSION = "chunker-1"
UNITS = ("chars", "tokens")
Unit = Literal["chars", "tokens"]
MAX_SIZE = 100_000
HEADING_SEPARATOR = " > "

_TOKEN = re.compile(r"\w+|[^\w\s]")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_LINE_END = re.compile(r"\n")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ChunkingParams:
    """How to cut: ``size`` and ``overlap`` in ``unit`` (chars or tokens), Markdown-aware or not.

    >>> ChunkingParams(size=800, overlap=100).to_dict()
    {'size': 800, 'overlap': 100, 'unit': 'chars', 'markdown': True}
    """

    size: int = 800
    overlap: int = 100
    unit: Unit = "chars"
    markdown: bool = True

    def __post_init__(self) -> None:
        for name in ("size", "overlap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidError(f"chunk {name} must be a whole number, not {value!r}")
        if not 16 <= self.size <= MAX_SIZE:
            raise InvalidError(f"chunk size {self.size} is out of range; give 16 to {MAX_SIZE} ({self.unit})")
        if not 0 <= self.overlap < self.size:
            raise InvalidError(
                f"chunk overlap {self.overlap} must be at least 0 and less than the chunk size {self.size}"
            )
        if self.unit not in UNITS:
            raise InvalidError(f"chunk unit {self.unit!r} is not known; units: {', '.join(UNITS)}")
        if not isinstance(self.markdown, bool):
            raise InvalidError(f"markdown must be true or false, not {self.markdown!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "overlap": self.overlap, "unit": self.unit, "markdown": self.markdown}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkingParams:
        unknown = sorted(set(data) - {"size", "overlap", "unit", "markdown"})
        if unknown:
            raise InvalidError(
                f"unknown chunking parameters: {', '.join(unknown)}; known: size, overlap, unit, markdown"
            )
        return cls(**dict(data))


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk: ``text`` is ``document[start:end]``; ``heading`` is the heading path above it."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    heading: tuple[str, ...] = ()

    @property
    def embedding_text(self) -> str:
        """What is embedded: the heading path, then the text (a sub-chunk deep in a section
        keeps the context its title gives)."""
        if not self.heading:
            return self.text
        return HEADING_SEPARATOR.join(self.heading) + "\n\n" + self.text


def chunk_id(doc_id: str, start: int, heading: tuple[str, ...], text: str) -> str:
    """The content hash that names a chunk (32 hex digits)."""
    return content_hash([doc_id, start, list(heading), text]).removeprefix("sha256:")[:32]


def chunk(
    doc_id: str,
    text: str,
    *,
    size: int = 800,
    overlap: int = 100,
    unit: Unit = "chars",
    markdown: bool = True,
) -> list[Chunk]:
    """Cut one document into chunks (see the module docstring for the rules)."""
    return chunk_document(doc_id, text, ChunkingParams(size, overlap, unit, markdown))


def chunk_document(doc_id: str, text: str, params: ChunkingParams) -> list[Chunk]:
    """:func:`chunk` with the parameters as one value (what an index recipe stores)."""
    if not isinstance(text, str):
        raise InvalidError(f"document {doc_id!r}: the text must be a string, not {type(text).__name__}")
    if not text.strip():
        return []
    lines = _lines(text) if params.markdown else []
    cutter = _Cutter(text, params, lines)
    out: list[Chunk] = []
    for s, e, heading in _sections(text, lines, cutter.fences) if params.markdown else [(0, len(text), ())]:
        for cs, ce in cutter.cut(s, e):
            body = text[cs:ce]
            out.append(Chunk(chunk_id(doc_id, cs, heading, body), doc_id, body, cs, ce, heading))
    return out


# -- sections and fences ----------------------------------------------------------------------


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, the end after its newline."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        out.append((pos, pos + len(line)))
        pos += len(line)
    return out


def _fences(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of fenced code blocks, from the opening line to the end of the closing one (an
    unclosed fence runs to the end of the document, as CommonMark says)."""
    out: list[tuple[int, int]] = []
    opener: tuple[int, str] | None = None
    for s, e in lines:
        line = text[s:e].rstrip("\r\n")
        if opener is None:
            m = _FENCE_OPEN.match(line)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                opener = (s, m.group(1))
        else:
            stripped = line.strip()
            fence = opener[1]
            if (
                stripped
                and set(stripped) == {fence[0]}
                and len(stripped) >= len(fence)
                and len(line) - len(line.lstrip()) < 4
            ):
                out.append((opener[0], e))
                opener = None
    if opener is not None:
        out.append((opener[0], len(text)))
    return out


def _sections(
    text: str, lines: list[tuple[int, int]], fences: list[tuple[int, int]]
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Sections of a Markdown document: (start, end, heading path), heading-only ones merged
    into the section after them."""
    starts = [f[0] for f in fences]
    heads: list[tuple[int, int, int, str]] = []  # line start, line end, level, title
    for s, e in lines:
        i = bisect.bisect_right(starts, s) - 1
        if i >= 0 and s < fences[i][1]:
            continue  # inside a code fence: a '#' there is a comment, not a heading
        m = _HEADING.match(text[s:e].rstrip("\r\n"))
        if m:
            heads.append((s, e, len(m.group(1)), (m.group(2) or "").strip()))
    sections: list[tuple[int, int, tuple[str, ...]]] = []
    if not heads or heads[0][0] > 0:
        first = heads[0][0] if heads else len(text)
        if text[:first].strip():
            sections.append((0, first, ()))
    stack: list[tuple[int, str]] = []
    pending: int | None = None  # start of heading-only sections waiting for a body
    for i, (s, e, level, title) in enumerate(heads):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        start = s if pending is None else pending
        if not text[e:end].strip() and i + 1 < len(heads):
            pending = start
            continue
        pending = None
        sections.append((start, end, tuple(t for _, t in stack if t)))
    return sections


# -- cutting a section -----------------------------------------------------------------------


class _Cutter:
    """Cuts spans of one document; lengths in the parameters' unit."""

    def __init__(self, text: str, params: ChunkingParams, lines: list[tuple[int, int]]) -> None:
        self.text = text
        self.size = params.size
        self.overlap = params.overlap
        self.fences = _fences(text, lines) if params.markdown else []
        self._fence_starts = [f[0] for f in self.fences]
        self.tokens: list[int] | None = None
        if params.unit == "tokens":
            self.tokens = [m.start() for m in _TOKEN.finditer(text)]
        self._splitters: list[Callable[[int, int], list[int]]] = [
            self._block_cuts,
            lambda s, e: self._cuts_after(_LINE_END, s, e),
            lambda s, e: self._cuts_after(_SENTENCE_END, s, e),
            lambda s, e: self._cuts_after(_SPACE, s, e),
            self._hard_cuts,
        ]

    def length(self, s: int, e: int) -> int:
        if self.tokens is None:
            return e - s
        return bisect.bisect_left(self.tokens, e) - bisect.bisect_left(self.tokens, s)

    def in_fence(self, pos: int) -> bool:
        """True when ``pos`` falls strictly inside a fenced block (cutting there splits it)."""
        i = bisect.bisect_right(self._fence_starts, pos) - 1
        return i >= 0 and self.fences[i][0] < pos < self.fences[i][1]

    # splitters: each returns the cut positions strictly inside (s, e)

    def _cuts_after(self, pattern: re.Pattern[str], s: int, e: int) -> list[int]:
        return [m.end() for m in pattern.finditer(self.text, s, e) if s < m.end() < e]

    def _block_cuts(self, s: int, e: int) -> list[int]:
        """After blank lines outside fences, and around every fence (a fence right under a
        paragraph line is still a piece of its own)."""
        cuts = {c for c in self._cuts_after(_BLANK_LINES, s, e) if not self.in_fence(c)}
        cuts.update(pos for f in self.fences for pos in f if s < pos < e)
        return sorted(cuts)

    def _hard_cuts(self, s: int, e: int) -> list[int]:
        if self.tokens is None:
            return list(range(s + self.size, e, self.size))
        first = bisect.bisect_left(self.tokens, s)
        last = bisect.bisect_left(self.tokens, e)
        return [self.tokens[i] for i in range(first + self.size, last, self.size)]

    def pieces(self, s: int, e: int, level: int = 0) -> list[tuple[int, int]]:
        """Contiguous spans covering [s, e), each at most ``size`` long where possible."""
        if self.length(s, e) <= self.size or level >= len(self._splitters):
            return [(s, e)]
        cuts = self._splitters[level](s, e)
        if not cuts:
            return self.pieces(s, e, level + 1)
        out: list[tuple[int, int]] = []
        for a, b in zip([s, *cuts], [*cuts, e], strict=True):
            out.extend(self.pieces(a, b, level + 1))
        return out

    def cut(self, s: int, e: int) -> list[tuple[int, int]]:
        """The chunks of one section, as trimmed (start, end) spans."""
        pieces = self.pieces(s, e)
        sizes = [self.length(a, b) for a, b in pieces]
        spans: list[tuple[int, int]] = []
        i, lead = 0, pieces[0][0]  # the next chunk starts at `lead` (inside piece i-1 when overlapping)
        while i < len(pieces):
            used = self.length(lead, pieces[i][0])
            j = i
            while j < len(pieces) and (j == i or used + sizes[j] <= self.size):
                used += sizes[j]
                j += 1
            spans.append((lead, pieces[j - 1][1]))
            if j >= len(pieces):
                break
            lead = self._overlap_start(spans[-1][0], pieces[j][0], self.size - sizes[j])
            i = j
        return [t for t in (self._trim(a, b) for a, b in spans) if t is not None]

    def _overlap_start(self, chunk_start: int, end: int, room: int) -> int:
        """Where the chunk after one ending at ``end`` begins: up to ``overlap`` (and ``room``)
        earlier, at a sentence start if the window has one, else a word start; ``end`` when
        no such place fits."""
        budget = min(self.overlap, room)
        if budget <= 0:
            return end
        if self.tokens is None:
            floor = max(chunk_start + 1, end - budget)
        else:
            i = bisect.bisect_left(self.tokens, end) - budget
            floor = max(chunk_start + 1, self.tokens[max(i, 0)])
        if floor >= end:
            return end
        window = self.text[floor:end]
        candidates = [floor + m.end() for m in _SENTENCE_END.finditer(window)]
        if not candidates:
            candidates = [floor + m.end() for m in _SPACE.finditer(window)]
            if floor == 0 or self.text[floor - 1].isspace():
                candidates.insert(0, floor)
        for pos in candidates:
            if pos < end and not self.in_fence(pos) and self.text[pos:end].strip():
                return pos
        return end

    def _trim(self, s: int, e: int) -> tuple[int, int] | None:
        while s < e and self.text[s].isspace():
            s += 1
        while e > s and self.text[e - 1].isspace():
            e -= 1
        return (s, e) if s < e else None
