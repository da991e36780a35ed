"""The text of a PDF's pages with where it stands, for reading a document's own metadata (issue 12, "Read the
document": `POST /v1/documents/draft`, chalicelib.outbound.draft).

Why pypdf: pyHanko (what signs and verifies here) reads a PDF's objects but does not extract text; pypdf is pure
Python (a 420 KB wheel, no dependencies of its own) and well kept. Its layout mode measures each run of shown text
with the font's own widths (where it starts, where it ends, its size), which is all the NĐ 30 reader needs: the
header's two columns (issuing body and "Số:" on the left, the quốc hiệu and "<Địa danh>, ngày …" on the right) and
the foot's ("Nơi nhận:" left, the signature block right) stand on the same lines and are told apart by the gap
between runs, and runs that touch (a word processor's kerned or justified line) are one text. That step
(`text_show_operations`) is internal to pypdf, so requirements.txt pins the minor version and the public text
visitor, with estimated widths, takes over if it moves. pdfminer.six would give the same with a much larger package
and import. Imported inside the functions only: no other handler's cold start pays for it.

Bounded like every parse of an untrusted PDF (issue 8): the declared cross-reference sizes are checked from the
bytes first (`pdf_limits.prescan`), then the extraction runs in a forked child with CPU and memory limits
(`chalicelib.signing.bounded`). Only the pages that carry metadata are read: the first `HEAD_PAGES` (the header,
"Kính gửi:") and the last `TAIL_PAGES` ("Nơi nhận:", the signature block), at most `MAX_LINES_PER_PAGE` lines each,
each line cut to `MAX_LINE_CHARS`.

Refusals are `TextUnavailable` with a stable code: `not_a_pdf`, `encrypted_pdf`, `malformed_pdf`,
`pdf_too_complex` (with the bound as `reason`), and `no_text_layer` for a scan (pages without any text: an image
of the paper, which the reader cannot read without OCR).
"""

from __future__ import annotations

import os
from typing import Any

from chalicelib.domain.issuance import GlyphLine, has_blanks
from chalicelib.domain.page_text import Cell, PageLine
from chalicelib.signing.bounded import ChildFailed, run_bounded
from chalicelib.signing.pdf_limits import DEFAULT_LIMITS, ParseLimits, PdfTooComplex, prescan

__all__ = ["HEAD_PAGES", "MAX_LINE_CHARS", "MAX_LINES_PER_PAGE", "TAIL_PAGES", "TextUnavailable", "first_page",
           "page_lines"]

HEAD_PAGES = 3
TAIL_PAGES = 3
MAX_LINES_PER_PAGE = 400
MAX_LINE_CHARS = 1000
#: Two runs of text on one line whose horizontal gap passes this many font sizes (ems) stand in different columns:
#: a space is a quarter to a third of an em, a justified line's stretched one rarely past one; the header's columns
#: (issuing body, quốc hiệu) stand 1.5 em and more apart.
COLUMN_GAP = 1.2
#: Pieces whose baselines differ by less than this (points) stand on one line.
SAME_LINE = 2.5


class TextUnavailable(Exception):
    """The PDF gives no text to read: `code` is stable (module docstring), `details` what the client may see."""

    def __init__(self, code: str, **details: Any) -> None:
        self.code = code
        self.details = details
        super().__init__(code)


def page_lines(path: str | os.PathLike[str], *, limits: ParseLimits = DEFAULT_LIMITS, head: int = HEAD_PAGES,
               tail: int = TAIL_PAGES) -> tuple[int, list[PageLine]]:
    """(number of pages, the lines of the first `head` and last `tail` pages, top to bottom, page by page), or
    TextUnavailable."""
    pages, lines, _ = _read(path, limits, head, tail, glyphs=False)
    return pages, lines


def first_page(path: str | os.PathLike[str], *, limits: ParseLimits = DEFAULT_LIMITS
               ) -> tuple[list[PageLine], list[GlyphLine]]:
    """The first page's lines (the signer's agreement check) and its glyph lines, each character where it stands
    (the blanks filled at issuance, chalicelib.domain.issuance), from one bounded parse; or TextUnavailable. The
    glyph lines are read only when the lines show a blank (`has_blanks`), else they are `[]`."""
    _, lines, glyphs = _read(path, limits, 1, 0, glyphs=True)
    return lines, glyphs


