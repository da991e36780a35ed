"""Filling the blanks of a document at issuance (issue 12, "Numbering at issuance"): where on the first page the
văn thư's "Số:" and "ngày … tháng …" blanks stand, and what goes into them.

NĐ 30/2020/NĐ-CP Art. 15: the văn thư numbers and dates a document when it is issued, so drafts are signed by their
author with the number and the day left blank ("Số:      /TB-UBND", "Vĩnh Phúc, ngày    tháng 6 năm 2020"). The
gateway, issuing the number from the agency's register (chalicelib.domain.registers), writes both where the blanks
stand. Phụ lục I, II.4: the date's numbers are Arabic numerals, a day below 10 and the months 1 and 2 with a
leading zero ("ngày 05 tháng 02", "ngày 15 tháng 6"), so that no digit can be put in front later; the register's
number below 10 has its zero too ("Số: 05/…", Phụ lục I, II.3).

Pure: the glyph positions come from chalicelib.signing.pdf_text (`GlyphLine`: each character's left edge, exact from
the font's widths), the marks are drawn by chalicelib.signing.marks. A blank is the space between two words that
holds no digit; the mark is centred in it at the line's own size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

__all__ = ["GlyphLine", "Mark", "date_parts", "has_blanks", "marks_for", "plan_marks"]

#: "Số:      /TB-UBND": the gap between "Số:" and "/" holds no digit. "Số" with or without ":" or ".".
_NUMBER_BLANK = re.compile(r"^\s*Số\s*[:.]?(?P<gap>\s+)/")
#: "ngày    tháng 6 năm 2020": the day's gap, then the month's (either may hold digits already).
_DATE = re.compile(r"ngày(?P<day>\s*\d{0,2}\s*)tháng(?P<month>\s*\d{0,2}\s*)năm\s*\d{4}", re.IGNORECASE)
#: Times' digits are half an em wide (the standard font the marks are drawn in, chalicelib.signing.marks).
DIGIT_EM = 0.5
#: A gap narrower than this many ems cannot be a blank left for a number (a plain space is a quarter em).
MIN_GAP_EM = 0.9


@dataclass(frozen=True)
class GlyphLine:
    """One line of the first page: baseline `y` and font `size` (points), its `text`, and `xs`, the left edge of each
    character and the right edge of the last (`len(xs) == len(text) + 1`), in the page's own coordinates."""

    y: float
    size: float
    text: str
    xs: tuple[float, ...]


@dataclass(frozen=True)
class Mark:
    """Text to draw at (`x`, `y`) (left end of its baseline) in Times at `size` points; `field` says which blank."""

    field: str
    text: str
    x: float
    y: float
    size: float

    @property
    def width(self) -> float:
        return DIGIT_EM * self.size * len(self.text)


def date_parts(day: date) -> tuple[str, str]:
    """(day, month) as NĐ 30 Phụ lục I writes them: a day below 10 and the months 1 and 2 with a leading zero."""
    return f"{day.day:02d}", (f"{day.month:02d}" if day.month < 3 else str(day.month))


def _centred(line: GlyphLine, field: str, text: str, start: int, end: int) -> Mark | None:
    """The mark for the gap from character `start` to `end` (exclusive), or None when the gap is too narrow to be a
    blank (a plain space between two words)."""
    x0, x1 = line.xs[start], line.xs[end]
    if x1 - x0 < MIN_GAP_EM * line.size:
        return None
    width = DIGIT_EM * line.size * len(text)
    return Mark(field, text, round((x0 + x1 - width) / 2, 2), line.y, line.size)


def plan_marks(lines: list[GlyphLine], number: str, issued_on: date) -> list[Mark]:
    """The marks that fill the first page's blanks: the number between "Số:" and "/", the day and the month where
    they are blank. Only the first line of each kind counts (the header; a quoted "Số: …" in the body comes later).
    Empty when the page has no blank (a pre-printed number and date, or no NĐ 30 header at all)."""
    marks: list[Mark] = []
    day_text, month_text = date_parts(issued_on)
    number_done = date_done = False
    for line in lines:
        if len(line.xs) != len(line.text) + 1:
            continue
        if not number_done and (found := _NUMBER_BLANK.match(line.text)):
            number_done = True
            if number:
                mark = _centred(line, "number", number, found.start("gap"), found.end("gap"))
                marks += [mark] if mark else []
        if not date_done and (found := _DATE.search(line.text)):
            date_done = True
            for field, text in (("day", day_text), ("month", month_text)):
                if not any(ch.isdigit() for ch in found.group(field)):
                    mark = _centred(line, field, text, found.start(field), found.end(field))
                    marks += [mark] if mark else []
        if number_done and date_done:
            break
    return marks


def has_blanks(texts: list[str]) -> bool:
    """Whether some line of the page leaves the number or the day/month blank, as its text reads: only then are the
    glyph positions worth their cost (about 30 ms a page, chalicelib.signing.pdf_text.first_page); most uploads
    arrive numbered and dated."""
    for text in texts:
        if re.match(r"^\s*Số\s*[:.]?\s*/", text):
            return True
        found = _DATE.search(text)
        if found and not all(any(ch.isdigit() for ch in found.group(g)) for g in ("day", "month")):
            return True
    return False


def marks_for(lines: list[GlyphLine], number: str, issued_on: date) -> list[Mark]:
    """`plan_marks` for a number as the record holds it ("5" or "05"): written with the register's leading zero."""
    written = f"{int(number):02d}" if number.isdigit() else number
    return plan_marks(lines, written, issued_on)
