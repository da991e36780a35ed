"""Sample PDFs for demos, tests and benchmarks (never production).

`render_text_pdf` turns the fixture documents (tests/fixtures/documents, light markdown) into A4 PDFs that look like
what an agency uploads; `make_pdf_of_size` makes a valid PDF of a chosen size for large-file tests and benchmarks,
written in chunks so a 100 MB file never sits in memory.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

__all__ = ["make_pdf_of_size", "render_text_pdf"]

#: Debian fonts-dejavu-core. A TrueType font with Vietnamese glyphs; reportlab scales its widths correctly.
DEJAVU_SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
DEJAVU_SERIF_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf")

_EMPHASIS = re.compile(r"\*\*|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")


@lru_cache(maxsize=1)
def _register_fonts() -> tuple[str, str]:
    """Register DejaVu Serif with reportlab once per process; returns (regular, bold) font names."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("DejaVuSerif", str(DEJAVU_SERIF)))
    bold = "DejaVuSerif"
    if DEJAVU_SERIF_BOLD.exists():
        pdfmetrics.registerFont(TTFont("DejaVuSerif-Bold", str(DEJAVU_SERIF_BOLD)))
        bold = "DejaVuSerif-Bold"
    return "DejaVuSerif", bold


def _strip_markdown(text: str) -> str:
    """Drop `**bold**` and `*italic*` markers; the fixtures are markdown transcriptions of real documents."""
    return _EMPHASIS.sub("", text)


def _paragraphs(text: str) -> list[str]:
    """Blank lines separate paragraphs; a line ending in two spaces (markdown hard break) keeps its line break."""
    from xml.sax.saxutils import escape

    paras: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.split("\n")
        if not any(ln.strip() for ln in lines):
            continue
        out = ""
        for i, ln in enumerate(lines):
            out += escape(ln.strip())
            if i < len(lines) - 1:
                out += "<br/>" if ln.endswith("  ") or ln.lstrip().startswith("- ") or \
                    lines[i + 1].lstrip().startswith("- ") else " "
        paras.append(out)
    return paras


def render_text_pdf(title: str, text: str, out_path: Path) -> Path:
    """Render `title` and `text` (Vietnamese, light markdown) to an A4 PDF with embedded DejaVu Serif.

    Long texts flow onto as many pages as they need; returns `out_path`.
    """
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    regular, bold = _register_fonts()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    body = ParagraphStyle("body", fontName=regular, fontSize=13, leading=18, alignment=TA_JUSTIFY, spaceAfter=6)
    head = ParagraphStyle("title", fontName=bold, fontSize=14, leading=20, alignment=TA_CENTER, spaceAfter=12)
    doc = SimpleDocTemplate(str(out_path), pagesize=A4, leftMargin=30 * mm, rightMargin=15 * mm,
                            topMargin=20 * mm, bottomMargin=20 * mm, title=title, author="edoc-gateway demo")
    story: list = [Paragraph(_paragraphs(_strip_markdown(title))[0] if title.strip() else "", head), Spacer(1, 6)]
    story += [Paragraph(p, body) for p in _paragraphs(_strip_markdown(text))]
    doc.build(story)
    return out_path


def make_pdf_of_size(out_path: Path, target_bytes: int, *, chunk_bytes: int = 1 << 20) -> Path:
    """Write a valid one-page PDF of about `target_bytes` (never less) and return `out_path`.

    The bulk is an incompressible (random) image XObject in the page's resources that is never drawn: the worst
    case for signing, every byte hashed, nothing for a compressor to gain. Written chunk by chunk: memory use is
    one chunk whatever the size.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    content = b"BT /F1 18 Tf 72 770 Td (edoc-gateway benchmark document) Tj ET\n"
    offsets: list[int] = []
    overhead = 1024  # header, small objects, xref and trailer: under this, topped up at the end
    payload = max(0, target_bytes - overhead)
    block = os.urandom(min(chunk_bytes, max(payload, 1)))
    with open(out_path, "wb") as fh:
        def obj(body: bytes) -> None:
            offsets.append(fh.tell())
            fh.write(b"%d 0 obj\n" % (len(offsets)) + body + b"\nendobj\n")

        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> /XObject << /Blob 6 0 R >> >> >>")
        obj(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
        obj(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        # An image XObject of 1 x N grey pixels: valid, never drawn, and every byte of it is data.
        offsets.append(fh.tell())
        fh.write(b"6 0 obj\n<< /Type /XObject /Subtype /Image /Width 1 /Height %d /ColorSpace /DeviceGray "
                 b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (max(payload, 1), max(payload, 1)))
        remaining = max(payload, 1)
        view = memoryview(block)
        while remaining:
            n = min(remaining, len(block))
            fh.write(view[:n])
            remaining -= n
        fh.write(b"\nendstream\nendobj\n")

        def tail(xref: int) -> bytes:
            return (b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
                    + b"".join(b"%010d 00000 n \n" % off for off in offsets)
                    + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))

        # Top up with a comment line so the file is never smaller than asked.
        pos, pad = fh.tell(), 0
        while pos + pad + len(tail(pos + pad)) < target_bytes:
            pad = target_bytes - pos - len(tail(pos + pad)) if pad == 0 else pad + 1
        if pad:
            fh.write(b"\n" if pad == 1 else b"%" + b" " * (pad - 2) + b"\n")
        fh.write(tail(fh.tell()))
    return out_path
