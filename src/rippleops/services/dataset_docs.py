"""A folder of documents as dataset rows: one row per file, with its text extracted.

Plain text and Markdown are kept as they are (Markdown stays Markdown: chunking later reads
its headings); HTML is reduced to its visible text with selectolax (scripts and styles
dropped, block elements on lines of their own); PDF text comes from pypdf, page by page.
Columns: ``doc_id`` (the path under the folder, '/'-separated: the key), ``text``,
``title``, ``format`` (txt, md, html, pdf), ``source`` (the document's URI) and ``bytes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from rippleops.domain.datasets import DOC_SUFFIXES, doc_id_of, doc_source
from rippleops.errors import InvalidError

BATCH_DOCS = 64
MAX_TITLE = 200
SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("text", pa.string()),
        ("title", pa.string()),
        ("format", pa.string()),
        ("source", pa.string()),
        ("bytes", pa.int64()),
    ]
)
_BLOCKS = (
    "address, article, aside, blockquote, br, dd, div, dl, dt, figcaption, figure, footer, form, h1, h2, h3, "
    "h4, h5, h6, header, hr, li, main, nav, ol, p, pre, section, table, td, th, tr, ul"
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True, slots=True)
class DocFile:
    path: Path
    doc_id: str
    format: str
    size: int


def list_documents(folder: Path) -> tuple[list[DocFile], list[str]]:
    """The documents under ``folder`` (recursively, by id; hidden files and folders and
    links leading out of the folder left out), and the ids of other files skipped."""
    root = folder.resolve()
    docs: list[DocFile] = []
    skipped: list[str] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        doc_id = doc_id_of(rel)
        if not path.resolve().is_relative_to(root):
            skipped.append(doc_id)
            continue
        fmt = DOC_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            skipped.append(doc_id)
            continue
        docs.append(DocFile(path, doc_id, fmt, path.stat().st_size))
    docs.sort(key=lambda d: d.doc_id)
    return docs, skipped


def read_document(doc: DocFile, base_uri: str, encoding: str) -> dict[str, Any]:
    """One row: the document's text and title, extracted by its format."""
    if doc.format == "pdf":
        text, title = _pdf(doc)
    else:
        raw = doc.path.read_bytes()
        try:
            content = raw.decode("utf-8-sig" if encoding == "utf-8" else encoding)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InvalidError(
                f"{doc.doc_id} is not valid {encoding} text (at line {line}); {encoding} is the expected encoding — "
                "if the documents use another one, pass it with --encoding (for example latin-1 or cp1252)"
            ) from None
        if doc.format == "html":
            text, title = _html(content)
        else:
            text = content
            title = _markdown_title(content) if doc.format == "md" else None
    return {
        "doc_id": doc.doc_id,
        "text": text,
        "title": (title or _first_line(text) or doc.path.stem)[:MAX_TITLE],
        "format": doc.format,
        "source": doc_source(base_uri, doc.doc_id),
        "bytes": doc.size,
    }


def _first_line(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line
    return None


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            return m.group(1)
    return None


def _html(content: str) -> tuple[str, str | None]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(content)
    title_node = tree.css_first("title")
    title = _SPACES.sub(" ", title_node.text()).strip() if title_node is not None else None
    for node in tree.css("script, style, noscript, template, head"):
        node.decompose()
    for node in tree.css(_BLOCKS):
        node.insert_before("\n")
        node.insert_after("\n")
    root = tree.body or tree.root
    raw = root.text(separator="", strip=False) if root is not None else ""
    lines = [_SPACES.sub(" ", line).strip() for line in raw.split("\n")]
    text = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    if not title:
        h1 = tree.css_first("h1")
        title = _SPACES.sub(" ", h1.text()).strip() if h1 is not None else None
    return text, title or None


def _pdf(doc: DocFile) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(doc.path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidError(f"{doc.doc_id} is an encrypted PDF; decrypt it first (its text cannot be read)")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = meta.title if meta is not None and meta.title else None
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:  # pypdf's errors on broken files
        raise InvalidError(f"{doc.doc_id} is not a readable PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    return text, str(title).strip() if title else None
