"""A page's text as lines with where they stand: what chalicelib.signing.pdf_text extracts from a PDF and
chalicelib.domain.document_reader reads (issue 12, "Read the document"). Plain data, so the reader is tested on
text alone.

Why positions: an NĐ 30 page has two columns at its head (issuing body and "Số:" left, quốc hiệu and date right) and
at its foot ("Nơi nhận:" left, the signature block right) on the same lines (NĐ 30/2020 Phụ lục I), and the gap
between lines tells a new paragraph from a wrapped one (where a trích yếu over two lines ends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Cell", "PageLine", "lines_from_rows"]

_TWO_COLUMNS = re.compile(r"(?:^|\s)\|(\s|$)")


@dataclass(frozen=True)
class Cell:
    """A run of text on one line, from `x0` to `x1` (points, from the page's leftmost text: only distances count)."""

    x0: float
    x1: float
    text: str


@dataclass(frozen=True)
class PageLine:
    """One line of a page: its baseline `y` (points from the bottom), its font `size` (points) and its cells left to
    right (more than one when it holds two columns)."""

    page: int
    y: float
    size: float
    cells: tuple[Cell, ...]

    @property
    def text(self) -> str:
        return "   ".join(c.text for c in self.cells)


def lines_from_rows(rows: list[str], *, leading: float = 18.0, size: float = 13.0) -> list[PageLine]:
    """Lines of one page from plain rows (tests and tools): "left | right" is a two-column row ("left |" and
    "| right" too), an empty row a paragraph gap (a third of the leading more), leading spaces push a cell right
    (one space, 6 points)."""
    out: list[PageLine] = []
    y = 800.0
    for row in rows:
        if not row.strip():
            y -= leading / 3
            continue
        cells = []
        parts = _TWO_COLUMNS.split(row, maxsplit=1)[::2][:2] if _TWO_COLUMNS.search(row) else [row]
        for index, part in enumerate(parts):
            if part.strip():
                x0 = 85.0 + (230.0 if index else 0.0) + 6.0 * (len(part) - len(part.lstrip()))
                cells.append(Cell(x0, x0 + 6.5 * len(part.strip()), part.strip()))
        if cells:
            out.append(PageLine(1, y, size, tuple(cells)))
        y -= leading
    return out