def _read(path: str | os.PathLike[str], limits: ParseLimits, head: int, tail: int, *, glyphs: bool
          ) -> tuple[int, list[PageLine], list[GlyphLine]]:
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as fh:
            if fh.read(5) != b"%PDF-":
                raise TextUnavailable("not_a_pdf")
            prescan(fh, size, limits)
        import pypdf  # noqa: F401  (in this process, before the fork: the child must not pay the import)

        answer = run_bounded(_extract, os.fspath(path), head, tail, glyphs, limits=limits)
    except PdfTooComplex as exc:
        raise TextUnavailable("pdf_too_complex", reason=exc.reason) from None
    except ChildFailed as exc:
        raise TextUnavailable("malformed_pdf", reason=exc.kind[:100]) from None
    except OSError:
        raise TextUnavailable("malformed_pdf") from None
    if answer.get("error"):
        raise TextUnavailable(answer["error"])
    lines = [PageLine(row["page"], row["y"], row["size"], tuple(Cell(*c) for c in row["cells"]))
             for row in answer["lines"]]
    if not any(line.text.strip() for line in lines):
        raise TextUnavailable("no_text_layer", pages=answer["pages"])
    glyph_lines = [GlyphLine(row["y"], row["size"], row["text"], tuple(row["xs"])) for row in answer.get("glyphs", [])]
    return answer["pages"], lines, glyph_lines


def _extract(path: str, head: int, tail: int, glyphs: bool = False
             ) -> dict[str, Any]:  # pragma: no cover - runs in the bounded child
    """The child's work: JSON-serialisable lines of the head and tail pages."""
    import logging  # lazy, with pypdf: only the bounded child of a draft or the signer's text check logs through it

    import pypdf  # lazy: pypdf (about 70 ms to import) only where page text is read, never at a cold start
    from pypdf.errors import PdfReadError  # lazy, with pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a broken font's warnings are noise here
    try:
        reader = pypdf.PdfReader(path, strict=False)
        if reader.is_encrypted:
            return {"error": "encrypted_pdf"}
        count = len(reader.pages)
    except PdfReadError:
        return {"error": "malformed_pdf"}
    if count == 0:
        return {"error": "malformed_pdf"}
    wanted = sorted(set(range(min(head, count))) | set(range(max(0, count - tail), count)))
    lines: list[dict[str, Any]] = []
    for index in wanted:
        lines.extend(_page(reader.pages[index], index + 1))
    answer: dict[str, Any] = {"pages": count, "lines": lines}
    if glyphs and has_blanks([str(cell[2]) for row in lines if row["page"] == 1 for cell in row["cells"]]):
        try:
            answer["glyphs"] = _glyph_lines(reader.pages[0])
        except (ImportError, AttributeError, TypeError, ValueError):  # pypdf moved its internals: no blanks found
            answer["glyphs"] = []
    return answer


def _page(page: Any, number: int) -> list[dict[str, Any]]:  # pragma: no cover - runs in the bounded child
    """The page's runs of text grouped into lines (by baseline) and cells (by horizontal gaps)."""
    try:
        pieces = _runs(page)
    except (ImportError, AttributeError, TypeError):  # pypdf moved its layout internals: estimate widths instead
        pieces = _visited(page)
    pieces.sort(key=lambda p: (-p[0], p[1]))
    rows: list[list[tuple[float, float, float, float, str]]] = []
    for piece in pieces[:MAX_LINES_PER_PAGE * 20]:
        if rows and abs(rows[-1][0][0] - piece[0]) < SAME_LINE:
            rows[-1].append(piece)
        else:
            rows.append([piece])
    out = []
    for row in rows[:MAX_LINES_PER_PAGE]:
        row.sort(key=lambda p: p[1])
        cells: list[list[Any]] = []
        for _, x0, x1, size, text in row:
            gap = x0 - cells[-1][1] if cells else float("inf")
            if gap >= COLUMN_GAP * max(size, 8.0):
                cells.append([x0, x1, text])
                continue
            previous = cells[-1][2]
            # Runs of one word (kerning, justified lines) touch: no space between them unless the gap is one.
            joint = "" if gap < 0.2 * size or previous[-1:].isspace() or text[:1].isspace() else " "
            cells[-1][1], cells[-1][2] = max(cells[-1][1], x1), (previous + joint + text)[:MAX_LINE_CHARS]
        cells = [[x0, x1, " ".join(text.split())] for x0, x1, text in cells if text.strip()]
        if cells:
            out.append({"page": number, "y": row[0][0], "size": round(max(p[3] for p in row), 1), "cells": cells})
    return out


