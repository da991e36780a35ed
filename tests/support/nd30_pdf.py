"""PDFs in the NĐ 30 layout for the reader's tests (issue 12): the test corpus (tests/fixtures/nd30) is plain text
like tests/fixtures/documents, with one addition, so the page has the two columns real documents have (NĐ 30/2020
Phụ lục I): a row "left | right" puts its halves in the left and right columns, each centred in its column (the
header: issuing body and "Số:" left, quốc hiệu and date right; the foot: "Nơi nhận:" list left, the signature block
right); a row starting with "^" is centred on the page (the type's name, the trích yếu); other rows flow as
justified paragraphs, a blank line between paragraphs, a row ending in two spaces keeps its line break. Drawn with
reportlab and DejaVu Serif like devstack.sample_pdf, a new page when the text reaches the bottom margin.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from devstack.sample_pdf import _register_fonts

__all__ = ["CORPUS", "corpus", "render_nd30_pdf"]

_TWO_COLUMNS = re.compile(r"(?:^|\s)\|(\s|$)")
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "nd30"


def corpus() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, text, expected) of every document of the corpus: `<name>.txt` with `<name>.json` beside it."""
    out = []
    for text_file in sorted(CORPUS.glob("*.txt")):
        expected = json.loads(text_file.with_suffix(".json").read_text(encoding="utf-8"))
        out.append((text_file.stem, text_file.read_text(encoding="utf-8"), expected))
    return out


def render_nd30_pdf(text: str, out_path: Path) -> Path:
    """Render `text` (module docstring) to an A4 PDF at `out_path`; returns it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    regular, _ = _register_fonts()
    width, height = A4
    left, right, top, bottom = 85.0, width - 45.0, height - 55.0, 60.0
    middle = left + (right - left) * 0.42
    size, leading = 13.0, 18.0
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    canvas = Canvas(str(out_path), pagesize=A4)
    y = top

    def line(draw: Any) -> None:
        nonlocal y
        if y < bottom:
            canvas.showPage()
            y = top
        canvas.setFont(regular, size)
        draw(y)
        y -= leading

    def wrapped(words: list[str], room: float) -> list[str]:
        rows, current = [], ""
        for word in words:
            trial = f"{current} {word}".strip()
            if current and stringWidth(trial, regular, size) > room:
                rows.append(current)
                current = word
            else:
                current = trial
        return rows + ([current] if current else [])

    paragraph: list[str] = []

    def flush() -> None:
        nonlocal paragraph
        for row in wrapped(" ".join(paragraph).split(), right - left):
            line(lambda at, r=row: canvas.drawString(left, at, r))
        paragraph = []

    for raw in text.replace("\r\n", "\n").split("\n"):
        if not raw.strip():
            flush()
            y -= leading / 3
            continue
        if raw.lstrip().startswith("- ") and not _TWO_COLUMNS.search(raw):
            flush()
            paragraph.append(raw.strip())
            flush()
            continue
        if _TWO_COLUMNS.search(raw) or raw.strip().startswith("^"):
            flush()
            if raw.strip().startswith("^"):
                centred = raw.strip()[1:].strip()
                line(lambda at, t=centred: canvas.drawCentredString((left + right) / 2, at, t))
            else:
                one, two = (part.strip() for part in _TWO_COLUMNS.split(raw, maxsplit=1)[::2][:2])
                line(lambda at, a=one, b=two: (a and canvas.drawCentredString((left + middle) / 2 - 10, at, a),
                                               b and canvas.drawCentredString((middle + right) / 2 + 10, at, b)))
            continue
        paragraph.append(raw.strip())
        if raw.endswith("  "):
            flush()
    flush()
    canvas.save()
    return out_path
