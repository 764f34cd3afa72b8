"""Real files for the dataset tests (importable as ``dataset_support``): a small PDF made
with pypdf (a page with a Helvetica text line per paragraph), a folder of documents, CSVs."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

FAQ_CSV = "id,question,answer,topic\n1,What is Ripple?,A platform for AI assets,product\n2,How do I roll back?,Move a label,ops\n3,Who to mail?,ana@example.org,support\n"
FAQ_V2_CSV = "id,question,answer,topic\n1,What is Ripple?,A platform for versioned AI assets,product\n3,Who to mail?,ana@example.org,support\n4,Is it offline?,Yes,product\n"


def write_pdf(path: Path, paragraphs: list[str], title: str | None = None) -> Path:
    """A real PDF whose text pypdf (and any reader) extracts: one line per paragraph."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    lines = []
    for i, text in enumerate(paragraphs):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        lines.append(f"BT /F1 12 Tf 72 {720 - 24 * i} Td ({escaped}) Tj ET")
    content = DecodedStreamObject()
    content.set_data("\n".join(lines).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(content)
    if title:
        writer.add_metadata({"/Title": title})
    with path.open("wb") as f:
        writer.write(f)
    return path


def write_docs(folder: Path) -> Path:
    """A folder with one document of each format, a nested one, and files the import skips."""
    (folder / "guides").mkdir(parents=True)
    (folder / "readme.txt").write_text("Ripple keeps every piece as a versioned asset.\nSecond line.\n")
    (folder / "guides" / "rollback.md").write_text("# Rolling back\n\nMove the `production` label back.\n")
    (folder / "page.html").write_text(
        "<html><head><title>Ripple FAQ</title><style>p {color: red}</style></head>"
        "<body><h1>FAQ</h1><p>Ask <b>anything</b>.</p><script>var x = 1;</script><p>Second paragraph</p></body></html>"
    )
    write_pdf(folder / "paper.pdf", ["Lineage for AI systems", "Stale assets are rebuilt."], title="Ripple paper")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / ".hidden.txt").write_text("not imported")
    return folder