def _runs(page: Any) -> list[tuple[float, float, float, float, str]]:  # pragma: no cover - in the bounded child
    """(y, x0, x1, size, text) of each run of text, with its real advance (pypdf's layout mode measures every
    glyph with the font's widths; `text_show_operations` is its public-in-all-but-name step, pinned by
    requirements.txt). Its x are relative to the page's leftmost run, which is all the reader compares."""
    from pypdf._text_extraction import _layout_mode  # lazy, with pypdf
    from pypdf.generic import ArrayObject, ContentStream, StreamObject  # lazy, with pypdf

    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    if not isinstance(contents, (ArrayObject, StreamObject)):
        return []
    ops = iter(ContentStream(contents, page.pdf, "bytes").operations)
    groups = _layout_mode.text_show_operations(ops, page._layout_mode_fonts(), True, None)
    return [(round(g["ty"], 1), round(g["tx"], 1), round(g["displaced_tx"], 1), float(g["font_size"]), g["text"])
            for g in groups if g["text"].strip()]


def _visited(page: Any) -> list[tuple[float, float, float, float, str]]:  # pragma: no cover - in the bounded child
    """The same from pypdf's public text visitor, each run's width estimated (half an em and a bit per letter)."""
    pieces: list[tuple[float, float, float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text or not text.strip() or len(pieces) > MAX_LINES_PER_PAGE * 20:
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = (abs(tm[0] * cm[0]) or 1.0) * (size or 1.0)
        pieces.append((round(y, 1), round(x, 1), round(x + len(text) * scale * 0.55, 1), scale, text))

    page.extract_text(visitor_text=visit)
    return pieces


def _glyph_lines(page: Any) -> list[dict[str, Any]]:  # pragma: no cover - runs in the bounded child
    """Each line of the page with every character's left edge in page coordinates: the text show operations'
    own states (pypdf's layout mode, pinned), whose widths are the font's; before the layout's left alignment, so
    the positions are where a mark must be drawn. Operations on one baseline are joined left to right, a space put
    between two that do not touch."""
    from pypdf._text_extraction._layout_mode._fixed_width_page import (  # lazy, with pypdf
        recurse_to_target_op,
        set_font_operation,
    )
    from pypdf._text_extraction._layout_mode._text_state_manager import TextStateManager  # lazy, with pypdf
    from pypdf.generic import ArrayObject, ContentStream, StreamObject  # lazy, with pypdf

    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    if not isinstance(contents, (ArrayObject, StreamObject)):
        return []
    ops = iter(ContentStream(contents, page.pdf, "bytes").operations)
    fonts = page._layout_mode_fonts()
    state = TextStateManager()
    shown: list[Any] = []
    for operands, op in ops:
        if op in (b"BT", b"q"):
            shown.extend(recurse_to_target_op(ops, state, b"ET" if op == b"BT" else b"Q", fonts, True)[1])
        elif op == b"Tf":
            set_font_operation(state, fonts, operands)
        else:
            state.set_state_param(op, operands)
        if len(shown) > MAX_LINES_PER_PAGE * 20:
            break
    pieces = []
    for tj in shown:
        raw, text, matrix = tj._raw_chars, tj.text, tj.transform
        if not text.strip() or tj.rotated:
            continue
        if len(raw) == len(text):
            xs = [matrix[4] + tj.word_tx(raw[:k]) * matrix[0] for k in range(len(raw) + 1)]
        else:  # a ligature or a multi-character mapping: spread the run's advance evenly
            step = (tj.displaced_tx - tj.tx) / len(text)
            xs = [tj.tx + step * k for k in range(len(text) + 1)]
        pieces.append((round(tj.ty, 1), float(tj.font_height), text, xs))
    pieces.sort(key=lambda p: (-p[0], p[3][0]))
    rows: list[dict[str, Any]] = []
    for y, size, text, xs in pieces:
        row = rows[-1] if rows and abs(rows[-1]["y"] - y) < SAME_LINE else None
        if row is None:
            rows.append({"y": y, "size": round(size, 2), "text": text, "xs": [round(x, 2) for x in xs]})
            continue
        if xs[0] - row["xs"][-1] > 0.15 * size and not row["text"][-1:].isspace() and not text[:1].isspace():
            row["text"] += " "  # its left edge the row's end, its right edge the piece's start (xs[0], below)
        else:
            row["xs"].pop()
        row["text"] += text
        row["xs"].extend(round(x, 2) for x in xs)
        row["size"] = max(row["size"], round(size, 2))
    return [row for row in rows[:MAX_LINES_PER_PAGE] if len(row["text"]) <= MAX_LINE_CHARS]
